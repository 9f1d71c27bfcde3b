//! `/attempts`: delivery attempts of events, with the destination's response.

use super::params::Params;
use super::{paginated, Auth};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use pier_api_types::output::{self, AttemptOut, Paginated};
use pier_api_types::ApiVersion;
use pier_store::Col;

pub async fn list(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<AttemptOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = Vec::new();
    params.one_of("id", Col::Id, &mut conds)?;
    params.one_of("event_id", Col::EventId, &mut conds)?;
    let q = params.page(&[("created_at", Col::CreatedAt)], conds)?;
    params.finish()?;
    let page = st.store.list_attempts(&p.id, &q).await?;
    Ok(paginated(&q, page, |a| output::attempt(v, a)))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<AttemptOut>> {
    let a = st.store.attempt(&p.id, &id).await?.ok_or_else(|| ApiError::not_found("attempt"))?;
    Ok(Json(output::attempt(v, &a)))
}
