//! `/bookmarks`: requests saved on a connection, replayed on demand (`trigger`), which stores a
//! copy of the request and delivers it to the connection's destination as a new event.

use super::json::JsonBody;
use super::params::Params;
use super::{paginated, Auth};
use crate::clock::{new_id, now_ms};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use pier_api_types::input::{BookmarkInput, BookmarkTrigger};
use pier_api_types::output::{self, BookmarkOut, Deleted, EventOut, Paginated, RawBody};
use pier_api_types::ApiVersion;
use pier_core::{Bookmark, Event, EventStatus, IdKind, Request};
use pier_store::Col;
use std::collections::HashMap;

async fn get(st: &AppState, project_id: &str, id: &str) -> ApiResult<Bookmark> {
    st.store.bookmark(project_id, id).await?.ok_or_else(|| ApiError::not_found("bookmark"))
}

async fn render(st: &AppState, b: &Bookmark) -> ApiResult<BookmarkOut> {
    let r = st.store.request(&b.project_id, &b.request_id).await?;
    Ok(output::bookmark(b, r.as_ref()))
}

/// Check the references of a bookmark: the connection exists, and `event_data_id` names a
/// request (an event id is accepted too and stands for its request).
async fn resolve(st: &AppState, project_id: &str, b: &mut Bookmark, input: &BookmarkInput) -> ApiResult<()> {
    if let Some(c) = &input.webhook_id {
        if st.store.connection(project_id, c).await?.is_none() {
            return Err(ApiError::field("webhook_id", "no connection has this id"));
        }
        b.connection_id = c.clone();
    }
    if let Some(d) = &input.event_data_id {
        let request_id = if d.starts_with(IdKind::Event.prefix()) {
            st.store.event(project_id, d).await?.map(|e| e.request_id)
        } else {
            st.store.request(project_id, d).await?.map(|r| r.id)
        };
        b.request_id = request_id.ok_or_else(|| ApiError::field("event_data_id", "no request or event has this id"))?;
    }
    if let Some(l) = &input.label {
        b.label = l.clone();
    }
    if let Some(n) = &input.name {
        b.name = n.clone();
    }
    Ok(())
}

