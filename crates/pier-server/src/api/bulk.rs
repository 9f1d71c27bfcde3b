//! `/bulk/events/retry`, `/bulk/requests/retry`, `/bulk/ignored-events/retry`: retry everything
//! matching a query ("retry all matching"). A plan estimates the work first; the operation then
//! runs in batches on this node (see [`crate::bulk`]), with its progress readable and
//! cancellable.

use super::events::event_filters;
use super::json::JsonBody;
use super::params::Params;
use super::{paginated, Auth};
use crate::clock::{new_id, now_ms};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use pier_api_types::input::BulkRetry;
use pier_api_types::output::{self, BatchOperationOut, BatchPlan, Paginated};
use pier_core::{BatchKind, BatchOperation, IdKind};
use pier_store::{Col, Cond, ListQuery, Table, Val};
use serde_json::{Map, Value};

/// The `query` of a plan in a query string: `query={"status":"FAILED"}` (JSON) or in bracket
/// notation, `query[status]=FAILED&query[response_status][gte]=500&query[webhook_id][]=web_1`.
fn query_from_string(raw: Option<&str>) -> ApiResult<Map<String, Value>> {
    let mut out = Map::new();
    for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let decode = |s: &str| {
            urlencoding::decode(&s.replace('+', " "))
                .map(|c| c.into_owned())
                .map_err(|_| ApiError::bad_request("the query string is not valid UTF-8"))
        };
        let (key, value) = (decode(k)?, decode(v)?);
        if key == "query" {
            match serde_json::from_str::<Value>(&value) {
                Ok(Value::Object(m)) => out.extend(m),
                _ => return Err(ApiError::field("query", "must be a JSON object")),
            }
            continue;
        }
        let Some(rest) = key.strip_prefix("query[") else {
            return Err(ApiError::bad_request(format!("unsupported query parameter(s): {key}")));
        };
        let path: Vec<&str> = rest.trim_end_matches(']').split("][").collect();
        match path.as_slice() {
            [name] => {
                out.insert(name.to_string(), Value::String(value));
            }
            [name, ""] => {
                let e = out.entry(name.to_string()).or_insert_with(|| Value::Array(Vec::new()));
                match e {
                    Value::Array(a) => a.push(Value::String(value)),
                    _ => return Err(ApiError::field(format!("query.{name}"), "mixes a list and a value")),
                }
            }
            [name, op] => {
                let e = out.entry(name.to_string()).or_insert_with(|| Value::Object(Map::new()));
                match e {
                    Value::Object(m) => {
                        m.insert(op.to_string(), Value::String(value));
                    }
                    _ => return Err(ApiError::field(format!("query.{name}"), "mixes operators and a value")),
                }
            }
            _ => return Err(ApiError::bad_request(format!("malformed query parameter '{key}'"))),
        }
    }
    Ok(out)
}

/// A bulk operation's query, parsed: the filters of the list it works on.
pub(crate) enum BulkQuery {
    Events(super::events::EventQuery),
    Requests(super::requests::RequestQuery),
    IgnoredEvents(ListQuery),
}

impl BulkQuery {
    /// Parse and check `query` for `kind`; unknown filters are refused.
    pub(crate) fn parse(kind: BatchKind, query: &Map<String, Value>) -> ApiResult<BulkQuery> {
        let mut params = Params::from_json(query)?;
        let parsed = match kind {
            BatchKind::EventsRetry => BulkQuery::Events(event_filters(&mut params)?),
            BatchKind::RequestsRetry => BulkQuery::Requests(super::requests::request_filters(&mut params)?),
            BatchKind::IgnoredEventsRetry => {
                let mut conds = Vec::new();
                params.one_of("cause", Col::Cause, &mut conds)?;
                params.one_of("webhook_id", Col::ConnectionId, &mut conds)?;
                BulkQuery::IgnoredEvents(params.page(&[("created_at", Col::CreatedAt)], conds)?)
            }
        };
        params.finish().map_err(|e| ApiError::field("query", e.message))?;
        if parsed.list().cursor.is_some() {
            return Err(ApiError::field("query", "takes no cursor"));
        }
        Ok(parsed)
    }

