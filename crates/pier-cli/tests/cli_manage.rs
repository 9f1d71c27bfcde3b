//! The management commands as a user runs them: `pier login` against a real `pier serve`, then
//! sources, destinations and connections made and listed through the CLI (tables on stderr,
//! JSON on stdout), the quickstart's upsert, pause and unpause, requests and events after a real
//! request, the error messages and exit codes, and snapshots of the help and of the outputs.
//!
//! Snapshots live in `tests/snapshots/`; `UPDATE_SNAPSHOTS=1 cargo test -p pier-cli --test
//! cli_manage` rewrites them (review the diff before committing).

use pier_testkit::{eventually, PierProcess, TestReceiver, TEST_API_KEY};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const STEP: Duration = Duration::from_secs(30);

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
    fn ok(self) -> Out {
        assert_eq!(self.code, 0, "pier failed:\n{}", self.stderr);
        self
    }
}

/// The `pier` binary with its own config directory and none of the caller's PIER_* settings.
struct Pier {
    config: tempfile::TempDir,
}

impl Pier {
    fn new() -> Pier {
        Pier { config: tempfile::tempdir().unwrap() }
    }

    fn config_file(&self) -> PathBuf {
        self.config.path().join("config.toml")
    }

    async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pier"));
        cmd.args(args)
            .env("PIER_CONFIG_DIR", self.config.path())
            .env_remove("PIER_SERVER")
            .env_remove("PIER_API_KEY")
            .env_remove("PIER_PROFILE")
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = tokio::time::timeout(STEP, cmd.output())
            .await
            .unwrap_or_else(|_| panic!("pier {args:?} did not finish in {STEP:?}"))
            .expect("run pier");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn run(&self, args: &[&str]) -> Out {
        self.run_env(args, &[]).await
    }
}

