//! A real HTTP receiver for delivery tests: it records every request (method, path, headers,
//! body, arrival time) and answers as the test tells it (status, a scripted sequence of
//! statuses, a delay to simulate a slow or hanging destination, extra headers).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    /// Header names lowercase; repeated headers joined with ", ".
    pub headers: HashMap<String, String>,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

#[derive(Default)]
struct Behaviour {
    status: u16,
    script: VecDeque<u16>,
    delay: Duration,
    headers: Vec<(String, String)>,
    /// Answer requests to this path with this JSON (e.g. an OAuth2 token endpoint).
    json_paths: HashMap<String, serde_json::Value>,
}

#[derive(Clone)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

pub struct TestReceiver {
    pub addr: std::net::SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

async fn handle(State(s): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut h: HashMap<String, String> = HashMap::new();
    for (k, v) in headers.iter() {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        h.entry(k.as_str().to_string())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert(v);
    }
    let path = uri.path().to_string();
    s.received.lock().unwrap().push(Received {
        method: method.to_string(),
        uri: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        headers: h,
        body,
        at: Instant::now(),
    });
    let (status, delay, extra, json) = {
        let mut b = s.behaviour.lock().unwrap();
        let status = b.script.pop_front().unwrap_or(b.status);
        (status, b.delay, b.headers.clone(), b.json_paths.get(&path).cloned())
    };
    if let Some(j) = json {
        return axum::Json(j).into_response();
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut r =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), format!("{{\"received\":true,\"status\":{status}}}"))
            .into_response();
    for (k, v) in extra {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

impl TestReceiver {
    /// Start on a free loopback port, answering 200.
    pub async fn start() -> anyhow::Result<TestReceiver> {
        let shared = Shared {
            received: Arc::default(),
            behaviour: Arc::new(Mutex::new(Behaviour { status: 200, ..Default::default() })),
        };
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(TestReceiver { addr, shared, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer this status from now on.
    pub fn set_status(&self, status: u16) {
        self.shared.behaviour.lock().unwrap().status = status;
    }

    /// Answer these statuses, in order, before falling back to the default.
    pub fn script(&self, statuses: &[u16]) {
        self.shared.behaviour.lock().unwrap().script.extend(statuses.iter().copied());
    }

    /// Wait this long before answering (a slow or hanging destination).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.behaviour.lock().unwrap().delay = delay;
    }

    /// Add a header to every answer.
    pub fn add_header(&self, name: &str, value: &str) {
        self.shared.behaviour.lock().unwrap().headers.push((name.into(), value.into()));
    }

    /// Answer requests to `path` with this JSON and status 200.
    pub fn serve_json(&self, path: &str, body: serde_json::Value) {
        self.shared.behaviour.lock().unwrap().json_paths.insert(path.into(), body);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Wait until at least `n` requests arrived (or fail after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> anyhow::Result<Vec<Received>> {
        crate::eventually(timeout, &format!("{n} requests at the receiver"), || {
            let r = self.received();
            async move { (r.len() >= n).then_some(r) }
        })
        .await
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
