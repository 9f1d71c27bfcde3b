//! `/sources`: create, upsert by name, retrieve, list, update, delete, disable/enable.

use super::json::JsonBody;
use super::params::Params;
use super::{paginated, parse_action, Action, Auth};
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use pier_api_types::input::SourceInput;
use pier_api_types::output::{self, Deleted, SourceOut};
use pier_api_types::ApiVersion;
use pier_core::{IdKind, Source, DEFAULT_ALLOWED_METHODS};
use pier_store::{Change, Col, Cond};

/// A new source with Pier's defaults (a fresh URL key, the default methods).
pub(crate) fn blank(project_id: &str, now: i64) -> Source {
    let mut rng = rand::rng();
    Source {
        id: crate::clock::new_id(IdKind::Source, now),
        project_id: project_id.to_string(),
        name: String::new(),
        key: pier_core::id::random_token(20, &mut rng),
        description: None,
        allowed_http_methods: DEFAULT_ALLOWED_METHODS.iter().map(|m| m.to_string()).collect(),
        custom_response: None,
        verification: None,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Resolve an inline `source` object (connections, upsert): reuse the source of that name,
/// updating it with the given fields, or create it. Returns the source and whether to save it.
pub(crate) async fn resolve_by_name(
    st: &AppState,
    project_id: &str,
    input: &SourceInput,
    prefix: &str,
) -> ApiResult<(Source, bool)> {
    let name = input.name.as_deref().ok_or_else(|| ApiError::field(format!("{prefix}name"), "is required"))?;
    let now = now_ms();
    match st.store.source_by_name(project_id, name).await? {
        Some(existing) if input.is_name_only() => Ok((existing, false)),
        Some(mut existing) => {
            input.apply(prefix, &mut existing)?;
            existing.updated_at = now;
            Ok((existing, true))
        }
        None => {
            let mut s = blank(project_id, now);
            input.apply(prefix, &mut s)?;
            Ok((s, true))
        }
    }
}

pub(crate) fn out(v: ApiVersion, st: &AppState, s: &Source) -> SourceOut {
    output::source(v, s, &st.config.public_url)
}

pub async fn list(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<output::Paginated<SourceOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = Vec::new();
    params.one_of("id", Col::Id, &mut conds)?;
    params.text("name", Col::Name, &mut conds)?;
    disabled_filters(&mut params, &mut conds)?;
    let q = params.page(&[("created_at", Col::CreatedAt), ("updated_at", Col::UpdatedAt)], conds)?;
    params.finish()?;
    let page = st.store.list_sources(&p.id, &q).await?;
    Ok(paginated(&q, page, |s| out(v, &st, s)))
}

/// `disabled`/`archived` (include disabled objects; default no) and `disabled_at`/`archived_at`.
pub(crate) fn disabled_filters(params: &mut Params, conds: &mut Vec<Cond>) -> ApiResult<()> {
    let include = params.flag("disabled")?.or(params.flag("archived")?).unwrap_or(false);
    let before = conds.len();
    params.date("disabled_at", Col::DisabledAt, conds)?;
    params.date("archived_at", Col::DisabledAt, conds)?;
    if !include && conds.len() == before {
        conds.push(Cond::IsNull(Col::DisabledAt, true));
    }
    Ok(())
}

pub async fn create(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<SourceInput>,
) -> ApiResult<Json<SourceOut>> {
    let name = input.name.as_deref().ok_or_else(|| ApiError::field("name", "is required"))?;
    if st.store.source_by_name(&p.id, name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a source named '{name}' already exists; use PUT /sources to update it"
        )));
    }
    let mut s = blank(&p.id, now_ms());
    input.apply("", &mut s)?;
    st.store.apply(&p.id, vec![Change::PutSource(s.clone())]).await?;
    st.sources.clear();
    Ok(Json(out(v, &st, &s)))
}

pub async fn upsert(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<SourceInput>,
) -> ApiResult<Json<SourceOut>> {
    let (s, changed) = resolve_by_name(&st, &p.id, &input, "").await?;
    if changed {
        st.store.apply(&p.id, vec![Change::PutSource(s.clone())]).await?;
        st.sources.clear();
    }
    Ok(Json(out(v, &st, &s)))
}

pub(crate) async fn get(st: &AppState, project_id: &str, id: &str) -> ApiResult<Source> {
    st.store.source(project_id, id).await?.ok_or_else(|| ApiError::not_found("source"))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<SourceOut>> {
    // `include=verification.configs` is accepted but secrets are never returned.
    let mut params = Params::parse(query.as_deref())?;
    params.choice("include", &["verification.configs"])?;
    params.finish()?;
    Ok(Json(out(v, &st, &get(&st, &p.id, &id).await?)))
}

pub async fn update(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<SourceInput>,
) -> ApiResult<Json<SourceOut>> {
    let mut s = get(&st, &p.id, &id).await?;
    input.apply("", &mut s)?;
    s.updated_at = now_ms();
    st.store.apply(&p.id, vec![Change::PutSource(s.clone())]).await?;
    st.sources.clear();
    Ok(Json(out(v, &st, &s)))
}

pub async fn delete(State(st): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<Deleted>> {
    st.store
        .apply(&p.id, vec![Change::DeleteSource(id.clone())])
        .await
        .map_err(|e| ApiError::from_store(e, "source"))?;
    st.sources.clear();
    Ok(Json(Deleted { id }))
}

pub async fn lifecycle(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<SourceOut>> {
    let action = parse_action(&action, false)?;
    let mut s = get(&st, &p.id, &id).await?;
    let now = now_ms();
    match action {
        Action::Disable if s.disabled_at.is_none() => s.disabled_at = Some(now),
        Action::Enable => s.disabled_at = None,
        _ => {}
    }
    s.updated_at = now;
    st.store.apply(&p.id, vec![Change::PutSource(s.clone())]).await?;
    st.sources.clear();
    Ok(Json(out(v, &st, &s)))
}
