//! `pier listen` end to end: a real `pier serve`, a real local app (the quickstart app's shape:
//! `POST /*path` logs and answers 200), and `pier listen` as a child process. The seed's request
//! to the source URL reaches the app with its path; the CLI prints the line; the attempt shows
//! the app's status. Killing and restarting the server: the CLI reconnects by itself.

use pier_testkit::{eventually, PierProcess, TestReceiver, TEST_API_KEY};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Listen {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Listen {
    fn start(server: &str, port: u16) -> Listen {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(["listen", &port.to_string(), "inbound-api", "local", "--path", "/"])
            .env("PIER_SERVER", server)
            .env("PIER_API_KEY", TEST_API_KEY)
            .env("PIER_CONFIG_DIR", std::env::temp_dir().join(format!("pier-listen-test-{}", std::process::id())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pier listen");
        let out = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut o = out.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        Listen { child, out }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    async fn wait_for(&self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let o = self.output();
            if o.contains(text) {
                return o;
            }
            assert!(Instant::now() < deadline, "pier listen never printed {text:?}; output so far:\n{o}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BODY: &str =
    r#"{"event_type": "mouse.click", "click_x": "339", "click_y": "318", "timestamp": "2024-01-15T22:39:29.964Z"}"#;

#[tokio::test]
async fn events_reach_the_local_app_through_pier_listen() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let mut pier = PierProcess::start(env!("CARGO_BIN_EXE_pier"), &[]).await.unwrap();
        let app = TestReceiver::start().await.unwrap();
        let listen = Listen::start(&pier.url(), app.addr.port());
        let banner = listen.wait_for("Ready!", Duration::from_secs(30)).await;
        assert!(banner.contains("inbound-api Source"), "{banner}");
        assert!(banner.contains("local forwarding to /"), "{banner}");
        let url_line = banner.lines().find(|l| l.contains("Event URL:")).expect("the source URL is printed");
        let source_url = url_line.split("Event URL:").nth(1).unwrap().trim().to_string();
        assert!(source_url.starts_with(&format!("{}/e/", pier.url())));

        // The seed's curl.
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{source_url}/track"))
            .header("content-type", "application/json")
            .body(BODY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let got = app.wait_for(1, Duration::from_secs(20)).await.unwrap();
        assert_eq!(got[0].uri, "/track");
        assert_eq!(&got[0].body[..], BODY.as_bytes());
        let out = listen.wait_for("[200] POST", Duration::from_secs(10)).await;
        let line = out.lines().find(|l| l.contains("[200] POST")).unwrap();
        assert!(line.contains(&format!("http://localhost:{}/track", app.addr.port())), "{line}");
        assert!(line.contains("/events/evt_"), "{line}");
        let api = pier.api("2024-03-01");
        let event_id = line.rsplit("/events/").next().unwrap().trim().to_string();
        let attempts = eventually(Duration::from_secs(10), "the attempt", || {
            let (api, p) = (api.clone(), format!("/attempts?event_id={event_id}"));
            async move { api.ok(&p).await.ok().filter(|v| v["count"] == 1) }
        })
        .await
        .unwrap();
        assert_eq!(attempts["models"][0]["response_status"], 200);

        // The app answers 500: the CLI shows it and the attempt records it.
        app.set_status(500);
        http.post(format!("{source_url}/fail")).body("{}").send().await.unwrap();
        listen.wait_for("[500] POST", Duration::from_secs(10)).await;
        app.set_status(200);

        // Kill and restart the server: pier listen reconnects, later events arrive.
        pier.kill().unwrap();
        pier.restart().await.unwrap();
        listen.wait_for("Reconnected", Duration::from_secs(40)).await;
        let r = http.post(format!("{source_url}/after-restart")).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 200);
        // (An event whose attempt the kill cut short may arrive again first: at least once.)
        eventually(Duration::from_secs(20), "the event sent after the restart", || {
            let got = app.received();
            async move { got.iter().any(|r| r.uri == "/after-restart").then_some(()) }
        })
        .await
        .unwrap();
        let v: Value = api.ok("/connections?name=local").await.unwrap();
        assert_eq!(v["models"][0]["destination"]["cli_path"], "/");
    })
    .await
    .expect("timed out");
}
