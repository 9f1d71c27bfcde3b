//! `/destinations`: create, upsert by name, retrieve, list, update, delete, disable/enable.

use super::json::JsonBody;
use super::params::Params;
use super::sources::disabled_filters;
use super::{paginated, parse_action, Action, Auth};
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use pier_api_types::input::DestinationInput;
use pier_api_types::output::{self, Deleted, DestinationOut};
use pier_api_types::ApiVersion;
use pier_core::{AuthMethod, Destination, IdKind, RateLimitPeriod};
use pier_store::{Change, Col};

pub(crate) fn blank(project_id: &str, now: i64) -> Destination {
    Destination {
        id: crate::clock::new_id(IdKind::Destination, now),
        project_id: project_id.to_string(),
        name: String::new(),
        description: None,
        url: None,
        cli_path: None,
        path_forwarding_disabled: false,
        http_method: None,
        rate_limit: None,
        rate_limit_period: RateLimitPeriod::Second,
        auth_method: AuthMethod::default(),
        disabled_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Resolve an inline `destination` object: reuse (and update) the one of that name, or create.
pub(crate) async fn resolve_by_name(
    st: &AppState,
    v: ApiVersion,
    project_id: &str,
    input: &DestinationInput,
    prefix: &str,
) -> ApiResult<(Destination, bool)> {
    let name = input.name.as_deref().ok_or_else(|| ApiError::field(format!("{prefix}name"), "is required"))?;
    let now = now_ms();
    let (d, changed) = match st.store.destination_by_name(project_id, name).await? {
        Some(existing) if input.is_name_only() => (existing, false),
        Some(mut existing) => {
            input.apply(v, prefix, &mut existing)?;
            existing.updated_at = now;
            (existing, true)
        }
        None => {
            let mut d = blank(project_id, now);
            input.apply(v, prefix, &mut d)?;
            (d, true)
        }
    };
    DestinationInput::check_complete(prefix, &d)?;
    Ok((d, changed))
}

pub async fn list(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<output::Paginated<DestinationOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = Vec::new();
    params.one_of("id", Col::Id, &mut conds)?;
    params.text("name", Col::Name, &mut conds)?;
    params.one_of("url", Col::Url, &mut conds)?;
    params.text("cli_path", Col::CliPath, &mut conds)?;
    disabled_filters(&mut params, &mut conds)?;
    let q = params.page(&[("created_at", Col::CreatedAt), ("updated_at", Col::UpdatedAt)], conds)?;
    params.finish()?;
    let page = st.store.list_destinations(&p.id, &q).await?;
    Ok(paginated(&q, page, |d| output::destination(v, d)))
}

pub async fn create(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<DestinationInput>,
) -> ApiResult<Json<DestinationOut>> {
    let name = input.name.as_deref().ok_or_else(|| ApiError::field("name", "is required"))?;
    if st.store.destination_by_name(&p.id, name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a destination named '{name}' already exists; use PUT /destinations to update it"
        )));
    }
    let mut d = blank(&p.id, now_ms());
    input.apply(v, "", &mut d)?;
    DestinationInput::check_complete("", &d)?;
    st.store.apply(&p.id, vec![Change::PutDestination(d.clone())]).await?;
    st.sources.clear();
    Ok(Json(output::destination(v, &d)))
}

pub async fn upsert(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<DestinationInput>,
) -> ApiResult<Json<DestinationOut>> {
    let (d, changed) = resolve_by_name(&st, v, &p.id, &input, "").await?;
    if changed {
        st.store.apply(&p.id, vec![Change::PutDestination(d.clone())]).await?;
        st.sources.clear();
    }
    Ok(Json(output::destination(v, &d)))
}

pub(crate) async fn get(st: &AppState, project_id: &str, id: &str) -> ApiResult<Destination> {
    st.store.destination(project_id, id).await?.ok_or_else(|| ApiError::not_found("destination"))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<DestinationOut>> {
    Ok(Json(output::destination(v, &get(&st, &p.id, &id).await?)))
}

pub async fn update(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<DestinationInput>,
) -> ApiResult<Json<DestinationOut>> {
    let mut d = get(&st, &p.id, &id).await?;
    input.apply(v, "", &mut d)?;
    DestinationInput::check_complete("", &d)?;
    d.updated_at = now_ms();
    st.store.apply(&p.id, vec![Change::PutDestination(d.clone())]).await?;
    st.sources.clear();
    Ok(Json(output::destination(v, &d)))
}

pub async fn delete(State(st): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<Deleted>> {
    st.store
        .apply(&p.id, vec![Change::DeleteDestination(id.clone())])
        .await
        .map_err(|e| ApiError::from_store(e, "destination"))?;
    st.sources.clear();
    Ok(Json(Deleted { id }))
}

pub async fn lifecycle(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<DestinationOut>> {
    let action = parse_action(&action, false)?;
    let mut d = get(&st, &p.id, &id).await?;
    let now = now_ms();
    match action {
        Action::Disable if d.disabled_at.is_none() => d.disabled_at = Some(now),
        Action::Enable => d.disabled_at = None,
        _ => {}
    }
    d.updated_at = now;
    st.store.apply(&p.id, vec![Change::PutDestination(d.clone())]).await?;
    st.sources.clear();
    Ok(Json(output::destination(v, &d)))
}
