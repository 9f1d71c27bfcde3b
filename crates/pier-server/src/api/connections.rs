//! `/connections`: create (with inline source/destination created or reused by name), upsert by
//! name, retrieve, list, count, update, delete, disable/enable, pause/unpause.

use super::json::JsonBody;
use super::params::Params;
use super::sources::disabled_filters;
use super::{destinations, paginated, parse_action, sources, Action, Auth};
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use pier_api_types::input::{check_name, parse_rules, ConnectionInput, ConnectionUpdate};
use pier_api_types::output::{self, ConnectionOut, Count, Deleted};
use pier_api_types::ApiVersion;
use pier_core::rules::Rule;
use pier_core::{Connection, Destination, IdKind, Source};
use pier_store::{Change, Col, Table};
use serde_json::Value;
use std::collections::HashMap;

/// Parse and prepare rules (filters compiled, inline transformations created).
async fn rules(st: &AppState, project_id: &str, values: &[Value]) -> ApiResult<Vec<Rule>> {
    crate::rules::prepare(st, project_id, parse_rules(values)?).await
}

/// A connection with its source and destination, as the API shows it.
pub(crate) async fn expand(st: &AppState, v: ApiVersion, c: &Connection) -> ApiResult<ConnectionOut> {
    let s = sources::get(st, &c.project_id, &c.source_id).await?;
    let d = destinations::get(st, &c.project_id, &c.destination_id).await?;
    Ok(output::connection(v, c, &s, &d, &st.config.public_url))
}

pub async fn list(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<output::Paginated<ConnectionOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = Vec::new();
    params.one_of("id", Col::Id, &mut conds)?;
    params.text("name", Col::Name, &mut conds)?;
    params.one_of("source_id", Col::SourceId, &mut conds)?;
    params.one_of("destination_id", Col::DestinationId, &mut conds)?;
    params.date("paused_at", Col::PausedAt, &mut conds)?;
    disabled_filters(&mut params, &mut conds)?;
    let q = params.page(&[("created_at", Col::CreatedAt), ("updated_at", Col::UpdatedAt)], conds)?;
    params.finish()?;
    let page = st.store.list_connections(&p.id, &q).await?;
    // One lookup per distinct source and destination on the page.
    let mut srcs: HashMap<String, Source> = HashMap::new();
    let mut dsts: HashMap<String, Destination> = HashMap::new();
    let mut models = Vec::with_capacity(page.models.len());
    for c in &page.models {
        if !srcs.contains_key(&c.source_id) {
            srcs.insert(c.source_id.clone(), sources::get(&st, &p.id, &c.source_id).await?);
        }
        if !dsts.contains_key(&c.destination_id) {
            dsts.insert(c.destination_id.clone(), destinations::get(&st, &p.id, &c.destination_id).await?);
        }
        if let (Some(s), Some(d)) = (srcs.get(&c.source_id), dsts.get(&c.destination_id)) {
            models.push(output::connection(v, c, s, d, &st.config.public_url));
        }
    }
    Ok(paginated(&q, pier_store::Page { models, next: page.next, prev: page.prev }, Clone::clone))
}

pub async fn count(State(st): State<AppState>, Auth(p): Auth, RawQuery(query): RawQuery) -> ApiResult<Json<Count>> {
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = Vec::new();
    params.one_of("source_id", Col::SourceId, &mut conds)?;
    params.one_of("destination_id", Col::DestinationId, &mut conds)?;
    params.date("paused_at", Col::PausedAt, &mut conds)?;
    disabled_filters(&mut params, &mut conds)?;
    params.finish()?;
    Ok(Json(Count { count: st.store.count(&p.id, Table::Connections, &conds).await? }))
}

pub async fn create(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<ConnectionInput>,
) -> ApiResult<Json<ConnectionOut>> {
    save(&st, v, &p.id, input, false).await.map(Json)
}

pub async fn upsert(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<ConnectionInput>,
) -> ApiResult<Json<ConnectionOut>> {
    save(&st, v, &p.id, input, true).await.map(Json)
}

