//! `GET /metrics` (Prometheus) against a real server: counters of requests, events and
//! attempts, the delivery latency histogram, queue gauges; closed without the token.

use pier_testkit::{eventually, Api, TestReceiver, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

async fn scrape(url: &str, token: Option<&str>) -> (u16, String) {
    let mut r = reqwest::Client::new().get(format!("{url}/metrics")).timeout(Duration::from_secs(10));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The value of the first sample of `name` whose line holds every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A server exposing `/metrics` (token `scrape-me`), a receiver, and a connection `name` from
/// source `{name}-src` to destination `{name}-dst` at the receiver.
async fn server_with_connection(name: &str) -> (TestServer, Api, TestReceiver, Value) {
    let srv = TestServer::start_with(|c| c.metrics_token = Some("scrape-me".into())).await.unwrap();
    let api = srv.api("2024-03-01");
    let rx = TestReceiver::start().await.unwrap();
    let body = json!({"name": name, "source": {"name": format!("{name}-src")},
        "destination": {"name": format!("{name}-dst"), "url": rx.url()}});
    let (s, c) = api.post("/connections", &body).await.unwrap();
    assert_eq!(s, 200, "{c}");
    (srv, api, rx, c)
}

#[tokio::test]
async fn metrics_count_requests_events_attempts_and_queues() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let (srv, api, rx, c) = server_with_connection("prom").await;
        let held = json!({"name": "prom-held", "source": {"name": "prom-src"},
            "destination": {"name": "prom-later", "url": rx.url()}, "rules": [{"type": "delay", "delay": 600000}]});
        let (s, h) = api.post("/connections", &held).await.unwrap();
        assert_eq!(s, 200, "{h}");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        for _ in 0..3 {
            let r = http.post(c["source"]["url"].as_str().unwrap()).json(&json!({"a": 1})).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        let r = http.get(c["source"]["url"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(r.status(), 405);
        rx.wait_for(3, Duration::from_secs(20)).await.unwrap();

        let (status, _) = scrape(&srv.url(), None).await;
        assert_eq!(status, 404, "closed without the token");
        let (status, _) = scrape(&srv.url(), Some("wrong")).await;
        assert_eq!(status, 404);
        let sid = c["source"]["id"].as_str().unwrap();
        let did = c["destination"]["id"].as_str().unwrap();
        let text = eventually(Duration::from_secs(20), "the attempts in /metrics", || {
            let url = srv.url();
            async move {
                let (s, t) = scrape(&url, Some("scrape-me")).await;
                (s == 200 && t.contains("pier_attempts_total")).then_some(t)
            }
        })
        .await
        .unwrap();
        let line = |name: &str, labels: &[&str]| {
            sample(&text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{text}"))
        };
        assert_eq!(line("pier_requests_total", &[sid, "outcome=\"accepted\""]), 3.0);
        assert_eq!(line("pier_requests_total", &[sid, "UNSUPPORTED_HTTP_METHOD"]), 1.0);
        assert_eq!(line("pier_events_total", &[c["id"].as_str().unwrap()]), 3.0);
        assert_eq!(line("pier_attempts_total", &[did, "status=\"200\""]), 3.0);
        assert_eq!(line("pier_delivery_latency_seconds_count", &[did]), 3.0);
        // The recorder is global to this test binary: name the destination, not just the label.
        let later = h["destination"]["id"].as_str().unwrap();
        assert_eq!(line("pier_queue_depth", &[later]), 3.0, "the delayed events wait");
        assert!(line("pier_queue_oldest_seconds", &[later]) >= 0.0);
    })
    .await
    .expect("test timed out")
}

/// Events due at once go from ingest straight to the destination's lane on SQLite (stored
/// leased, no claim): each delivered exactly once, none while the connection is paused.
#[tokio::test]
async fn events_handed_from_ingest_are_delivered_once_and_pauses_hold() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let (srv, api, rx, c) = server_with_connection("handoff").await;
        let src = c["source"]["url"].as_str().unwrap().to_string();
        let (cid, did) = (c["id"].as_str().unwrap().to_string(), c["destination"]["id"].as_str().unwrap().to_string());
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        // The first delivery starts the lane, which then takes events from ingest.
        assert_eq!(http.post(&src).json(&json!({"n": 0})).send().await.unwrap().status(), 200);
        rx.wait_for(1, Duration::from_secs(20)).await.unwrap();
        let mut ids = Vec::new();
        for round in 0..10 {
            let sends = (0..10).map(|i| {
                let (http, src) = (http.clone(), src.clone());
                async move {
                    let r = http.post(&src).json(&json!({"n": round * 10 + i + 1})).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    r.json::<serde_json::Value>().await.unwrap()["request_id"].as_str().unwrap().to_string()
                }
            });
            ids.extend(futures::future::join_all(sends).await);
        }
        rx.wait_for(101, Duration::from_secs(30)).await.unwrap();
        let got = rx.received();
        for id in &ids {
            let n = got.iter().filter(|r| r.header("x-hookdeck-requestid") == Some(id)).count();
            assert_eq!(n, 1, "request {id} delivered {n} times");
        }
        let ok = eventually(Duration::from_secs(20), "every event successful", || {
            let api = api.clone();
            let cid = cid.clone();
            async move {
                let v = api.ok(&format!("/events?webhook_id={cid}&status=SUCCESSFUL&limit=250")).await.ok()?;
                (v["models"].as_array().map_or(0, |m| m.len()) == 101).then_some(())
            }
        })
        .await;
        assert!(ok.is_ok(), "{ok:?}");
        if std::env::var("PIER_TEST_STORE").as_deref() != Ok("postgres") {
            let (_, text) = scrape(&srv.url(), Some("scrape-me")).await;
            let handed = sample(&text, "pier_ingest_handoffs_total", &[&did]).unwrap_or(0.0);
            assert!(handed > 0.0, "no event went straight from ingest to the lane:\n{text}");
        }

        // Paused: stored held, not handed to the lane, delivered after the unpause.
        assert_eq!(api.put(&format!("/connections/{cid}/pause"), &json!({})).await.unwrap().0, 200);
        for i in 0..5 {
            assert_eq!(http.post(&src).json(&json!({"paused": i})).send().await.unwrap().status(), 200);
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(rx.received().len(), 101, "nothing is delivered while the connection is paused");
        assert_eq!(api.put(&format!("/connections/{cid}/unpause"), &json!({})).await.unwrap().0, 200);
        rx.wait_for(106, Duration::from_secs(20)).await.unwrap();
    })
    .await
    .expect("test timed out")
}
