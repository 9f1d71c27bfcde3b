//! The `pier` binary as a user runs it: project administration beside a running server, and
//! graceful shutdown that finishes in-flight requests.

use pier_testkit::{Api, PierProcess};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pier(args: &[String]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pier")).args(args).output().expect("run pier");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn projects_are_administered_while_the_server_runs() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let server = PierProcess::start(env!("CARGO_BIN_EXE_pier"), &[]).await.unwrap();
        let store = server.store_args();
        let with_store = |args: &[&str]| -> Vec<String> {
            args.iter().map(|a| a.to_string()).chain(store.iter().cloned()).collect()
        };

        let (ok, out, err) = pier(&with_store(&["projects", "create", "acme", "--output", "json"]));
        assert!(ok, "{err}");
        let created: Value = serde_json::from_str(&out).unwrap();
        let key = created["api_key"].as_str().unwrap().to_string();
        let project_id = created["id"].as_str().unwrap().to_string();
        assert!(key.starts_with("pier_") && project_id.starts_with("tm_"));

        let acme = Api::new(&server.url(), "2024-03-01", &key);
        assert_eq!(acme.ok("/sources").await.unwrap()["count"], 0);
        assert_eq!(acme.post("/sources", &serde_json::json!({"name": "only-acme"})).await.unwrap().0, 200);
        assert_eq!(server.api("2024-03-01").ok("/sources?name=only-acme").await.unwrap()["count"], 0);

        let (ok, out, _) = pier(&with_store(&["projects", "list", "--output", "json"]));
        assert!(ok);
        let list: Value = serde_json::from_str(&out).unwrap();
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["default", "acme"]);

        let (ok, _, err) = pier(&with_store(&["projects", "create", "acme"]));
        assert!(!ok);
        assert!(err.contains("already exists"), "{err}");
        let (ok, _, err) = pier(&with_store(&["projects", "create", "bad name"]));
        assert!(!ok && err.contains("invalid project name"), "{err}");

        let (ok, out, err) = pier(&with_store(&["projects", "rotate-key", &project_id]));
        assert!(ok, "{err}");
        let new_key = out.trim().to_string();
        assert!(new_key.starts_with("pier_") && new_key != key);
        assert!(err.contains("shown once"), "{err}");
        assert_eq!(acme.get("/sources").await.unwrap().0, 401, "the old key stops working");
        assert_eq!(acme.with_key(&new_key).ok("/sources").await.unwrap()["count"], 1);

        let (ok, out, err) = pier(&with_store(&["projects", "rotate-signing-secret", &project_id, "-o", "json"]));
        assert!(ok, "{err}");
        let rotated: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(rotated["signing_secret"].as_str().unwrap().len(), 32);

        let (ok, _, err) = pier(&with_store(&["projects", "rotate-key", "tm_nope"]));
        assert!(!ok && err.contains("pier projects list"), "{err}");
    })
    .await
    .expect("timed out");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut server = PierProcess::start(env!("CARGO_BIN_EXE_pier"), &[]).await.unwrap();
        let api = server.api("2024-03-01");
        let (_, src) = api.post("/sources", &serde_json::json!({"name": "in"})).await.unwrap();
        let url = src["url"].as_str().unwrap().to_string();
        let path = url.split(&format!("127.0.0.1:{}", server.port)).nth(1).unwrap().to_string();

        // Half an upload, then SIGTERM, then the rest: the request completes and is stored.
        let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
        sock.write_all(
            format!("POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\nconnection: close\r\n\r\n01234")
                .as_bytes(),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let exit = {
            let stop = server.terminate(Duration::from_secs(20));
            let finish = async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                sock.write_all(b"56789").await.unwrap();
                let mut answer = Vec::new();
                sock.read_to_end(&mut answer).await.unwrap();
                String::from_utf8_lossy(&answer).into_owned()
            };
            let (status, answer) = tokio::join!(stop, finish);
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            status.unwrap()
        };
        assert!(exit.success(), "graceful exit: {exit:?}\n{}", server.log());
        assert!(server.log().contains("stopped"), "{}", server.log());
        // New connections are refused once stopped; after a restart the request is there.
        server.restart().await.unwrap();
        let requests = server.api("2024-03-01").ok("/requests").await.unwrap();
        assert_eq!(requests["count"], 1);
        assert_eq!(requests["models"][0]["rejection_cause"], "NO_CONNECTION");
    })
    .await
    .expect("timed out");
}

#[tokio::test]
async fn a_ca_file_that_cannot_be_read_stops_the_server_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--delivery-ca-file")
        .arg(&missing)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run).await.expect("pier serve did not stop").unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("delivery_ca_file") && err.contains("missing-ca.pem"), "{err}");
}
