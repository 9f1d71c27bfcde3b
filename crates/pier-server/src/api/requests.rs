//! `/requests`: inbound requests as received, their raw bodies, events and ignored events.

use super::events::{event_filters, render_events};
use super::params::Params;
use super::search;
use super::{paginated, Auth};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use pier_api_types::output::{self, EventOut, IgnoredEventOut, Paginated, RawBody, RequestOut};
use pier_api_types::ApiVersion;
use pier_core::Request;
use pier_store::{Col, Cond, Val};

pub(crate) async fn get(st: &AppState, project_id: &str, id: &str) -> ApiResult<Request> {
    st.store.request(project_id, id).await?.ok_or_else(|| ApiError::not_found("request"))
}

/// `include=data`: whether to inline request data in list answers.
pub(crate) fn include_data(params: &mut Params) -> ApiResult<bool> {
    Ok(params.choice("include", &["data"])?.is_some())
}

pub async fn list(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<RequestOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = Vec::new();
    params.one_of("id", Col::Id, &mut conds)?;
    params.one_of("source_id", Col::SourceId, &mut conds)?;
    if let Some(status) = params.choice("status", &["accepted", "rejected"])? {
        conds.push(Cond::IsNull(Col::RejectionCause, status == "accepted"));
    }
    params.one_of_checked("rejection_cause", Col::RejectionCause, &mut conds, |s| {
        output::parse_rejection_cause(s)
            .map(|c| c.as_str().to_string())
            .ok_or_else(|| format!("'{s}' is not a rejection cause"))
    })?;
    if let Some(verified) = params.flag("verified")? {
        conds.push(Cond::Eq(Col::Verified, Val::Bool(verified)));
    }
    params.int("events_count", Col::EventsCount, &mut conds)?;
    params.int("ignored_count", Col::IgnoredCount, &mut conds)?;
    params.date("ingested_at", Col::IngestedAt, &mut conds)?;
    params.date("created_at", Col::CreatedAt, &mut conds)?;
    params.search(&mut conds)?;
    let json = params.json_search()?;
    let with_data = include_data(&mut params)?;
    let q = params.page(&[("created_at", Col::CreatedAt), ("ingested_at", Col::IngestedAt)], conds)?;
    params.finish()?;
    let page = match &json {
        None => st.store.list_requests(&p.id, &q, with_data).await?,
        Some(f) => {
            let mut scan = search::Scan::new(&q);
            let mut page = loop {
                let Some(sq) = scan.query() else { break scan.finish() };
                let got = st.store.list_requests(&p.id, sq, true).await?;
                let keep = got.models.iter().map(|r| search::request_matches(f, r)).collect();
                if let Some(page) = scan.feed(got, keep) {
                    break page;
                }
            };
            if !with_data {
                for r in &mut page.models {
                    r.body = None;
                }
            }
            page
        }
    };
    Ok(paginated(&q, page, |r| output::request(v, r, with_data)))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestOut>> {
    Ok(Json(output::request(v, &get(&st, &p.id, &id).await?, true)))
}

pub async fn raw_body(State(st): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<RawBody>> {
    let r = get(&st, &p.id, &id).await?;
    Ok(Json(RawBody { body: String::from_utf8_lossy(r.body.as_deref().unwrap_or_default()).into_owned() }))
}

pub async fn events(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<EventOut>>> {
    let request = get(&st, &p.id, &id).await?;
    let mut params = Params::parse(query.as_deref())?;
    let mut eq = event_filters(&mut params)?;
    params.finish()?;
    eq.q.conds.push(Cond::Eq(Col::RequestId, Val::Text(request.id.clone())));
    let page = eq.page(&st, &p.id).await?;
    render_events(&st, v, &p.id, &eq.q, page, eq.with_data).await
}

pub async fn ignored_events(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<IgnoredEventOut>>> {
    let request = get(&st, &p.id, &id).await?;
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = vec![Cond::Eq(Col::RequestId, Val::Text(request.id))];
    params.one_of("id", Col::Id, &mut conds)?;
    let q = params.page(&[("created_at", Col::CreatedAt)], conds)?;
    params.finish()?;
    let page = st.store.list_ignored_events(&p.id, &q).await?;
    Ok(paginated(&q, page, |i| output::ignored_event(v, i)))
}

/// `POST /requests/{id}/retry {webhook_ids}`: route the request again through those
/// connections (replacing their ignored events); answers with the request and its new events.
pub async fn retry(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
    super::json::JsonBody(input): super::json::JsonBody<pier_api_types::input::RequestRetry>,
) -> ApiResult<Json<output::RetriedRequest>> {
    let request = get(&st, &p.id, &id).await?;
    if request.rejection_cause.is_some_and(|c| c != pier_core::RejectionCause::NoConnection) {
        return Err(ApiError::unprocessable("a rejected request cannot be retried"));
    }
    let all = crate::routing::connections_for_routing(&st, &request.source_id).await?;
    let mut chosen = Vec::new();
    for (i, wid) in input.webhook_ids.iter().enumerate() {
        match all.iter().find(|c| &c.id == wid) {
            Some(c) => chosen.push(c.clone()),
            None => {
                return Err(ApiError::field(format!("webhook_ids[{i}]"), "not a connection of this request's source"))
            }
        }
    }
    if chosen.is_empty() {
        return Err(ApiError::field("webhook_ids", "name at least one connection"));
    }
    let mut compiled = std::collections::HashMap::new();
    crate::routing::compile_into(&st, &chosen, &mut compiled).await?;
    let mut routing = crate::routing::plan(&st, &request, &chosen, &compiled, crate::clock::now_ms()).await?;
    routing.replace_ignored = chosen.iter().map(|c| c.id.clone()).collect();
    let due = crate::routing::due_events(&routing);
    st.store.complete_routing(routing).await?;
    for (project, dest, at) in due {
        st.delivery.notify(&project, &dest, at);
    }
    let request = get(&st, &p.id, &id).await?;
    let q = pier_store::ListQuery::default().with(Cond::Eq(Col::RequestId, Val::Text(request.id.clone())));
    let events = st.store.list_events(&p.id, &q).await?;
    let events = events
        .models
        .iter()
        .filter(|e| chosen.iter().any(|c| c.id == e.connection_id))
        .map(|e| output::event(v, e, None))
        .collect();
    Ok(Json(output::RetriedRequest { request: output::request(v, &request, false), events }))
}
