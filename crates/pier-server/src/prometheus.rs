//! Prometheus metrics at `GET /metrics`: counters of requests by source and outcome, events and
//! ignored events by connection, attempts by destination and status, a histogram of delivery
//! latency (recorded where they happen, through the `metrics` facade), and, read from the store
//! at each scrape, the queue depth and the age of the oldest due event per destination.
//!
//! The figures cover every project, so the endpoint is closed unless `metrics_token` is set
//! (then `Authorization: Bearer <token>` is required) or Pier listens on loopback only.

use crate::clock::now_ms;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
/// Destinations given a queue gauge at the last scrape (a drained queue is set back to 0).
static QUEUED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Install the process-wide recorder (once; later calls reuse it).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("pier_delivery_latency_seconds".into()),
                    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
                )
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "another metrics recorder is installed; /metrics is empty");
                    None
                }
            }
        })
        .as_ref()
}

fn allowed(st: &AppState, headers: &HeaderMap) -> bool {
    match &st.config.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| pier_core::verification::secure_eq(given.as_bytes(), token.as_bytes())),
        None => st.config.listen.ip().is_loopback(),
    }
}

/// `GET /metrics` in the Prometheus text format.
pub async fn scrape(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if !allowed(&st, &headers) {
        return (StatusCode::NOT_FOUND, "not found: set metrics_token to expose /metrics\n").into_response();
    }
    let Some(handle) = install() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "metrics are not available in this process\n").into_response();
    };
    let now = now_ms();
    let mut seen = HashSet::new();
    match st.store.list_projects().await {
        Ok(projects) => {
            for p in projects {
                let Ok(m) = st.store.metrics(&p.id, now).await else { continue };
                for (dest, depth, oldest) in m.queue {
                    let age = oldest.map_or(0.0, |at| ((now - at).max(0) as f64) / 1000.0);
                    metrics::gauge!("pier_queue_depth", "destination_id" => dest.clone()).set(depth as f64);
                    metrics::gauge!("pier_queue_oldest_seconds", "destination_id" => dest.clone()).set(age);
                    seen.insert(dest);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the queues"),
    }
    if let Ok(mut last) = QUEUED.lock() {
        for gone in last.iter().flatten().filter(|d| !seen.contains(*d)) {
            metrics::gauge!("pier_queue_depth", "destination_id" => gone.clone()).set(0.0);
            metrics::gauge!("pier_queue_oldest_seconds", "destination_id" => gone.clone()).set(0.0);
        }
        *last = Some(seen);
    }
    let (deliveries, body_bytes) = st.delivery.in_flight();
    metrics::gauge!("pier_deliveries_in_flight").set(deliveries as f64);
    metrics::gauge!("pier_delivery_body_bytes_in_flight").set(body_bytes as f64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
