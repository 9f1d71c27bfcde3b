//! `/events`: one request routed through one connection, with filters on delivery state.

use super::params::Params;
use super::requests::include_data;
use super::search;
use super::{paginated, Auth};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use pier_api_types::output::{self, EventOut, Paginated, RawBody};
use pier_api_types::ApiVersion;
use pier_core::filter::RuleFilter;
use pier_core::{Event, EventStatus, Request};
use pier_store::{Col, ListQuery, Page, Table};
use std::collections::HashMap;

/// The filters of `/events`, `/requests/{id}/events` and bulk retries.
pub(crate) struct EventQuery {
    pub q: ListQuery,
    /// `include=data`.
    pub with_data: bool,
    /// JSON search on the request's data.
    pub json: Option<RuleFilter>,
}

impl EventQuery {
    /// One page of events (scanning when there is a JSON search).
    pub(crate) async fn page(&self, st: &AppState, project_id: &str) -> ApiResult<Page<Event>> {
        let Some(f) = &self.json else {
            return Ok(st.store.list_events(project_id, &self.q).await?);
        };
        let mut scan = search::Scan::new(&self.q);
        let mut seen: HashMap<String, bool> = HashMap::new();
        loop {
            let Some(sq) = scan.query() else { return Ok(scan.finish()) };
            let got = st.store.list_events(project_id, sq).await?;
            let keep = matching(st, project_id, f, &got.models, &mut seen).await?;
            if let Some(page) = scan.feed(got, keep) {
                return Ok(page);
            }
        }
    }

    /// How many events match (every filter, the JSON search included). With a JSON search the
    /// events are read and checked, up to [`COUNT_SCAN_LIMIT`]; beyond that the count of the
    /// other filters is given (an upper bound).
    pub(crate) async fn count(&self, st: &AppState, project_id: &str) -> ApiResult<i64> {
        let all = st.store.count(project_id, Table::Events, &self.q.conds).await?;
        let Some(f) = &self.json else { return Ok(all) };
        if all > COUNT_SCAN_LIMIT {
            return Ok(all);
        }
        let mut q = ListQuery { conds: self.q.conds.clone(), limit: 255, ..ListQuery::default() };
        let mut seen: HashMap<String, bool> = HashMap::new();
        let mut n = 0;
        loop {
            let page = st.store.list_events(project_id, &q).await?;
            n += matching(st, project_id, f, &page.models, &mut seen).await?.into_iter().filter(|m| *m).count() as i64;
            match page.next {
                Some(c) => q.cursor = Some(c),
                None => return Ok(n),
            }
        }
    }
}

/// Events counted one by one (for a JSON search) up to this many.
pub(crate) const COUNT_SCAN_LIMIT: i64 = 100_000;

/// Whether each event's request matches the JSON search (`seen` caches per request).
async fn matching(
    st: &AppState,
    project_id: &str,
    f: &RuleFilter,
    events: &[Event],
    seen: &mut HashMap<String, bool>,
) -> ApiResult<Vec<bool>> {
    let mut keep = Vec::with_capacity(events.len());
    for e in events {
        let ok = match seen.get(&e.request_id) {
            Some(ok) => *ok,
            None => {
                let r = st.store.request(project_id, &e.request_id).await?;
                let ok = r.is_some_and(|r| search::request_matches(f, &r));
                seen.insert(e.request_id.clone(), ok);
                ok
            }
        };
        keep.push(ok);
    }
    Ok(keep)
}

