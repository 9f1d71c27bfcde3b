//! Ingest over real HTTP: every rejection cause of SPEC §3, custom responses, path and query
//! forwarding, bad input (malformed JSON, invalid UTF-8 headers, slow uploads).

use base64::Engine;
use pier_core::verification::{hmac_signature, HmacAlgorithm, HmacEncoding};
use pier_testkit::{eventually, Api, TestServer};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(60);

struct Fixture {
    server: TestServer,
    api: Api,
    http: reqwest::Client,
}

impl Fixture {
    async fn new() -> Fixture {
        Self::with(|_| {}).await
    }
    async fn with(f: impl FnOnce(&mut pier_server::Config)) -> Fixture {
        let server = TestServer::start_with(f).await.expect("server");
        let api = server.api("2024-03-01");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        Fixture { server, api, http }
    }

    /// Create a connection whose source has `source` settings; returns the source URL.
    async fn source(&self, name: &str, source: Value) -> String {
        let mut s = json!({"name": name});
        s.as_object_mut().unwrap().extend(source.as_object().cloned().unwrap_or_default());
        let (st, c) = self
            .api
            .post("/connections", &json!({"name": format!("{name}-c"), "source": s, "destination": {"name": format!("{name}-d"), "url": "http://127.0.0.1:9/"}}))
            .await
            .unwrap();
        assert_eq!(st, 200, "{c}");
        c["source"]["url"].as_str().unwrap().to_string()
    }

    /// The newest request of the project.
    async fn last_request(&self) -> Value {
        self.api.ok("/requests?limit=1").await.unwrap()["models"][0].clone()
    }

    async fn request_count(&self) -> u64 {
        self.api.ok("/requests").await.unwrap()["count"].as_u64().unwrap()
    }
}

async fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(LIMIT, f).await.expect("test timed out")
}

#[tokio::test]
async fn unknown_source_is_404_and_stores_nothing() {
    run(async {
        let fx = Fixture::new().await;
        let r = fx.http.post(format!("{}/e/doesnotexist/x", fx.server.url())).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 404);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "NOT_FOUND");
        assert_eq!(fx.request_count().await, 0);
    })
    .await
}

#[tokio::test]
async fn unsupported_method_is_405_and_recorded() {
    run(async {
        let fx = Fixture::new().await;
        let url = fx.source("m", json!({"allowed_http_methods": ["POST"]})).await;
        let r = fx.http.put(&url).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 405);
        let req = fx.last_request().await;
        assert_eq!(req["rejection_cause"], "UNSUPPORTED_HTTP_METHOD");
        assert_eq!(req["events_count"], 0);
        // GET is refused by default too.
        assert_eq!(fx.http.get(&url).send().await.unwrap().status(), 405);
    })
    .await
}

#[tokio::test]
async fn oversized_body_is_413_and_recorded_without_body() {
    run(async {
        let fx = Fixture::with(|c| c.body_limit = 1024).await;
        let url = fx.source("big", json!({})).await;
        let r = fx.http.post(&url).body(vec![b'a'; 4096]).send().await.unwrap();
        assert_eq!(r.status(), 413);
        let req = fx.last_request().await;
        assert_eq!(req["rejection_cause"], "PAYLOAD_TOO_LARGE");
        let raw = fx.api.ok(&format!("/requests/{}/raw_body", req["id"].as_str().unwrap())).await.unwrap();
        assert_eq!(raw["body"], "", "the oversized body is not stored");
        // A chunked body without Content-Length is cut off at the limit as well.
        let stream =
            futures::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'b'; 512]))));
        let r = fx.http.post(&url).body(reqwest::Body::wrap_stream(stream)).send().await.unwrap();
        assert_eq!(r.status(), 413);
        // At the limit is fine.
        let r = fx.http.post(&url).body(vec![b'a'; 1024]).send().await.unwrap();
        assert_eq!(r.status(), 200);
    })
    .await
}

