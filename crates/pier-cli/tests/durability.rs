//! Nothing acknowledged is lost: requests sent concurrently while the server is killed with
//! SIGKILL are all stored and routed exactly once after a restart.

use pier_testkit::{eventually, Api, PierProcess};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SENDERS: usize = 16;

/// Every model of a list, following `next` cursors.
async fn all(api: &Api, path: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &next {
            Some(c) => format!("{path}{sep}limit=255&next={c}"),
            None => format!("{path}{sep}limit=255"),
        };
        let page = api.ok(&url).await?;
        out.extend(page["models"].as_array().cloned().unwrap_or_default());
        match page["pagination"]["next"].as_str() {
            Some(c) => next = Some(c.to_string()),
            None => return Ok(out),
        }
    }
}

#[tokio::test]
async fn acknowledged_requests_survive_sigkill() {
    tokio::time::timeout(Duration::from_secs(120), scenario()).await.expect("timed out").expect("scenario");
}

async fn scenario() -> anyhow::Result<()> {
    let mut pier = PierProcess::start(env!("CARGO_BIN_EXE_pier"), &[]).await?;
    let api = pier.api("2024-03-01");
    let (s, conn) = api
        .post("/connections", &json!({"name": "c", "source": {"name": "in"}, "destination": {"name": "out", "url": "http://127.0.0.1:9/"}}))
        .await?;
    assert_eq!(s, 200, "{conn}");
    let url = format!("{}/load", conn["source"]["url"].as_str().unwrap());

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..SENDERS {
        let (acked, stop, url) = (acked.clone(), stop.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
            for n in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let body = format!("{{\"sender\":{t},\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(200));
                match http.post(&url).header("content-type", "application/json").body(body).send().await {
                    Ok(r) if r.status() == 200 => {
                        if let Ok(v) = r.json::<serde_json::Value>().await {
                            if let Some(id) = v["request_id"].as_str() {
                                acked.lock().unwrap().push(id.to_string());
                            }
                        }
                    }
                    // Killed mid-flight: not acknowledged, so no promise was made.
                    _ => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }));
    }
    eventually(Duration::from_secs(30), "300 acknowledged requests", || {
        let n = acked.lock().unwrap().len();
        async move { (n >= 300).then_some(()) }
    })
    .await?;
    pier.kill()?;
    // Keep senders failing against the dead server briefly, then stop them.
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300);

    pier.restart().await?;
    let api = pier.api("2024-03-01");
    let wanted: HashSet<String> = acked.iter().cloned().collect();
    // Routing resumes by itself after the restart: wait until every acknowledged request has
    // exactly one event.
    let (requests, events) = eventually(Duration::from_secs(60), "every acknowledged request to be routed", || {
        let api = api.clone();
        let wanted = wanted.clone();
        async move {
            let requests = all(&api, "/requests").await.ok()?;
            let routed: HashSet<String> = requests
                .iter()
                .filter(|r| r["events_count"] == 1)
                .filter_map(|r| r["id"].as_str().map(String::from))
                .collect();
            if !wanted.is_subset(&routed) {
                return None;
            }
            let events = all(&api, "/events").await.ok()?;
            Some((requests, events))
        }
    })
    .await?;
    let stored: HashSet<String> = requests.iter().filter_map(|r| r["id"].as_str().map(String::from)).collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let mut per_request: HashMap<String, usize> = HashMap::new();
    for e in &events {
        *per_request.entry(e["request_id"].as_str().unwrap_or_default().to_string()).or_default() += 1;
    }
    for id in &acked {
        assert_eq!(per_request.get(id), Some(&1), "request {id} must have exactly one event");
    }
    assert!(per_request.values().all(|n| *n == 1), "no request was routed twice");
    assert_eq!(events.len(), requests.len(), "every stored request routed once through the one connection");
    for r in &requests {
        assert_eq!(r["rejection_cause"], serde_json::Value::Null);
    }
    Ok(())
}
