//! PostgreSQL restarts under a running node: requests during the outage are refused with 503
//! (never a 200 that is then lost), and the node recovers by itself when the database returns.
//! Runs when `PIER_TEST_DATABASE_URL` is set and this machine can restart its PostgreSQL.

use pier_store_postgres::testing::{fresh_schema_url, test_database_url};
use pier_testkit::{eventually, PierProcess};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

fn restart_postgres() -> bool {
    let Ok(versions) = std::fs::read_dir("/etc/postgresql") else { return false };
    let Some(version) = versions.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).next()
    else {
        return false;
    };
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_refuses_during_a_postgres_restart_and_recovers() {
    let Some(base) = test_database_url() else {
        eprintln!("PIER_TEST_DATABASE_URL is not set: skipping the restart test");
        return;
    };
    if Command::new("pg_ctlcluster").arg("--help").output().is_err() {
        eprintln!("pg_ctlcluster is not available: skipping the restart test");
        return;
    }
    tokio::time::timeout(Duration::from_secs(120), async {
        let url = fresh_schema_url(&base).await.unwrap();
        let node = PierProcess::start_on(env!("CARGO_BIN_EXE_pier"), &[], Some(url)).await.unwrap();
        let api = node.api("2024-03-01");
        let (s, src) = api.post("/sources", &json!({"name": "in"})).await.unwrap();
        assert_eq!(s, 200);
        let source_url = src["url"].as_str().unwrap().to_string();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

        let sender = tokio::spawn({
            let (http, source_url) = (http.clone(), source_url.clone());
            async move {
                let mut acked = Vec::new();
                let mut refused = 0;
                let started = Instant::now();
                let mut recovered_after_refusal = false;
                while started.elapsed() < Duration::from_secs(40) {
                    match http.post(&source_url).body("{}").send().await {
                        Ok(r) if r.status() == 200 => {
                            let v: serde_json::Value = r.json().await.unwrap();
                            acked.push(v["request_id"].as_str().unwrap().to_string());
                            if refused > 0 && acked.len() > 5 {
                                recovered_after_refusal = true;
                            }
                        }
                        Ok(r) => {
                            assert_eq!(r.status(), 503, "an outage is a 503");
                            refused += 1;
                        }
                        Err(e) => panic!("the node itself must keep answering: {e}"),
                    }
                    if recovered_after_refusal && acked.len() > 20 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (acked, refused)
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let restarted = tokio::task::spawn_blocking(restart_postgres).await.unwrap();
        assert!(restarted, "pg_ctlcluster restart failed");
        let (acked, refused) = sender.await.unwrap();
        assert!(refused > 0, "some requests arrived during the outage and were refused");
        assert!(!acked.is_empty());
        // The node recovered by itself; every acknowledged request is stored.
        eventually(Duration::from_secs(30), "readiness after the restart", || {
            let http = http.clone();
            let url = format!("{}/readyz", node.url());
            async move { http.get(url).send().await.ok().filter(|r| r.status() == 200).map(|_| ()) }
        })
        .await
        .unwrap();
        for id in &acked {
            let (s, _) = api.get(&format!("/requests/{id}")).await.unwrap();
            assert_eq!(s, 200, "acknowledged request {id} is stored");
        }
    })
    .await
    .expect("timed out");
}