pub async fn list(
    State(st): State<AppState>,
    Auth(p): Auth,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Paginated<BookmarkOut>>> {
    let mut params = Params::parse(query.as_deref())?;
    let mut conds = Vec::new();
    params.one_of("id", Col::Id, &mut conds)?;
    params.one_of("name", Col::Name, &mut conds)?;
    params.one_of("webhook_id", Col::ConnectionId, &mut conds)?;
    params.one_of("event_data_id", Col::RequestId, &mut conds)?;
    params.text("label", Col::Label, &mut conds)?;
    params.date("last_used_at", Col::LastUsedAt, &mut conds)?;
    let q = params.page(&[("created_at", Col::CreatedAt), ("last_used_at", Col::LastUsedAt)], conds)?;
    params.finish()?;
    let page = st.store.list_bookmarks(&p.id, &q).await?;
    let mut requests: HashMap<String, Option<Request>> = HashMap::new();
    for b in &page.models {
        if !requests.contains_key(&b.request_id) {
            requests.insert(b.request_id.clone(), st.store.request(&p.id, &b.request_id).await?);
        }
    }
    Ok(paginated(&q, page, |b| output::bookmark(b, requests.get(&b.request_id).and_then(Option::as_ref))))
}

pub async fn create(
    State(st): State<AppState>,
    Auth(p): Auth,
    JsonBody(input): JsonBody<BookmarkInput>,
) -> ApiResult<Json<BookmarkOut>> {
    input.check(true)?;
    let now = now_ms();
    let mut b = Bookmark {
        id: new_id(IdKind::Bookmark, now),
        project_id: p.id.clone(),
        connection_id: String::new(),
        request_id: String::new(),
        label: String::new(),
        name: None,
        last_used_at: None,
        created_at: now,
        updated_at: now,
    };
    resolve(&st, &p.id, &mut b, &input).await?;
    st.store.put_bookmark(&b).await?;
    Ok(Json(render(&st, &b).await?))
}

pub async fn retrieve(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<BookmarkOut>> {
    let b = get(&st, &p.id, &id).await?;
    Ok(Json(render(&st, &b).await?))
}

pub async fn update(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<BookmarkInput>,
) -> ApiResult<Json<BookmarkOut>> {
    input.check(false)?;
    let mut b = get(&st, &p.id, &id).await?;
    resolve(&st, &p.id, &mut b, &input).await?;
    b.updated_at = now_ms();
    st.store.put_bookmark(&b).await?;
    Ok(Json(render(&st, &b).await?))
}

pub async fn delete(State(st): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<Deleted>> {
    st.store.delete_bookmark(&p.id, &id).await.map_err(|e| ApiError::from_store(e, "bookmark"))?;
    Ok(Json(Deleted { id }))
}

pub async fn raw_body(State(st): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<RawBody>> {
    let b = get(&st, &p.id, &id).await?;
    let r = st
        .store
        .request(&p.id, &b.request_id)
        .await?
        .ok_or_else(|| ApiError::unprocessable("the bookmarked request no longer exists"))?;
    Ok(Json(RawBody { body: String::from_utf8_lossy(r.body.as_deref().unwrap_or_default()).into_owned() }))
}

/// `POST /bookmarks/{id}/trigger`: a copy of the bookmarked request, delivered now as a new
/// event on the bookmark's connection (rules are not run again: the data is replayed as saved).
pub async fn trigger(
    State(st): State<AppState>,
    Extension(v): Extension<ApiVersion>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<BookmarkTrigger>,
) -> ApiResult<Json<Vec<EventOut>>> {
    let b = get(&st, &p.id, &id).await?;
    let c = st
        .store
        .connection(&p.id, &b.connection_id)
        .await?
        .ok_or_else(|| ApiError::unprocessable("the bookmark's connection no longer exists"))?;
    let d = st
        .store
        .destination(&p.id, &c.destination_id)
        .await?
        .ok_or_else(|| ApiError::unprocessable("the connection's destination no longer exists"))?;
    let cli = d.url.is_none();
    match input.target.as_deref() {
        None => {}
        Some("cli") if cli => {}
        Some("http") if !cli => {}
        Some(t @ ("cli" | "http")) => {
            return Err(ApiError::field("target", format!("the connection's destination is not a {t} destination")))
        }
        Some(_) => return Err(ApiError::field("target", "must be http or cli")),
    }
    let now = now_ms();
    if cli && !st.store.cli_connected(&c.id, now - crate::tunnel::SEEN_WITHIN_MS).await? {
        return Err(ApiError::unprocessable(
            "no `pier listen` session receives this connection; start one, then trigger the bookmark again",
        ));
    }
    let original = st
        .store
        .request(&p.id, &b.request_id)
        .await?
        .ok_or_else(|| ApiError::unprocessable("the bookmarked request no longer exists"))?;
    let copy = Request {
        id: new_id(IdKind::Request, now),
        events_count: 0,
        ignored_count: 0,
        cli_events_count: 0,
        rejection_cause: None,
        routed: true,
        ingested_at: now,
        created_at: now,
        updated_at: now,
        ..original
    };
    let event = Event {
        // The connection's source (a bookmark may name a connection of another source).
        source_id: c.source_id.clone(),
        ..Event::new(
            new_id(IdKind::Event, now),
            &copy,
            c.id.clone(),
            c.destination_id.clone(),
            EventStatus::Queued,
            Some(now),
            now,
        )
    };
    st.store
        .trigger_bookmark(&b.id, copy.clone(), event.clone())
        .await
        .map_err(|e| ApiError::from_store(e, "bookmark"))?;
    st.delivery.notify(&p.id, &event.destination_id, now);
    // A paused connection holds the event: answer with what was stored.
    let stored = st.store.event(&p.id, &event.id).await?.unwrap_or(event);
    Ok(Json(vec![output::event(v, &stored, Some(&copy))]))
}
