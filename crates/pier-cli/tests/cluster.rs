//! Several `pier serve` nodes on one PostgreSQL database form one gateway: any node ingests,
//! every event is delivered exactly once (no node dies), a destination's rate limit holds
//! gateway-wide, and the death of a node loses nothing. Runs when `PIER_TEST_DATABASE_URL` is
//! set (CI sets it).

use pier_store_postgres::testing::{fresh_schema_url, test_database_url};
use pier_testkit::{eventually, PierProcess, TestReceiver};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

async fn nodes(url: &str, n: usize, extra: &[&str]) -> Vec<PierProcess> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(PierProcess::start_on(env!("CARGO_BIN_EXE_pier"), extra, Some(url.to_string())).await.unwrap());
    }
    out
}

/// The `/e/{key}` path of a source URL, to send it to any node.
fn ingest_path(source_url: &str) -> String {
    format!("/e/{}", source_url.rsplit("/e/").next().unwrap())
}

#[tokio::test]
async fn three_nodes_deliver_each_event_once_within_the_gateway_rate_limit() {
    let Some(base) = test_database_url() else {
        eprintln!("PIER_TEST_DATABASE_URL is not set: skipping the cluster test");
        return;
    };
    tokio::time::timeout(Duration::from_secs(120), async {
        let url = fresh_schema_url(&base).await.unwrap();
        let cluster = nodes(&url, 3, &[]).await;
        let rx = TestReceiver::start().await.unwrap();
        let api = cluster[0].api("2024-03-01");
        let (s, c) = api
            .post(
                "/connections",
                &json!({"name": "c", "source": {"name": "in"},
                        "destination": {"name": "out", "url": rx.url(), "rate_limit": 10, "rate_limit_period": "second"}}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{c}");
        let path = ingest_path(c["source"]["url"].as_str().unwrap());
        let http = reqwest::Client::new();
        let mut per_node = vec![0; 3];
        for i in 0..45 {
            let node = i % 3;
            let r = http.post(format!("{}{path}", cluster[node].url())).body(format!("{{\"i\":{i}}}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "node {node} ingests");
            per_node[node] += 1;
        }
        assert_eq!(per_node, vec![15, 15, 15], "requests spread over all three nodes");
        let got = rx.wait_for(45, Duration::from_secs(60)).await.unwrap();
        // Let any duplicate show up before counting.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let got_after = rx.received();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for r in &got_after {
            *by_key.entry(r.header("idempotency-key").unwrap().to_string()).or_default() += 1;
        }
        assert_eq!(by_key.len(), 45);
        assert!(by_key.values().all(|n| *n == 1), "each event delivered exactly once: {by_key:?}");
        let times: Vec<_> = got.iter().map(|r| r.at).collect();
        for (i, t) in times.iter().enumerate() {
            let n = times[i..].iter().take_while(|u| u.duration_since(*t) < Duration::from_secs(1)).count();
            assert!(n <= 10, "{n} deliveries in one second from #{i}: the limit is gateway-wide");
        }
        // Every node sees the same data.
        for node in &cluster {
            let v = node.api("2024-03-01").ok("/events?status=SUCCESSFUL&limit=100").await.unwrap();
            assert_eq!(v["count"], 45);
        }
    })
    .await
    .expect("timed out");
}

#[tokio::test]
async fn a_killed_node_loses_nothing() {
    let Some(base) = test_database_url() else { return };
    tokio::time::timeout(Duration::from_secs(120), async {
        let url = fresh_schema_url(&base).await.unwrap();
        let mut cluster = nodes(&url, 3, &["--delivery-timeout-secs", "3", "--destination-concurrency", "4"]).await;
        let rx = TestReceiver::start().await.unwrap();
        rx.set_delay(Duration::from_millis(700));
        let api = cluster[0].api("2024-03-01");
        let (s, c) = api
            .post(
                "/connections",
                &json!({"name": "c", "source": {"name": "in"}, "destination": {"name": "slow", "url": rx.url()}}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{c}");
        let path = ingest_path(c["source"]["url"].as_str().unwrap());
        let http = reqwest::Client::new();
        for i in 0..20 {
            let r = http
                .post(format!("{}{path}", cluster[i % 3].url()))
                .body(format!("{{\"i\":{i}}}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        rx.wait_for(2, Duration::from_secs(20)).await.unwrap();
        // Kill the node that is delivering (it holds claimed events right now).
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let owner: String = client.query_one("SELECT node FROM destination_owners", &[]).await.unwrap().get(0);
        let victim = cluster.iter().position(|n| n.node_id() == owner).expect("the owner is one of ours");
        let leased: i64 =
            client.query_one("SELECT COUNT(*) FROM events WHERE locked_by = $1", &[&owner]).await.unwrap().get(0);
        assert!(leased > 0, "the victim holds claimed events");
        cluster[victim].kill().unwrap();
        let keys = eventually(Duration::from_secs(60), "all 20 events delivered by the survivors", || {
            let rx = &rx;
            async move {
                let keys: std::collections::HashSet<String> =
                    rx.received().iter().filter_map(|r| r.header("idempotency-key").map(String::from)).collect();
                (keys.len() == 20).then_some(keys)
            }
        })
        .await
        .unwrap();
        assert_eq!(keys.len(), 20);
        let survivor = cluster.iter().enumerate().find(|(i, _)| *i != victim).map(|(_, n)| n).unwrap();
        let sapi = survivor.api("2024-03-01");
        eventually(Duration::from_secs(30), "all successful", || {
            let sapi = sapi.clone();
            async move {
                let v: Value = sapi.ok("/events?status=SUCCESSFUL&limit=100").await.ok()?;
                (v["count"] == 20).then_some(())
            }
        })
        .await
        .unwrap();
    })
    .await
    .expect("timed out");
}
