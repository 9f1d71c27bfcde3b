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
use pier_core::filter::RuleFilter;
use pier_core::Request;
use pier_store::{Col, Cond, ListQuery, Page, Table, Val};

pub(crate) async fn get(st: &AppState, project_id: &str, id: &str) -> ApiResult<Request> {
    st.store.request(project_id, id).await?.ok_or_else(|| ApiError::not_found("request"))
}

/// `include=data`: whether to inline request data in list answers.
pub(crate) fn include_data(params: &mut Params) -> ApiResult<bool> {
    Ok(params.choice("include", &["data"])?.is_some())
}

/// The filters of `/requests` and of request bulk retries.
pub(crate) struct RequestQuery {
    pub q: ListQuery,
    /// `include=data`.
    pub with_data: bool,
    /// JSON search on the request's data.
    pub json: Option<RuleFilter>,
}

/// Parse the filters of a request list.
pub(crate) fn request_filters(params: &mut Params) -> ApiResult<RequestQuery> {
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
    let with_data = include_data(params)?;
    let q = params.page(&[("created_at", Col::CreatedAt), ("ingested_at", Col::IngestedAt)], conds)?;
    Ok(RequestQuery { q, with_data, json })
}

impl RequestQuery {
    /// One page of requests, with bodies (scanning when there is a JSON search).
    pub(crate) async fn page(&self, st: &AppState, project_id: &str, bodies: bool) -> ApiResult<Page<Request>> {
        let Some(f) = &self.json else {
            return Ok(st.store.list_requests(project_id, &self.q, bodies).await?);
        };
        let mut scan = search::Scan::new(&self.q);
        let mut page = loop {
            let Some(sq) = scan.query() else { break scan.finish() };
            let got = st.store.list_requests(project_id, sq, true).await?;
            let keep = got.models.iter().map(|r| search::request_matches(f, r)).collect();
            if let Some(page) = scan.feed(got, keep) {
                break page;
            }
        };
        if !bodies {
            for r in &mut page.models {
                r.body = None;
            }
        }
        Ok(page)
    }

    /// How many requests match (the JSON search checked one by one up to
    /// [`super::events::COUNT_SCAN_LIMIT`] rows; beyond that the count of the other filters).
    pub(crate) async fn count(&self, st: &AppState, project_id: &str) -> ApiResult<i64> {
        let all = st.store.count(project_id, Table::Requests, &self.q.conds).await?;
        let Some(f) = &self.json else { return Ok(all) };
        if all > super::events::COUNT_SCAN_LIMIT {
            return Ok(all);
        }
        let mut q = ListQuery { conds: self.q.conds.clone(), limit: 255, ..ListQuery::default() };
        let mut n = 0;
        loop {
            let page = st.store.list_requests(project_id, &q, true).await?;
            n += page.models.iter().filter(|r| search::request_matches(f, r)).count() as i64;
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => return Ok(n),
            }
        }
    }
}

pub async fn list(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<RequestOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let rq = request_filters(&mut params)?;
    params.finish()?;
    let page = rq.page(&st, &p.id, rq.with_data).await?;
    Ok(paginated(&rq.q, page, |r| output::request(v, r, rq.with_data)))
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
    crate::routing::reroute(&st, &request, &chosen).await?;
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
