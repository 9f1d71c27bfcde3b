//! `/transformations`: JavaScript code with env variables used by transform rules; a test
//! run against a sample request; executions with their console logs.

use super::json::JsonBody;
use super::params::Params;
use super::{paginated, Auth};
use crate::clock::{new_id, now_ms};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use pier_api_types::input::{TransformationInput, TransformationRun};
use pier_api_types::output::{self, Deleted, ExecutionOut, Paginated, TransformationOut};
use pier_core::{IdKind, Transformation};
use pier_store::{Col, Cond, Val};
use pier_transform::TransformInput;
use serde_json::{json, Map, Value};

async fn get(st: &AppState, project_id: &str, id: &str) -> ApiResult<Transformation> {
    st.store.transformation(project_id, id).await?.ok_or_else(|| ApiError::not_found("transformation"))
}

fn blank(project_id: &str) -> Transformation {
    let now = now_ms();
    Transformation {
        id: new_id(IdKind::Transformation, now),
        project_id: project_id.to_string(),
        name: String::new(),
        code: String::new(),
        env: Map::new(),
        created_at: now,
        updated_at: now,
    }
}

fn complete(t: &Transformation) -> ApiResult<()> {
    if t.name.is_empty() {
        return Err(ApiError::field("name", "is required"));
    }
    if t.code.trim().is_empty() {
        return Err(ApiError::field("code", "is required"));
    }
    Ok(())
}

pub async fn list(
    State(st): State<AppState>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<TransformationOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = Vec::new();
    params.one_of("id", Col::Id, &mut conds)?;
    params.text("name", Col::Name, &mut conds)?;
    let q = params.page(&[("created_at", Col::CreatedAt), ("updated_at", Col::UpdatedAt)], conds)?;
    params.finish()?;
    let page = st.store.list_transformations(&p.id, &q).await?;
    Ok(paginated(&q, page, output::transformation))
}

pub async fn create(
    State(st): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<TransformationInput>,
) -> ApiResult<Json<TransformationOut>> {
    let name = input.name.as_deref().ok_or_else(|| ApiError::field("name", "is required"))?;
    if st.store.transformation_by_name(&p.id, name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "a transformation named '{name}' already exists; use PUT to update it"
        )));
    }
    let mut t = blank(&p.id);
    input.apply(&mut t)?;
    complete(&t)?;
    st.store.put_transformation(&t).await?;
    Ok(Json(output::transformation(&t)))
}

pub async fn upsert(
    State(st): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<TransformationInput>,
) -> ApiResult<Json<TransformationOut>> {
    let name = input.name.as_deref().ok_or_else(|| ApiError::field("name", "is required"))?;
    let mut t = st.store.transformation_by_name(&p.id, name).await?.unwrap_or_else(|| blank(&p.id));
    input.apply(&mut t)?;
    complete(&t)?;
    t.updated_at = now_ms();
    st.store.put_transformation(&t).await?;
    Ok(Json(output::transformation(&t)))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TransformationOut>> {
    Ok(Json(output::transformation(&get(&st, &p.id, &id).await?)))
}

pub async fn update(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<TransformationInput>,
) -> ApiResult<Json<TransformationOut>> {
    let mut t = get(&st, &p.id, &id).await?;
    input.apply(&mut t)?;
    complete(&t)?;
    t.updated_at = now_ms();
    st.store.put_transformation(&t).await?;
    Ok(Json(output::transformation(&t)))
}

pub async fn delete(State(st): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<Deleted>> {
    st.store.delete_transformation(&p.id, &id).await.map_err(|e| ApiError::from_store(e, "transformation"))?;
    Ok(Json(Deleted { id }))
}

/// `PUT /transformations/run`: run code (given, or a stored transformation's) on a sample request.
pub async fn run(
    State(st): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<TransformationRun>,
) -> ApiResult<Json<Value>> {
    let stored = match &input.transformation_id {
        Some(id) => Some(get(&st, &p.id, id).await?),
        None => None,
    };
    let code = input
        .code
        .clone()
        .or_else(|| stored.as_ref().map(|t| t.code.clone()))
        .ok_or_else(|| ApiError::field("code", "give code or a transformation_id"))?;
    let env = input.env.clone().or_else(|| stored.as_ref().map(|t| t.env.clone())).unwrap_or_default();
    let req = input.request.clone().unwrap_or_default();
    let query = req.query.clone().unwrap_or_default();
    let sample = TransformInput {
        headers: req.headers.clone(),
        body: req.body.clone(),
        parsed_query: req.parsed_query.clone().unwrap_or_else(|| output::parse_query(&query)),
        query,
        path: req.path.clone().unwrap_or_else(|| "/".into()),
    };
    let result = crate::rules::test_run(&st, &code, &env, sample).await;
    let body = match result {
        Ok(out) => json!({
            "request_id": Value::Null,
            "transformation_id": input.transformation_id,
            "execution_id": Value::Null,
            "log_level": "info",
            "request": out.request,
            "console": out.logs.iter().map(|l| json!({"type": l.level, "message": l.message})).collect::<Vec<_>>(),
        }),
        Err(e) => {
            let mut console: Vec<Value> =
                e.logs().iter().map(|l| json!({"type": l.level, "message": l.message})).collect();
            console.push(json!({"type": "error", "message": e.to_string()}));
            json!({
                "request_id": Value::Null,
                "transformation_id": input.transformation_id,
                "execution_id": Value::Null,
                "log_level": "error",
                "request": Value::Null,
                "console": console,
            })
        }
    };
    Ok(Json(body))
}

pub async fn executions(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<ExecutionOut>>> {
    let t = get(&st, &p.id, &id).await?;
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = vec![Cond::Eq(Col::TransformationId, Val::Text(t.id))];
    params.one_of("log_level", Col::LogLevel, &mut conds)?;
    params.one_of("webhook_id", Col::ConnectionId, &mut conds)?;
    params.date("created_at", Col::CreatedAt, &mut conds)?;
    let q = params.page(&[("created_at", Col::CreatedAt)], conds)?;
    params.finish()?;
    let page = st.store.list_executions(&p.id, &q).await?;
    Ok(paginated(&q, page, output::execution))
}

pub async fn execution(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path((id, execution_id)): Path<(String, String)>,
) -> ApiResult<Json<ExecutionOut>> {
    let e = st.store.execution(&p.id, &execution_id).await?.filter(|e| e.transformation_id == id);
    Ok(Json(output::execution(&e.ok_or_else(|| ApiError::not_found("execution"))?)))
}
