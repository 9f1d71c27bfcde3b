//! The management API, mounted once per version (`/2023-07-01`, `/2024-03-01`, …). Handlers
//! read the version from a request extension and shape their answers for it.

mod attempts;
mod auth;
mod bookmarks;
mod bulk;
mod connections;
mod destinations;
mod events;
mod json;
mod metrics;
mod params;
mod requests;
mod search;
mod sources;
mod transformations;

use crate::error::ApiError;
use crate::state::AppState;
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use pier_api_types::output::{Paginated, Pagination};
use pier_api_types::ApiVersion;
use pier_core::BatchKind;
use pier_store::{ListQuery, Page};

pub(crate) use bulk::BulkQuery;

pub use auth::Auth;

/// The routes of one API version.
pub fn router(version: ApiVersion) -> Router<AppState> {
    let lifecycle = |path: &str| format!("{path}/{{id}}/{{action}}");
    Router::new()
        .route("/sources", get(sources::list).post(sources::create).put(sources::upsert))
        .route("/sources/{id}", get(sources::retrieve).put(sources::update).delete(sources::delete))
        .route(&lifecycle("/sources"), put(sources::lifecycle).post(sources::lifecycle))
        .route("/destinations", get(destinations::list).post(destinations::create).put(destinations::upsert))
        .route("/destinations/{id}", get(destinations::retrieve).put(destinations::update).delete(destinations::delete))
        .route(&lifecycle("/destinations"), put(destinations::lifecycle).post(destinations::lifecycle))
        .route("/connections", get(connections::list).post(connections::create).put(connections::upsert))
        .route("/connections/count", get(connections::count))
        .route("/connections/{id}", get(connections::retrieve).put(connections::update).delete(connections::delete))
        .route(&lifecycle("/connections"), put(connections::lifecycle).post(connections::lifecycle))
        .route("/requests", get(requests::list))
        .route("/requests/{id}", get(requests::retrieve))
        .route("/requests/{id}/raw_body", get(requests::raw_body))
        .route("/requests/{id}/events", get(requests::events))
        .route("/requests/{id}/ignored_events", get(requests::ignored_events))
        .route("/requests/{id}/retry", post(requests::retry))
        .route("/events", get(events::list))
        .route("/events/{id}", get(events::retrieve))
        .route("/events/{id}/raw_body", get(events::raw_body))
        .route("/events/{id}/retry", post(events::retry))
        .route("/events/{id}/mute", put(events::mute).post(events::mute))
        .route("/events/{id}/cancel", put(events::mute).post(events::mute))
        .route(
            "/transformations",
            get(transformations::list).post(transformations::create).put(transformations::upsert),
        )
        .route("/transformations/run", put(transformations::run))
        .route(
            "/transformations/{id}",
            get(transformations::retrieve).put(transformations::update).delete(transformations::delete),
        )
        .route("/transformations/{id}/executions", get(transformations::executions))
        .route("/transformations/{id}/executions/{execution_id}", get(transformations::execution))
        .route("/metrics/summary", get(metrics::summary))
        .route("/cli-sessions", post(crate::tunnel::create_session))
        .route("/cli-auth/validate", get(crate::tunnel::validate))
        .route("/cli/guest", post(crate::tunnel::guest))
        .route("/bookmarks", get(bookmarks::list).post(bookmarks::create))
        .route("/bookmarks/{id}", get(bookmarks::retrieve).put(bookmarks::update).delete(bookmarks::delete))
        .route("/bookmarks/{id}/raw_body", get(bookmarks::raw_body))
        .route("/bookmarks/{id}/trigger", post(bookmarks::trigger))
        .merge(bulk_routes("/bulk/events/retry", BatchKind::EventsRetry))
        .merge(bulk_routes("/bulk/requests/retry", BatchKind::RequestsRetry))
        .merge(bulk_routes("/bulk/ignored-events/retry", BatchKind::IgnoredEventsRetry))
        .route("/attempts", get(attempts::list))
        .route("/attempts/{id}", get(attempts::retrieve))
        .fallback(|| async { ApiError::not_found("endpoint") })
        .layer(Extension(version))
}

/// The routes of one kind of bulk retry under `base`.
fn bulk_routes(base: &str, kind: BatchKind) -> Router<AppState> {
    Router::new()
        .route(base, get(move |st, a, q| bulk::list(kind, st, a, q)).post(move |st, a, b| bulk::create(kind, st, a, b)))
        .route(&format!("{base}/plan"), get(move |st, a, q| bulk::plan(kind, st, a, q)))
        .route(&format!("{base}/{{id}}"), get(move |st, a, id| bulk::retrieve(kind, st, a, id)))
        .route(&format!("{base}/{{id}}/cancel"), post(move |st, a, id| bulk::cancel(kind, st, a, id)))
}

/// Wrap a page in Hookdeck's `{pagination, count, models}`.
pub(crate) fn paginated<T, O>(q: &ListQuery, page: Page<T>, f: impl Fn(&T) -> O) -> axum::Json<Paginated<O>> {
    let models: Vec<O> = page.models.iter().map(f).collect();
    axum::Json(Paginated {
        pagination: Pagination {
            order_by: q.order_by.as_str().to_string(),
            dir: if q.desc { "desc" } else { "asc" }.to_string(),
            limit: q.limit,
            next: page.next.map(|c| c.encode()),
            prev: page.prev.map(|c| c.encode()),
        },
        count: models.len(),
        models,
    })
}

/// Lifecycle actions shared by sources, destinations and connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Disable,
    Enable,
    Pause,
    Unpause,
}

pub(crate) fn parse_action(s: &str, pausable: bool) -> Result<Action, ApiError> {
    match s {
        "disable" | "archive" => Ok(Action::Disable),
        "enable" | "unarchive" => Ok(Action::Enable),
        "pause" if pausable => Ok(Action::Pause),
        "unpause" if pausable => Ok(Action::Unpause),
        _ => Err(ApiError::not_found("endpoint")),
    }
}