#[tokio::test]
async fn verification_failures_are_401_and_recorded() {
    run(async {
        let fx = Fixture::new().await;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let basic = fx
            .source("basic", json!({"verification": {"type": "BASIC_AUTH", "configs": {"username": "u", "password": "p"}}}))
            .await;
        let r = fx.http.post(&basic).header("authorization", format!("Basic {}", b64("u:p"))).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = fx.http.post(&basic).header("authorization", format!("Basic {}", b64("u:x"))).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(fx.last_request().await["rejection_cause"], "VERIFICATION_FAILED");

        let hmac = fx
            .source(
                "hmac",
                json!({"verification": {"type": "hmac", "configs": {"webhook_secret_key": "whsec", "algorithm": "sha256", "header_key": "x-signature", "encoding": "hex"}}}),
            )
            .await;
        let body = r#"{"id":1}"#;
        let sig = hmac_signature(HmacAlgorithm::Sha256, HmacEncoding::Hex, b"whsec", body.as_bytes());
        let r = fx.http.post(&hmac).header("x-signature", &sig).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let ok = fx.last_request().await;
        assert_eq!(ok["verified"], true);
        let r = fx.http.post(&hmac).header("x-signature", &sig).body(r#"{"id":2}"#).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let bad = fx.last_request().await;
        assert_eq!(bad["rejection_cause"], "VERIFICATION_FAILED");
        assert_eq!(bad["verified"], false);
        let r = fx.http.post(&hmac).body(body).send().await.unwrap();
        assert_eq!(r.status(), 401);
        // No events for rejected requests.
        let events = fx.api.ok(&format!("/requests/{}/events", bad["id"].as_str().unwrap())).await.unwrap();
        assert_eq!(events["count"], 0);
    })
    .await
}

#[tokio::test]
async fn provider_presets_check_signatures_as_the_provider_does() {
    run(async {
        let fx = Fixture::new().await;
        let body = r#"{"action":"opened"}"#;
        // GitHub: X-Hub-Signature-256: sha256=<hex HMAC of the body>.
        let gh = fx
            .source("gh", json!({"verification": {"type": "GITHUB", "configs": {"webhook_secret_key": "gh-secret"}}}))
            .await;
        let sig = format!(
            "sha256={}",
            hmac_signature(HmacAlgorithm::Sha256, HmacEncoding::Hex, b"gh-secret", body.as_bytes())
        );
        let r = fx.http.post(&gh).header("x-hub-signature-256", &sig).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(fx.last_request().await["verified"], true);
        let r = fx.http.post(&gh).header("x-hub-signature-256", "sha256=00").body(body).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(fx.last_request().await["rejection_cause"], "VERIFICATION_FAILED");

        // Stripe: t=<now>,v1=<hex HMAC of "t.body">; an old timestamp is refused.
        let st = fx
            .source("st", json!({"verification": {"type": "stripe", "configs": {"webhook_secret_key": "whsec_abc"}}}))
            .await;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let stripe = |t: i64| {
            let v1 = hmac_signature(
                HmacAlgorithm::Sha256,
                HmacEncoding::Hex,
                b"whsec_abc",
                format!("{t}.{body}").as_bytes(),
            );
            format!("t={t},v1={v1}")
        };
        let r = fx.http.post(&st).header("stripe-signature", stripe(now)).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = fx.http.post(&st).header("stripe-signature", stripe(now - 3600)).body(body).send().await.unwrap();
        assert_eq!(r.status(), 401, "a signature from an hour ago is a replay");

        // The API names the type and never shows the secret.
        let (_, sources) = fx.api.get("/sources?name=st").await.unwrap();
        assert_eq!(sources["models"][0]["verification"]["type"], "stripe");
        assert!(!sources.to_string().contains("whsec_abc"));
        let (s, e) = fx
            .api
            .post("/sources", &json!({"name": "tw", "verification": {"type": "twilio", "configs": {}}}))
            .await
            .unwrap();
        assert_eq!(s, 422, "{e}");
    })
    .await
}

#[tokio::test]
async fn disabled_source_is_rejected_with_version_names() {
    run(async {
        let fx = Fixture::new().await;
        let url = fx.source("off", json!({})).await;
        let src = fx.api.ok("/sources?name=off").await.unwrap()["models"][0].clone();
        let (s, v) =
            fx.api.put(&format!("/sources/{}/disable", src["id"].as_str().unwrap()), &json!({})).await.unwrap();
        assert_eq!(s, 200);
        assert!(v["disabled_at"].is_string());
        let r = fx.http.post(&url).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 403);
        let req = fx.last_request().await;
        assert_eq!(req["rejection_cause"], "SOURCE_DISABLED");
        let old = fx.server.api("2023-07-01").ok(&format!("/requests/{}", req["id"].as_str().unwrap())).await.unwrap();
        assert_eq!(old["rejection_cause"], "SOURCE_ARCHIVED");
        // Enabled again, it accepts.
        fx.api.put(&format!("/sources/{}/enable", src["id"].as_str().unwrap()), &json!({})).await.unwrap();
        assert_eq!(fx.http.post(&url).body("{}").send().await.unwrap().status(), 200);
    })
    .await
}

