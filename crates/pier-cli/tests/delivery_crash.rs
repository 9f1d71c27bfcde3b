//! At-least-once delivery across a crash: SIGKILL the server while events are in flight to a
//! slow receiver; after a restart every event arrives (some may arrive twice, each with the
//! same idempotency key), none is lost.

use pier_testkit::{eventually, PierProcess, TestReceiver};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn events_in_flight_at_a_crash_are_delivered_after_restart() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let rx = TestReceiver::start().await.unwrap();
        rx.set_delay(Duration::from_millis(400));
        let mut pier = PierProcess::start(
            env!("CARGO_BIN_EXE_pier"),
            &["--destination-concurrency", "4", "--delivery-timeout-secs", "5"],
        )
        .await
        .unwrap();
        let api = pier.api("2024-03-01");
        let (s, c) = api
            .post(
                "/connections",
                &json!({"name": "c", "source": {"name": "in"}, "destination": {"name": "slow", "url": rx.url()}}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{c}");
        let url = c["source"]["url"].as_str().unwrap().to_string();
        let http = reqwest::Client::new();
        for i in 0..30 {
            let r = http.post(&url).body(format!("{{\"n\":{i}}}")).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        // Some delivered, more in flight: crash.
        rx.wait_for(6, Duration::from_secs(20)).await.unwrap();
        pier.kill().unwrap();
        let before = rx.received().len();
        assert!(before < 30, "the crash happened mid-delivery ({before} received)");

        pier.restart().await.unwrap();
        let api = pier.api("2024-03-01");
        let all = eventually(Duration::from_secs(60), "every event delivered", || {
            let rx = &rx;
            async move {
                let keys: HashSet<String> =
                    rx.received().iter().filter_map(|r| r.header("idempotency-key").map(String::from)).collect();
                (keys.len() == 30).then_some(keys)
            }
        })
        .await
        .unwrap();
        assert!(all.iter().all(|k| k.starts_with("evt_")));
        eventually(Duration::from_secs(30), "all events successful", || {
            let api = api.clone();
            async move { (api.ok("/events?status=SUCCESSFUL").await.ok()?["count"] == 30).then_some(()) }
        })
        .await
        .unwrap();
    })
    .await
    .expect("timed out");
}