async fn save(
    st: &AppState,
    v: ApiVersion,
    project_id: &str,
    input: ConnectionInput,
    upsert: bool,
) -> ApiResult<ConnectionOut> {
    let name = match &input.name {
        Some(Some(n)) => n.clone(),
        _ => return Err(ApiError::field("name", "is required")),
    };
    check_name("name", &name)?;
    let mut changes = Vec::new();

    let source = match (&input.source, &input.source_id) {
        (Some(s), _) => {
            let (s, changed) = sources::resolve_by_name(st, project_id, s, "source.").await?;
            if changed {
                changes.push(Change::PutSource(s.clone()));
            }
            s
        }
        (None, Some(Some(id))) => st
            .store
            .source(project_id, id)
            .await?
            .ok_or_else(|| ApiError::field("source_id", "no source with this id"))?,
        _ => return Err(ApiError::field("source", "give a source object or a source_id")),
    };
    let existing = st.store.connection_by_name(project_id, &source.id, &name).await?;
    if existing.is_some() && !upsert {
        return Err(ApiError::conflict(format!(
            "a connection named '{name}' already exists on source '{}'; use PUT /connections to update it",
            source.name
        )));
    }

    let destination = match (&input.destination, &input.destination_id) {
        (Some(d), _) => {
            let (d, changed) = destinations::resolve_by_name(st, v, project_id, d, "destination.").await?;
            if changed {
                changes.push(Change::PutDestination(d.clone()));
            }
            d
        }
        (None, Some(Some(id))) => st
            .store
            .destination(project_id, id)
            .await?
            .ok_or_else(|| ApiError::field("destination_id", "no destination with this id"))?,
        _ => match &existing {
            Some(c) => destinations::get(st, project_id, &c.destination_id).await?,
            None => return Err(ApiError::field("destination", "give a destination object or a destination_id")),
        },
    };

    let now = now_ms();
    let mut c = existing.unwrap_or_else(|| Connection {
        id: crate::clock::new_id(IdKind::Connection, now),
        project_id: project_id.to_string(),
        name: name.clone(),
        description: None,
        source_id: source.id.clone(),
        destination_id: destination.id.clone(),
        rules: vec![],
        paused_at: None,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    });
    c.destination_id = destination.id.clone();
    if let Some(d) = input.description {
        c.description = d;
    }
    if let Some(r) = &input.rules {
        c.rules = rules(st, project_id, r.as_deref().unwrap_or_default()).await?;
    }
    c.updated_at = now;
    changes.push(Change::PutConnection(c.clone()));
    st.store.apply(project_id, changes).await?;
    st.sources.clear();
    Ok(output::connection(v, &c, &source, &destination, &st.config.public_url))
}

async fn get(st: &AppState, project_id: &str, id: &str) -> ApiResult<Connection> {
    st.store.connection(project_id, id).await?.ok_or_else(|| ApiError::not_found("connection"))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionOut>> {
    let c = get(&st, &p.id, &id).await?;
    expand(&st, v, &c).await.map(Json)
}

pub async fn update(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ConnectionUpdate>,
) -> ApiResult<Json<ConnectionOut>> {
    let mut c = get(&st, &p.id, &id).await?;
    if let Some(name) = input.name {
        let name = name.ok_or_else(|| ApiError::field("name", "cannot be null"))?;
        check_name("name", &name)?;
        c.name = name;
    }
    if let Some(d) = input.description {
        c.description = d;
    }
    if let Some(r) = &input.rules {
        c.rules = rules(&st, &p.id, r.as_deref().unwrap_or_default()).await?;
    }
    c.updated_at = now_ms();
    st.store.apply(&p.id, vec![Change::PutConnection(c.clone())]).await?;
    st.sources.clear();
    expand(&st, v, &c).await.map(Json)
}

pub async fn delete(State(st): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<Deleted>> {
    st.store
        .apply(&p.id, vec![Change::DeleteConnection(id.clone())])
        .await
        .map_err(|e| ApiError::from_store(e, "connection"))?;
    st.sources.clear();
    Ok(Json(Deleted { id }))
}

pub async fn lifecycle(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<ConnectionOut>> {
    let action = parse_action(&action, true)?;
    let mut c = get(&st, &p.id, &id).await?;
    let now = now_ms();
    match action {
        Action::Disable if c.disabled_at.is_none() => c.disabled_at = Some(now),
        Action::Enable => c.disabled_at = None,
        Action::Pause if c.paused_at.is_none() => c.paused_at = Some(now),
        Action::Unpause => c.paused_at = None,
        _ => {}
    }
    c.updated_at = now;
    st.store.apply(&p.id, vec![Change::PutConnection(c.clone())]).await?;
    st.sources.clear();
    match action {
        // Pending events wait while paused; unpausing delivers them (trigger UNPAUSE).
        Action::Pause => {
            st.store.hold_events(&p.id, &c.id, now).await?;
        }
        Action::Unpause => {
            for dest in st.store.release_held_events(&p.id, &c.id, now).await? {
                st.delivery.notify(&p.id, &dest, now);
            }
        }
        Action::Disable | Action::Enable => {}
    }
    expand(&st, v, &c).await.map(Json)
}