#[tokio::test]
async fn no_connection_is_recorded_with_version_names() {
    run(async {
        let fx = Fixture::new().await;
        let (s, src) = fx.api.post("/sources", &json!({"name": "lonely"})).await.unwrap();
        assert_eq!(s, 200);
        let r = fx.http.post(src["url"].as_str().unwrap()).body("{}").send().await.unwrap();
        assert_eq!(r.status(), 200, "accepted: the request is stored");
        let id = r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_string();
        let req = eventually(Duration::from_secs(10), "routing", || {
            let (api, id) = (fx.api.clone(), id.clone());
            async move {
                let v = api.ok(&format!("/requests/{id}")).await.ok()?;
                (!v["rejection_cause"].is_null()).then_some(v)
            }
        })
        .await
        .unwrap();
        assert_eq!(req["rejection_cause"], "NO_CONNECTION");
        let old = fx.server.api("2023-07-01").ok(&format!("/requests/{id}")).await.unwrap();
        assert_eq!(old["rejection_cause"], "NO_WEBHOOK");
    })
    .await
}

#[tokio::test]
async fn custom_response_path_and_query_are_kept() {
    run(async {
        let fx = Fixture::new().await;
        let url = fx.source("custom", json!({"custom_response": {"content_type": "xml", "body": "<ok/>"}})).await;
        let r = fx.http.post(format!("{url}/a/b%20c?x=1&y=2&y=3")).body("not json at all").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/xml");
        assert_eq!(r.text().await.unwrap(), "<ok/>");
        let req = fx.api.ok(&format!("/requests/{}", fx.last_request().await["id"].as_str().unwrap())).await.unwrap();
        assert_eq!(req["data"]["path"], "/a/b%20c");
        assert_eq!(req["data"]["query"], "x=1&y=2&y=3");
        assert_eq!(req["data"]["parsed_query"], json!({"x": "1", "y": ["2", "3"]}));
        // Malformed JSON is accepted and stored as bytes.
        assert_eq!(req["data"]["body"], "not json at all");
    })
    .await
}

#[tokio::test]
async fn invalid_utf8_header_is_stored_escaped() {
    run(async {
        let fx = Fixture::new().await;
        let url = fx.source("bytes", json!({})).await;
        let addr = fx.server.server.addr;
        let path = url.split(&addr.to_string()).nth(1).unwrap().to_string();
        let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut req = format!("POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nx-raw: ok").into_bytes();
        req.extend_from_slice(b"\xff\xfe\r\nconnection: close\r\n\r\n{}");
        sock.write_all(&req).await.unwrap();
        let mut answer = Vec::new();
        sock.read_to_end(&mut answer).await.unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
        let req = fx.api.ok(&format!("/requests/{}", fx.last_request().await["id"].as_str().unwrap())).await.unwrap();
        assert_eq!(req["data"]["headers"]["x-raw"], "ok\\xff\\xfe");
    })
    .await
}

#[tokio::test]
async fn slow_upload_is_cut_off() {
    run(async {
        let fx = Fixture::with(|c| c.body_timeout_secs = 1).await;
        let url = fx.source("slow", json!({})).await;
        let addr = fx.server.server.addr;
        let path = url.split(&addr.to_string()).nth(1).unwrap().to_string();
        let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Promise 1000 bytes, send 10, then stall.
        sock.write_all(format!("POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n0123456789").as_bytes())
            .await
            .unwrap();
        let mut answer = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut answer)).await.expect("answered").unwrap();
        assert!(
            String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&answer[..n])
        );
        assert_eq!(fx.request_count().await, 0, "an incomplete upload was never acknowledged, so nothing is stored");
    })
    .await
}
