//! `GET /{version}/metrics/summary?minutes=N`: requests and events per minute, error rate,
//! delivery latency percentiles, queue depth per destination — the dashboard's charts.

use super::params::Params;
use super::Auth;
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::Json;
use pier_api_types::time::{format, format_opt};
use serde_json::{json, Value};
use std::collections::HashMap;

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(i.min(sorted.len() - 1)).copied()
}

pub async fn summary(State(st): State<AppState>, Auth(p): Auth, RawQuery(query): RawQuery) -> ApiResult<Json<Value>> {
    let mut params = Params::parse(query.as_deref())?;
    let minutes = match params.choice_any("minutes")? {
        Some(m) => m
            .parse::<i64>()
            .ok()
            .filter(|m| (5..=1440).contains(m))
            .ok_or_else(|| ApiError::field("minutes", "must be 5 to 1440"))?,
        None => 60,
    };
    params.finish()?;
    let now = now_ms();
    let last = now / 60_000;
    let first = last - minutes + 1;
    let raw = st.store.metrics(&p.id, first * 60_000).await?;
    let mut requests: HashMap<i64, (i64, i64)> = HashMap::new();
    for (m, ok, rejected) in raw.requests {
        requests.insert(m, (ok, rejected));
    }
    let events: HashMap<i64, i64> = raw.events.into_iter().collect();
    let mut attempts: HashMap<i64, (i64, i64, Vec<i64>)> = HashMap::new();
    let mut all_latencies = Vec::new();
    let (mut total_attempts, mut total_failed) = (0i64, 0i64);
    for (m, ok, latency) in raw.attempts {
        let a = attempts.entry(m).or_default();
        a.0 += 1;
        total_attempts += 1;
        if !ok {
            a.1 += 1;
            total_failed += 1;
        }
        if let Some(l) = latency {
            a.2.push(l);
            all_latencies.push(l);
        }
    }
    let mut buckets = Vec::with_capacity(minutes as usize);
    let (mut total_requests, mut total_events) = (0i64, 0i64);
    for m in first..=last {
        let (ok, rejected) = requests.get(&m).copied().unwrap_or((0, 0));
        let ev = events.get(&m).copied().unwrap_or(0);
        total_requests += ok + rejected;
        total_events += ev;
        let (n, failed, mut lat) = attempts.remove(&m).unwrap_or_default();
        lat.sort_unstable();
        buckets.push(json!({
            "at": format(m * 60_000),
            "requests": ok + rejected,
            "rejected": rejected,
            "events": ev,
            "attempts": n,
            "failed_attempts": failed,
            "latency_p50_ms": percentile(&lat, 50.0),
            "latency_p99_ms": percentile(&lat, 99.0),
        }));
    }
    all_latencies.sort_unstable();
    let mut queue = Vec::new();
    for (dest, depth, due) in raw.queue {
        let name = st.store.destination(&p.id, &dest).await?.map(|d| d.name);
        queue.push(
            json!({"destination_id": dest, "destination_name": name, "depth": depth, "oldest_due_at": format_opt(due)}),
        );
    }
    Ok(Json(json!({
        "minutes": minutes,
        "now": format(now),
        "buckets": buckets,
        "totals": {
            "requests": total_requests,
            "events": total_events,
            "attempts": total_attempts,
            "failed_attempts": total_failed,
            "error_rate": if total_attempts > 0 { total_failed as f64 / total_attempts as f64 } else { 0.0 },
            "latency_p50_ms": percentile(&all_latencies, 50.0),
            "latency_p99_ms": percentile(&all_latencies, 99.0),
        },
        "queue": queue,
    })))
}