/// Replace what changes from run to run with markers of the same length, so tables stay
/// aligned: id suffixes become `x`s, timestamp digits `0`s.
fn normalise(s: &str) -> String {
    const PREFIXES: [&str; 8] = ["tm_", "src_", "des_", "web_", "req_", "evt_", "atm_", "ign_"];
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        // 2024-01-15T16:35:30(.123)(Z) or 2024-01-15 16:35:30
        if boundary
            && digits(i..i + 4)
            && b.get(i + 4) == Some(&b'-')
            && digits(i + 5..i + 7)
            && b.get(i + 7) == Some(&b'-')
            && digits(i + 8..i + 10)
            && matches!(b.get(i + 10), Some(b'T' | b' '))
            && digits(i + 11..i + 13)
            && b.get(i + 13) == Some(&b':')
            && digits(i + 14..i + 16)
            && b.get(i + 16) == Some(&b':')
            && digits(i + 17..i + 19)
        {
            let mut j = i + 19;
            if b.get(j) == Some(&b'.') {
                j += 1;
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
            if b.get(j) == Some(&b'Z') {
                j += 1;
            }
            out.extend(s[i..j].chars().map(|c| if c.is_ascii_digit() { '0' } else { c }));
            i = j;
            continue;
        }
        if boundary {
            if let Some(p) = PREFIXES.iter().find(|p| s[i..].starts_with(*p)) {
                let start = i + p.len();
                let end = start + b[start..].iter().take_while(|c| c.is_ascii_alphanumeric()).count();
                if end - start == 19 {
                    out.push_str(p);
                    out.push_str(&"x".repeat(19));
                    i = end;
                    continue;
                }
            }
        }
        let ch = s[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("snapshots").join(name);
    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no snapshot {}; run with UPDATE_SNAPSHOTS=1 to write it", path.display()));
    assert_eq!(
        actual, expected,
        "snapshot {name} differs; if intended, rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

#[tokio::test]
async fn help_and_completions() {
    let pier = Pier::new();
    let top = pier.run(&["--help"]).await.ok();
    snapshot("help.txt", &top.stdout);
    let conns = pier.run(&["connections", "--help"]).await.ok();
    snapshot("connections_help.txt", &conns.stdout);
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = pier.run(&["completions", shell]).await.ok();
        assert!(out.stdout.contains("connections") && out.stdout.contains("unpause"), "{shell}: {}", out.stdout);
    }
    let bad = pier.run(&["completions", "tcsh"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[tokio::test]
async fn login_then_manage_the_quickstart_objects() {
    tokio::time::timeout(Duration::from_secs(180), async {
        let server = PierProcess::start(env!("CARGO_BIN_EXE_pier"), &[]).await.unwrap();
        let receiver = TestReceiver::start().await.unwrap();
        let url = server.url();
        let pier = Pier::new();

        // A refused key: exit 1, a message pointing at login, nothing stored.
        let out = pier.run(&["login", "--server", &url, "--api-key", "pier_wrong"]).await;
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("error: the api key was refused (401"), "{}", out.stderr);
        assert!(out.stderr.contains("pier login --api-key KEY"), "{}", out.stderr);
        assert!(!pier.config_file().exists());

        // Login stores a private profile and never prints the key.
        let out = pier.run(&["login", "--server", &url, "--api-key", TEST_API_KEY]).await.ok();
        assert!(out.stderr.contains(&pier.config_file().display().to_string()), "{}", out.stderr);
        assert!(!out.stderr.contains(TEST_API_KEY) && !out.stdout.contains(TEST_API_KEY));
        let stored = std::fs::read_to_string(pier.config_file()).unwrap();
        assert!(stored.contains(TEST_API_KEY) && stored.contains(&url), "{stored}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(pier.config_file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // Later commands use the profile: no --server, no --api-key.
        let out = pier
            .run(&[
                "sources",
                "create",
                "--name",
                "inbound-api",
                "--verification-type",
                "api_key",
                "--header-key",
                "X-API-KEY",
                "--verification-key",
                "client-secret",
            ])
            .await
            .ok();
        assert!(out.stderr.contains("created source inbound-api (src_"), "{}", out.stderr);
        assert!(out.stderr.contains(&format!("{url}/e/")), "{}", out.stderr);
        assert!(!out.stderr.contains("client-secret") && out.stdout.is_empty());

        // The quickstart: a connection to mock.hookdeck.com, then PUT by name to a new URL.
        let out = pier
            .run(&[
                "connections",
                "create",
                "--name",
                "asynchronous-api-quickstart",
                "--source",
                "inbound-api",
                "--destination",
                "internal-api",
                "--url",
                "https://mock.hookdeck.com",
                "-o",
                "json",
            ])
            .await
            .ok();
        let created = out.json();
        assert_eq!(created["full_name"], "inbound-api -> asynchronous-api-quickstart");
        assert_eq!(created["source"]["verification"]["type"], "api_key");
        let conn_id = created["id"].as_str().unwrap().to_string();
        let source_url = created["source"]["url"].as_str().unwrap().to_string();
        let out = pier
            .run(&[
                "connections",
                "upsert",
                "--name",
                "asynchronous-api-quickstart",
                "--source",
                "inbound-api",
                "--destination",
                "internal-api",
                "--url",
                &receiver.url(),
                "--output",
                "json",
            ])
            .await
            .ok();
        let upserted = out.json();
        assert_eq!(upserted["id"], conn_id.as_str(), "the same connection");
        assert_eq!(upserted["destination"]["url"], receiver.url().as_str());

        // Lists: a table on stderr (nothing on stdout), or the API's JSON on stdout.
        let out = pier.run(&["connections", "list"]).await.ok();
        assert!(out.stdout.is_empty());
        let header = out.stderr.lines().next().unwrap_or_default();
        assert!(header.starts_with("ID") && header.contains("NAME") && header.contains("DESTINATION"), "{header}");
        let row = out.stderr.lines().find(|l| l.starts_with(&conn_id)).unwrap_or_default();
        assert!(row.contains("asynchronous-api-quickstart") && row.contains("internal-api"), "{}", out.stderr);
        assert!(row.contains(&receiver.url()) && row.contains("active"), "{row}");
        let list = pier.run(&["connections", "list", "-o", "json"]).await.ok().json();
        assert_eq!(list["count"], 1);
        assert_eq!(list["models"][0]["name"], "asynchronous-api-quickstart");
        let count = pier.run(&["connections", "count", "-o", "json"]).await.ok().json();
        assert_eq!(count["count"], 1);

        // Pause and unpause.
        let out = pier.run(&["connections", "pause", &conn_id]).await.ok();
        assert!(out.stderr.contains("paused connection inbound-api -> asynchronous-api-quickstart"), "{}", out.stderr);
        let got = pier.run(&["connections", "get", &conn_id, "-o", "json"]).await.ok().json();
        assert!(got["paused_at"].is_string(), "{got}");
        let out = pier.run(&["connections", "list"]).await.ok();
        assert!(out.stderr.contains("paused"), "{}", out.stderr);
        pier.run(&["connections", "unpause", &conn_id]).await.ok();
        let got = pier.run(&["connections", "get", &conn_id, "-o", "json"]).await.ok().json();
        assert!(got["paused_at"].is_null(), "{got}");

        // A request to the source becomes an event, delivered to the receiver.
        let body = r#"{"event_type":"mouse.click","click_x":"339"}"#;
        let resp = reqwest::Client::new()
            .post(format!("{source_url}/track"))
            .header("content-type", "application/json")
            .header("x-api-key", "client-secret")
            .body(body)
            .timeout(STEP)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        receiver.wait_for(1, STEP).await.unwrap();
        let events = eventually(STEP, "a successful event in pier events list", || async {
            let v = pier.run(&["events", "list", "--connection-id", &conn_id, "-o", "json"]).await.ok().json();
            (v["models"][0]["status"] == "SUCCESSFUL").then_some(v)
        })
        .await
        .unwrap();
        assert_eq!(events["count"], 1);
        let event_id = events["models"][0]["id"].as_str().unwrap().to_string();
        let request_id = events["models"][0]["request_id"].as_str().unwrap().to_string();
        let out = pier.run(&["events", "list", "--status", "successful"]).await.ok();
        assert!(out.stderr.lines().any(|l| l.starts_with(&event_id) && l.contains("SUCCESSFUL")), "{}", out.stderr);
        let out = pier.run(&["events", "get", &event_id]).await.ok();
        assert!(out.stderr.contains("/track"), "{}", out.stderr);
        let out = pier.run(&["requests", "list", "--status", "accepted"]).await.ok();
        assert!(out.stderr.lines().any(|l| l.starts_with(&request_id) && l.contains("accepted")), "{}", out.stderr);
        let out = pier.run(&["requests", "raw-body", &request_id]).await.ok();
        assert_eq!(out.stdout, body);
        let out = pier.run(&["requests", "events", &request_id, "-o", "json"]).await.ok();
        assert_eq!(out.json()["models"][0]["id"], event_id.as_str());
        let out = pier.run(&["attempts", "list", "--event-id", &event_id]).await.ok();
        assert!(out.stderr.lines().any(|l| l.contains(&event_id) && l.contains("SUCCESSFUL")), "{}", out.stderr);
        let out = pier.run(&["events", "retry", &event_id]).await.ok();
        assert!(out.stderr.contains(&format!("retried event {event_id}: attempt atm_")), "{}", out.stderr);
        receiver.wait_for(2, STEP).await.unwrap();
        let out = pier.run(&["requests", "retry", &request_id, "--connection-id", &conn_id]).await.ok();
        assert!(out.stderr.contains("retried request"), "{}", out.stderr);

        // Transformations: stored, then run on a sample request.
        let code = r#"addHandler("transform", (request, context) => { request.body.env = process.env.STAGE; return request; })"#;
        let args = ["transformations", "create", "--name", "tag", "--code", code, "--env", "STAGE=test", "-o", "json"];
        let trs_id = pier.run(&args).await.ok().json()["id"].as_str().unwrap().to_string();
        let out = pier.run(&["transformations", "run", "--id", &trs_id, "--body", r#"{"a":1}"#, "-o", "json"]).await.ok();
        assert_eq!(out.json()["request"]["body"], serde_json::json!({"a": 1, "env": "test"}));
        let out = pier.run(&["transformations", "run", "--code", "throw new Error('boom')"]).await;
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("boom") && out.stderr.contains("the transformation failed"), "{}", out.stderr);

        // Snapshots of one table and one JSON answer.
        let out = pier
            .run(&[
                "destinations",
                "create",
                "--name",
                "snapshot-dest",
                "--url",
                "https://example.com/hooks",
                "--rate-limit",
                "5",
                "--rate-limit-period",
                "second",
                "-o",
                "json",
            ])
            .await
            .ok();
        let dest_id = out.json()["id"].as_str().unwrap().to_string();
        let table = pier.run(&["destinations", "list", "--name", "snapshot-dest"]).await.ok();
        snapshot("destinations_list.txt", &normalise(&table.stderr));
        let json = pier.run(&["destinations", "get", &dest_id, "-o", "json"]).await.ok();
        snapshot("destination_get.json", &normalise(&json.stdout));

        // Paging prints the command for the next page.
        let out = pier.run(&["destinations", "list", "--limit", "1"]).await.ok();
        assert!(out.stderr.contains("next page: pier destinations list --limit 1 --next "), "{}", out.stderr);

        // Errors: exit 1 and a sentence that says what to do.
        let out = pier.run(&["sources", "get", "src_0000000000000000000"]).await;
        assert_eq!(out.code, 1);
        assert_eq!(out.stderr.trim(), "error: source not found (404); see pier sources list");
        let out = pier.run(&["events", "list", "--api-key", "pier_wrong"]).await;
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("refused") && out.stderr.contains("pier login"), "{}", out.stderr);
        let out = pier.run_env(&["sources", "list"], &[("PIER_API_KEY", "pier_wrong")]).await;
        assert_eq!(out.code, 1, "PIER_API_KEY overrides the profile: {}", out.stderr);
        let down = format!("http://127.0.0.1:{}", pier_testkit::free_port().unwrap());
        let out = pier.run(&["sources", "list", "--server", &down]).await;
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stderr.trim(),
            format!("error: cannot reach {down}: is pier serve running? set --server or PIER_SERVER")
        );
        let out = pier.run(&["connections", "create", "--name", "x", "--source", "inbound-api"]).await;
        assert_eq!(out.code, 2, "a usage error: {}", out.stderr);
        let out = pier.run(&["sources", "list", "--limit", "999"]).await;
        assert_eq!(out.code, 2, "{}", out.stderr);
        let out = pier.run(&["sources", "create", "--name", "bad name"]).await;
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("refused the request (422)") && out.stderr.contains("name"), "{}", out.stderr);
        let out = pier.run(&["sources", "list", "--profile", "work"]).await;
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("run pier login --profile work"), "{}", out.stderr);

        // Named profiles, and logout.
        pier.run(&["login", "--server", &url, "--api-key", TEST_API_KEY, "--profile", "work"]).await.ok();
        let list = pier.run(&["sources", "list", "--profile", "work", "-o", "json"]).await.ok().json();
        assert_eq!(list["count"], 1);
        pier.run(&["logout"]).await.ok();
        let out = pier.run(&["sources", "list"]).await;
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("no api key: run pier login"), "{}", out.stderr);
        pier.run(&["sources", "list", "--profile", "work"]).await.ok();
        let out = pier.run(&["sources", "list", "--api-key", TEST_API_KEY, "--server", &url, "-o", "json"]).await.ok();
        assert_eq!(out.json()["count"], 1, "flags alone are enough");

        // Lifecycle and delete.
        let out = pier.run(&["destinations", "disable", &dest_id, "--profile", "work"]).await.ok();
        assert!(out.stderr.contains("disabled destination snapshot-dest"), "{}", out.stderr);
        let list = pier.run(&["destinations", "list", "--profile", "work", "--disabled", "-o", "json"]).await;
        assert_eq!(list.ok().json()["count"], 2);
        pier.run(&["connections", "delete", &conn_id, "--profile", "work"]).await.ok();
        let out = pier.run(&["connections", "get", &conn_id, "--profile", "work"]).await;
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("not found"), "{}", out.stderr);
    })
    .await
    .expect("timed out");
}