    pub(crate) fn list(&self) -> &ListQuery {
        match self {
            BulkQuery::Events(e) => &e.q,
            BulkQuery::Requests(r) => &r.q,
            BulkQuery::IgnoredEvents(q) => q,
        }
    }

    pub(crate) fn list_mut(&mut self) -> &mut ListQuery {
        match self {
            BulkQuery::Events(e) => &mut e.q,
            BulkQuery::Requests(r) => &mut r.q,
            BulkQuery::IgnoredEvents(q) => q,
        }
    }

    /// How many objects it matches now.
    pub(crate) async fn count(&self, st: &AppState, project_id: &str) -> ApiResult<i64> {
        match self {
            BulkQuery::Events(e) => e.count(st, project_id).await,
            BulkQuery::Requests(r) => r.count(st, project_id).await,
            BulkQuery::IgnoredEvents(q) => Ok(st.store.count(project_id, Table::IgnoredEvents, &q.conds).await?),
        }
    }
}

pub async fn plan(
    kind: BatchKind,
    State(st): State<AppState>,
    Auth(p): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<BatchPlan>> {
    let query = query_from_string(raw.as_deref())?;
    let count = BulkQuery::parse(kind, &query)?.count(&st, &p.id).await?;
    Ok(Json(BatchPlan { estimated_batch: BatchOperation::batches_for(count), estimated_count: count, progress: 0.0 }))
}

pub async fn create(
    kind: BatchKind,
    State(st): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<BulkRetry>,
) -> ApiResult<Json<BatchOperationOut>> {
    let query = input.query.unwrap_or_default();
    let count = BulkQuery::parse(kind, &query)?.count(&st, &p.id).await?;
    let now = now_ms();
    let op = BatchOperation {
        id: new_id(IdKind::BatchOperation, now),
        project_id: p.id.clone(),
        kind,
        query: Value::Object(query).to_string(),
        cursor: None,
        estimated_count: count,
        processed_batch: 0,
        completed_count: 0,
        failed_count: 0,
        cancelled_at: None,
        completed_at: None,
        created_at: now,
        updated_at: now,
    };
    st.store.put_batch(&op).await?;
    crate::bulk::spawn(st.clone(), op.clone());
    Ok(Json(output::batch_operation(&op)))
}

pub async fn list(
    kind: BatchKind,
    State(st): State<AppState>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<BatchOperationOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = vec![Cond::Eq(Col::Kind, Val::Text(kind.as_str().into()))];
    params.one_of("id", Col::Id, &mut conds)?;
    params.date("created_at", Col::CreatedAt, &mut conds)?;
    params.date("cancelled_at", Col::CancelledAt, &mut conds)?;
    params.date("completed_at", Col::CompletedAt, &mut conds)?;
    if let Some(in_progress) = params.flag("in_progress")? {
        if in_progress {
            conds.push(Cond::IsNull(Col::CancelledAt, true));
            conds.push(Cond::IsNull(Col::CompletedAt, true));
        } else {
            // Finished: completed (a cancelled operation that then stopped is completed too).
            conds.push(Cond::IsNull(Col::CompletedAt, false));
        }
    }
    let q = params.page(&[("created_at", Col::CreatedAt), ("updated_at", Col::UpdatedAt)], conds)?;
    params.finish()?;
    let page = st.store.list_batches(&p.id, &q).await?;
    Ok(paginated(&q, page, output::batch_operation))
}

/// The operation, if it exists in the project and is of this kind.
async fn get(st: &AppState, kind: BatchKind, project_id: &str, id: &str) -> ApiResult<BatchOperation> {
    match st.store.batch(project_id, id).await? {
        Some(op) if op.kind == kind => Ok(op),
        _ => Err(ApiError::not_found("bulk retry")),
    }
}

pub async fn retrieve(
    kind: BatchKind,
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<BatchOperationOut>> {
    Ok(Json(output::batch_operation(&get(&st, kind, &p.id, &id).await?)))
}

/// Stop an operation between two batches; what was retried stays retried.
pub async fn cancel(
    kind: BatchKind,
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<BatchOperationOut>> {
    let mut op = get(&st, kind, &p.id, &id).await?;
    if op.in_progress() {
        let now = now_ms();
        op.cancelled_at = Some(now);
        op.updated_at = now;
        st.store.put_batch(&op).await?;
    }
    Ok(Json(output::batch_operation(&op)))
}
