//! The bench's receiver (records when each request id arrived) and the baseline server.

use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Arrival times by `x-hookdeck-requestid`, and a count.
#[derive(Clone, Default)]
pub struct Arrivals {
    pub by_request: Arc<Mutex<HashMap<String, Instant>>>,
    pub count: Arc<std::sync::atomic::AtomicUsize>,
}

pub async fn start() -> anyhow::Result<(String, Arrivals)> {
    let arrivals = Arrivals::default();
    let a = arrivals.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let a = a.clone();
        async move {
            a.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(id) = headers.get("x-hookdeck-requestid").and_then(|v| v.to_str().ok()) {
                a.by_request
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(id.to_string())
                    .or_insert_with(Instant::now);
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, arrivals))
}

/// The baseline: a bare server answering every POST with a fixed 200 JSON body (run as a
/// separate process, like Pier, so both pay the same costs).
pub async fn baseline_server(port: u16) -> anyhow::Result<()> {
    let app = axum::Router::new().fallback(|_body: axum::body::Bytes| async {
        ([("content-type", "application/json")], r#"{"status":"SUCCESS","message":"ok","request_id":"req_0"}"#)
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