/// Parse the filters of an event list.
pub(crate) fn event_filters(params: &mut Params) -> ApiResult<EventQuery> {
    let mut conds = Vec::new();
    params.one_of("id", Col::Id, &mut conds)?;
    params.one_of_checked("status", Col::Status, &mut conds, |s| {
        EventStatus::parse(s).map(|e| e.as_str().to_string()).ok_or_else(|| format!("'{s}' is not an event status"))
    })?;
    params.one_of("webhook_id", Col::ConnectionId, &mut conds)?;
    params.one_of("source_id", Col::SourceId, &mut conds)?;
    params.one_of("destination_id", Col::DestinationId, &mut conds)?;
    params.one_of("request_id", Col::RequestId, &mut conds)?;
    params.one_of("event_data_id", Col::RequestId, &mut conds)?;
    params.int("attempts", Col::Attempts, &mut conds)?;
    params.int("response_status", Col::ResponseStatus, &mut conds)?;
    params.one_of("error_code", Col::ErrorCode, &mut conds)?;
    params.text("cli_id", Col::CliId, &mut conds)?;
    params.date("successful_at", Col::SuccessfulAt, &mut conds)?;
    params.date("last_attempt_at", Col::LastAttemptAt, &mut conds)?;
    params.date("next_attempt_at", Col::NextAttemptAt, &mut conds)?;
    params.date("created_at", Col::CreatedAt, &mut conds)?;
    params.search(&mut conds)?;
    let json = params.json_search()?;
    let with_data = include_data(params)?;
    let q = params.page(
        &[
            ("created_at", Col::CreatedAt),
            ("last_attempt_at", Col::LastAttemptAt),
            ("next_attempt_at", Col::NextAttemptAt),
        ],
        conds,
    )?;
    Ok(EventQuery { q, with_data, json })
}

/// Render a page of events, loading each distinct request once when data is asked for.
pub(crate) async fn render_events(
    st: &AppState,
    v: ApiVersion,
    project_id: &str,
    q: &ListQuery,
    page: Page<Event>,
    with_data: bool,
) -> ApiResult<Json<Paginated<EventOut>>> {
    let mut requests: HashMap<String, Option<Request>> = HashMap::new();
    if with_data {
        for e in &page.models {
            if !requests.contains_key(&e.request_id) {
                let r = st.store.request(project_id, &e.request_id).await?;
                requests.insert(e.request_id.clone(), r);
            }
        }
    }
    Ok(paginated(q, page, |e| output::event(v, e, requests.get(&e.request_id).and_then(Option::as_ref))))
}

pub async fn list(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<EventOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let eq = event_filters(&mut params)?;
    params.finish()?;
    let page = eq.page(&st, &p.id).await?;
    render_events(&st, v, &p.id, &eq.q, page, eq.with_data).await
}

/// The request data an event delivers: the transformed request when a transformation ran,
/// else the request as received.
pub(crate) async fn data_of(st: &AppState, project_id: &str, e: &Event) -> ApiResult<Option<Request>> {
    let Some(mut r) = st.store.request(project_id, &e.request_id).await? else { return Ok(None) };
    if let Some(t) = st.store.event_data(&e.id).await? {
        r.body_size = t.body.as_ref().map_or(0, |b| b.len() as i64);
        r.headers = t.headers;
        r.body = t.body;
        r.path = t.path;
        r.query = t.query;
    }
    Ok(Some(r))
}

async fn get(st: &AppState, project_id: &str, id: &str) -> ApiResult<Event> {
    st.store.event(project_id, id).await?.ok_or_else(|| ApiError::not_found("event"))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<EventOut>> {
    let e = get(&st, &p.id, &id).await?;
    let r = data_of(&st, &p.id, &e).await?;
    Ok(Json(output::event(v, &e, r.as_ref())))
}

pub async fn raw_body(State(st): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<RawBody>> {
    let e = get(&st, &p.id, &id).await?;
    let r = data_of(&st, &p.id, &e).await?.ok_or_else(|| ApiError::not_found("event data"))?;
    Ok(Json(RawBody { body: String::from_utf8_lossy(r.body.as_deref().unwrap_or_default()).into_owned() }))
}

/// `POST /events/{id}/retry`: deliver now (trigger `MANUAL`); answers with the attempt made.
pub async fn retry(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<output::RetriedEvent>> {
    let (event, attempt) =
        st.delivery.retry_now(&p.id, &id, pier_core::AttemptTrigger::Manual).await.map_err(|e| match e {
            pier_delivery::RetryError::NotFound => ApiError::not_found("event"),
            pier_delivery::RetryError::Refused(m) => ApiError::conflict(m),
            pier_delivery::RetryError::Store(s) => s.into(),
        })?;
    let r = st.store.request(&p.id, &event.request_id).await?;
    Ok(Json(output::RetriedEvent {
        event: output::event(v, &event, r.as_ref()),
        attempt: output::attempt(v, &attempt),
    }))
}

/// `PUT /events/{id}/mute` (and `cancel`): no further attempts.
pub async fn mute(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<EventOut>> {
    let e =
        st.store.cancel_event(&p.id, &id, crate::clock::now_ms()).await?.ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(output::event(v, &e, None)))
}
