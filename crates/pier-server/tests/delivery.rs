//! Delivery end to end, against real HTTP receivers: the seed flow with signatures, retries,
//! status-code rules, timeouts and transport errors, fairness between destinations, rate
//! limits, pause/unpause, manual retry, mute, auth methods, the mock API, the SSRF guard, and an
//! `https` destination whose certificate the configured CA file vouches for.

use base64::Engine;
use hmac::{Hmac, Mac};
use pier_testkit::{eventually, Api, TestReceiver, TestServer};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);
const SECRET: &str = "test-signing-secret";

async fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(LIMIT, f).await.expect("test timed out")
}

struct Fx {
    srv: TestServer,
    api: Api,
    http: reqwest::Client,
}

impl Fx {
    async fn new(f: impl FnOnce(&mut pier_server::Config)) -> Fx {
        let srv = TestServer::start_with(|c| {
            c.signing_secret = Some(SECRET.into());
            f(c)
        })
        .await
        .unwrap();
        let api = srv.api("2024-03-01");
        Fx { srv, api, http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap() }
    }

    /// A connection to `url` with these destination settings and rules; returns it.
    async fn connect(&self, name: &str, url: &str, destination: Value, rules: Value) -> Value {
        let mut d = json!({"name": format!("{name}-dst"), "url": url});
        d.as_object_mut().unwrap().extend(destination.as_object().cloned().unwrap_or_default());
        let body = json!({"name": name, "source": {"name": format!("{name}-src")}, "destination": d, "rules": rules});
        let (s, c) = self.api.post("/connections", &body).await.unwrap();
        assert_eq!(s, 200, "{c}");
        c
    }

    async fn send(&self, c: &Value, path: &str, body: &str) -> String {
        let url = format!("{}{path}", c["source"]["url"].as_str().unwrap());
        let r =
            self.http.post(url).header("content-type", "application/json").body(body.to_string()).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_string()
    }

    /// The one event of a request, once routed.
    async fn event_of(&self, request_id: &str) -> Value {
        eventually(Duration::from_secs(10), "the event", || {
            let (api, p) = (self.api.clone(), format!("/requests/{request_id}/events"));
            async move {
                let v = api.ok(&p).await.ok()?;
                v["models"].as_array().and_then(|m| m.first().cloned())
            }
        })
        .await
        .unwrap()
    }

    /// Wait until the event satisfies `pred`; returns it.
    async fn event_until(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        eventually(Duration::from_secs(30), what, || {
            let (api, p) = (self.api.clone(), format!("/events/{id}"));
            let pred = &pred;
            async move {
                let e = api.ok(&p).await.ok()?;
                pred(&e).then_some(e)
            }
        })
        .await
        .unwrap()
    }

    async fn attempts(&self, event_id: &str) -> Vec<Value> {
        let v = self.api.ok(&format!("/attempts?event_id={event_id}&dir=asc")).await.unwrap();
        v["models"].as_array().cloned().unwrap_or_default()
    }
}

fn b64_hmac(key: &[u8], msg: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    m.update(msg);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

#[tokio::test]
async fn seed_flow_delivers_path_body_and_a_verifiable_signature() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let rx = TestReceiver::start().await.unwrap();
        let c = fx.connect("seed", &rx.url(), json!({}), json!([])).await;
        let body = "{\n\"event_type\": \"mouse.click\",\n\"click_x\": \"339\"\n}";
        let rid = fx.send(&c, "/track?x=1", body).await;
        let got = rx.wait_for(1, Duration::from_secs(10)).await.unwrap();
        let r = &got[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.uri, "/track?x=1");
        assert_eq!(&r.body[..], body.as_bytes(), "body bytes unchanged");
        assert_eq!(r.header("x-hookdeck-signature").unwrap(), b64_hmac(SECRET.as_bytes(), body.as_bytes()));
        assert_eq!(r.header("content-type"), Some("application/json"), "original headers are forwarded");
        let event = fx.event_of(&rid).await;
        let eid = event["id"].as_str().unwrap();
        assert_eq!(r.header("x-hookdeck-eventid"), Some(eid));
        assert_eq!(r.header("idempotency-key"), Some(eid));
        assert_eq!(r.header("x-hookdeck-requestid"), Some(rid.as_str()));
        assert_eq!(r.header("x-hookdeck-source-name"), Some("seed-src"));
        assert_eq!(r.header("x-hookdeck-destination-name"), Some("seed-dst"));
        assert_eq!(r.header("x-hookdeck-connection-name"), Some("seed"));
        assert_eq!(r.header("x-hookdeck-attempt-count"), Some("1"));
        assert_eq!(r.header("x-hookdeck-attempt-trigger"), Some("INITIAL"));
        assert_eq!(r.header("x-hookdeck-verified"), Some("false"));
        assert_eq!(r.header("x-hookdeck-original-ip"), Some("127.0.0.1"));
        assert!(r.header("x-hookdeck-will-retry-after").is_some(), "a failure would be retried");
        assert!(r.header("host").is_some_and(|h| h == rx.addr.to_string()), "host is the destination's");
        let e = fx.event_until(eid, "success", |e| e["status"] == "SUCCESSFUL").await;
        assert_eq!(e["attempts"], 1);
        assert_eq!(e["response_status"], 200);
        assert!(e["successful_at"].is_string());
        assert_eq!(e["next_attempt_at"], Value::Null);
        let attempts = fx.attempts(eid).await;
        assert_eq!(attempts.len(), 1);
        let a = &attempts[0];
        assert_eq!(
            (a["status"].clone(), a["trigger"].clone(), a["attempt_number"].clone()),
            (json!("SUCCESSFUL"), json!("INITIAL"), json!(1))
        );
        assert_eq!(a["response_status"], 200);
        assert_eq!(a["requested_url"], format!("{}/track?x=1", rx.url()));
        assert_eq!(a["body"], json!({"received": true, "status": 200}));
        assert!(a["response_latency"].is_number() && a["delivery_latency"].is_number());
        let one = fx.api.ok(&format!("/attempts/{}", a["id"].as_str().unwrap())).await.unwrap();
        assert_eq!(one["id"], a["id"]);
    })
    .await
}

#[tokio::test]
async fn retries_follow_the_rule_until_success() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let rx = TestReceiver::start().await.unwrap();
        rx.script(&[500, 500]);
        let rules = json!([{"type": "retry", "strategy": "linear", "interval": 200, "count": 5}]);
        let c = fx.connect("retry", &rx.url(), json!({}), rules).await;
        let rid = fx.send(&c, "/", "{}").await;
        let eid = fx.event_of(&rid).await["id"].as_str().unwrap().to_string();
        let e = fx.event_until(&eid, "success after retries", |e| e["status"] == "SUCCESSFUL").await;
        assert_eq!(e["attempts"], 3);
        let attempts = fx.attempts(&eid).await;
        let triggers: Vec<&str> = attempts.iter().map(|a| a["trigger"].as_str().unwrap()).collect();
        assert_eq!(triggers, ["INITIAL", "AUTOMATIC", "AUTOMATIC"]);
        let statuses: Vec<i64> = attempts.iter().map(|a| a["response_status"].as_i64().unwrap()).collect();
        assert_eq!(statuses, [500, 500, 200]);
        let got = rx.received();
        let counts: Vec<&str> = got.iter().map(|r| r.header("x-hookdeck-attempt-count").unwrap()).collect();
        assert_eq!(counts, ["1", "2", "3"]);
        assert!(got.iter().all(|r| r.header("idempotency-key") == Some(eid.as_str())));
        let gap = got[1].at.duration_since(got[0].at);
        assert!(gap >= Duration::from_millis(200), "retries wait the interval: {gap:?}");
    })
    .await
}

#[tokio::test]
async fn status_code_rules_exhaustion_and_redirects() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        // Only 5xx is retried: a 404 fails at once.
        let rx = TestReceiver::start().await.unwrap();
        rx.set_status(404);
        let rules = json!([{"type": "retry", "strategy": "linear", "interval": 100, "count": 3, "response_status_codes": ["500-599"]}]);
        let c = fx.connect("codes", &rx.url(), json!({}), rules).await;
        let eid = fx.event_of(&fx.send(&c, "/", "{}").await).await["id"].as_str().unwrap().to_string();
        let e = fx.event_until(&eid, "failed", |e| e["status"] == "FAILED" && e["next_attempt_at"].is_null()).await;
        assert_eq!((e["attempts"].clone(), e["response_status"].clone()), (json!(1), json!(404)));

        // Always 500 with two retries: three attempts, then FAILED.
        let rx2 = TestReceiver::start().await.unwrap();
        rx2.set_status(500);
        let rules = json!([{"type": "retry", "strategy": "exponential", "interval": 100, "count": 2}]);
        let c2 = fx.connect("exhaust", &rx2.url(), json!({}), rules).await;
        let eid2 = fx.event_of(&fx.send(&c2, "/", "{}").await).await["id"].as_str().unwrap().to_string();
        let e2 = fx.event_until(&eid2, "exhausted", |e| e["attempts"] == 3 && e["next_attempt_at"].is_null()).await;
        assert_eq!(e2["status"], "FAILED");
        assert_eq!(rx2.received().len(), 3);

        // A redirect is a failure and is not followed.
        let rx3 = TestReceiver::start().await.unwrap();
        rx3.set_status(302);
        rx3.add_header("location", &format!("{}/elsewhere", rx.url()));
        let c3 = fx.connect("redirect", &rx3.url(), json!({}), json!([{"type": "retry", "strategy": "linear", "count": 0}])).await;
        let eid3 = fx.event_of(&fx.send(&c3, "/", "{}").await).await["id"].as_str().unwrap().to_string();
        let e3 = fx.event_until(&eid3, "failed redirect", |e| e["status"] == "FAILED").await;
        assert_eq!(e3["response_status"], 302);
        assert_eq!(rx3.received().len(), 1);
        assert!(rx.received().iter().all(|r| r.uri != "/elsewhere"), "the redirect was not followed");
    })
    .await
}

#[tokio::test]
async fn timeouts_and_refused_connections_have_error_codes() {
    run(async {
        let fx = Fx::new(|c| c.delivery_timeout_secs = 1).await;
        let slow = TestReceiver::start().await.unwrap();
        slow.set_delay(Duration::from_secs(5));
        let no_retry = json!([{"type": "retry", "strategy": "linear", "count": 0}]);
        let c = fx.connect("slow", &slow.url(), json!({}), no_retry.clone()).await;
        let eid = fx.event_of(&fx.send(&c, "/", "{}").await).await["id"].as_str().unwrap().to_string();
        let e = fx.event_until(&eid, "timeout", |e| e["status"] == "FAILED").await;
        assert_eq!(e["error_code"], "TIMEOUT");
        assert_eq!(e["response_status"], Value::Null);

        let port = pier_testkit::free_port().unwrap();
        let c2 = fx.connect("refused", &format!("http://127.0.0.1:{port}"), json!({}), no_retry).await;
        let eid2 = fx.event_of(&fx.send(&c2, "/", "{}").await).await["id"].as_str().unwrap().to_string();
        let e2 = fx.event_until(&eid2, "refused", |e| e["status"] == "FAILED").await;
        assert_eq!(e2["error_code"], "CONNECTION_REFUSED");
        let a = &fx.attempts(&eid2).await[0];
        assert_eq!(a["error_code"], "CONNECTION_REFUSED");
        assert_eq!(a["status"], "FAILED");
    })
    .await
}

#[tokio::test]
async fn a_hanging_destination_does_not_delay_a_healthy_one() {
    run(async {
        let fx = Fx::new(|c| {
            c.destination_concurrency = 4;
            c.delivery_timeout_secs = 60;
        })
        .await;
        let hang = TestReceiver::start().await.unwrap();
        hang.set_delay(Duration::from_secs(60));
        let healthy = TestReceiver::start().await.unwrap();
        let ch = fx.connect("hang", &hang.url(), json!({}), json!([])).await;
        let cg = fx.connect("good", &healthy.url(), json!({}), json!([])).await;
        for i in 0..20 {
            fx.send(&ch, "/", &format!("{{\"i\":{i}}}")).await;
        }
        hang.wait_for(4, Duration::from_secs(10)).await.unwrap();
        let started = std::time::Instant::now();
        for i in 0..20 {
            fx.send(&cg, "/", &format!("{{\"i\":{i}}}")).await;
        }
        healthy.wait_for(20, Duration::from_secs(10)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "healthy deliveries took {:?}", started.elapsed());
        assert_eq!(hang.received().len(), 4, "the hanging lane holds only its own concurrency");
    })
    .await
}

#[tokio::test]
async fn large_bodies_wait_for_room_in_the_body_budget() {
    run(async {
        let fx = Fx::new(|c| {
            c.max_in_flight_bytes = 64 * 1024;
            c.delivery_timeout_secs = 60;
        })
        .await;
        let hang = TestReceiver::start().await.unwrap();
        hang.set_delay(Duration::from_secs(60));
        let small = TestReceiver::start().await.unwrap();
        let cb = fx.connect("big", &hang.url(), json!({}), json!([])).await;
        let cs = fx.connect("small", &small.url(), json!({}), json!([])).await;
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(40 * 1024));
        for _ in 0..5 {
            fx.send(&cb, "/", &big).await;
        }
        hang.wait_for(1, Duration::from_secs(10)).await.unwrap();
        // Small bodies go on in the room the first large one leaves.
        for i in 0..20 {
            fx.send(&cs, "/", &format!("{{\"i\":{i}}}")).await;
        }
        small.wait_for(20, Duration::from_secs(10)).await.unwrap();
        assert_eq!(hang.received().len(), 1, "a second 40 KiB body does not fit beside the first in 64 KiB");
        assert_eq!(hang.received()[0].body.len(), big.len());
        let cid = cb["id"].as_str().unwrap();
        let queued = fx.api.ok(&format!("/events?webhook_id={cid}&status=QUEUED")).await.unwrap();
        assert_eq!(queued["count"], 5, "the waiting ones stay queued: {queued}");
        // The gauges say so (read at each scrape).
        let want = format!("pier_delivery_body_bytes_in_flight {}", big.len());
        let metrics = format!("{}/metrics", fx.srv.url());
        eventually(Duration::from_secs(10), "the body budget's gauges", || {
            let (http, url, want) = (fx.http.clone(), metrics.clone(), want.clone());
            async move {
                let text = http.get(url).send().await.ok()?.text().await.ok()?;
                (text.lines().any(|l| l == want) && text.lines().any(|l| l == "pier_deliveries_in_flight 1"))
                    .then_some(())
            }
        })
        .await
        .unwrap();
    })
    .await
}

#[tokio::test]
async fn a_body_larger_than_the_budget_is_delivered_alone() {
    run(async {
        let fx = Fx::new(|c| c.max_in_flight_bytes = 16 * 1024).await;
        let rx = TestReceiver::start().await.unwrap();
        let c = fx.connect("huge", &rx.url(), json!({}), json!([])).await;
        let huge = format!("{{\"pad\":\"{}\"}}", "y".repeat(40 * 1024));
        for _ in 0..3 {
            fx.send(&c, "/", &huge).await;
        }
        let got = rx.wait_for(3, Duration::from_secs(20)).await.unwrap();
        assert!(got.iter().all(|r| r.body.len() == huge.len()));
    })
    .await
}

#[tokio::test]
async fn rate_limits_hold_at_the_receiver_and_nothing_is_dropped() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let rx = TestReceiver::start().await.unwrap();
        let c =
            fx.connect("limited", &rx.url(), json!({"rate_limit": 5, "rate_limit_period": "second"}), json!([])).await;
        for i in 0..15 {
            fx.send(&c, "/", &format!("{{\"i\":{i}}}")).await;
        }
        let got = rx.wait_for(15, Duration::from_secs(20)).await.unwrap();
        let times: Vec<std::time::Instant> = got.iter().map(|r| r.at).collect();
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| u.duration_since(*t) < Duration::from_secs(1)).count();
            assert!(in_window <= 5, "{in_window} deliveries within one second starting at #{i}");
        }
        let failed = fx.api.ok("/events?status=FAILED").await.unwrap();
        assert_eq!(failed["count"], 0, "waiting events are never failed for the limit");
    })
    .await
}

#[tokio::test]
async fn pause_holds_and_unpause_delivers() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let rx = TestReceiver::start().await.unwrap();
        let c = fx.connect("pause", &rx.url(), json!({}), json!([])).await;
        let cid = c["id"].as_str().unwrap();
        assert_eq!(fx.api.put(&format!("/connections/{cid}/pause"), &json!({})).await.unwrap().0, 200);
        for i in 0..5 {
            fx.send(&c, "/", &format!("{{\"i\":{i}}}")).await;
        }
        eventually(Duration::from_secs(10), "5 held events", || {
            let api = fx.api.clone();
            async move { (api.ok("/events?status=HOLD").await.ok()?["count"] == 5).then_some(()) }
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.received().len(), 0, "nothing is delivered while paused");
        assert_eq!(fx.api.put(&format!("/connections/{cid}/unpause"), &json!({})).await.unwrap().0, 200);
        let got = rx.wait_for(5, Duration::from_secs(10)).await.unwrap();
        assert!(got.iter().all(|r| r.header("x-hookdeck-attempt-trigger") == Some("UNPAUSE")));
    })
    .await
}

#[tokio::test]
async fn manual_retry_and_mute() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let rx = TestReceiver::start().await.unwrap();
        rx.set_status(500);
        let rules = json!([{"type": "retry", "strategy": "linear", "interval": 600000, "count": 5}]);
        let c = fx.connect("manual", &rx.url(), json!({}), rules).await;
        let eid = fx.event_of(&fx.send(&c, "/", "{}").await).await["id"].as_str().unwrap().to_string();
        fx.event_until(&eid, "first failure", |e| e["attempts"] == 1).await;
        rx.set_status(200);
        let (s, v) = fx.api.post(&format!("/events/{eid}/retry"), &json!({})).await.unwrap();
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["attempt"]["trigger"], "MANUAL");
        assert_eq!(v["attempt"]["response_status"], 200);
        assert_eq!(v["event"]["status"], "SUCCESSFUL");
        assert_eq!(rx.received().last().unwrap().header("x-hookdeck-attempt-trigger"), Some("MANUAL"));
        assert_eq!(fx.api.post("/events/evt_nope/retry", &json!({})).await.unwrap().0, 404);

        // Mute stops the pending retries.
        rx.set_status(500);
        let eid2 = fx.event_of(&fx.send(&c, "/", "{}").await).await["id"].as_str().unwrap().to_string();
        fx.event_until(&eid2, "first failure", |e| e["attempts"] == 1 && e["next_attempt_at"].is_string()).await;
        let (s, muted) = fx.api.put(&format!("/events/{eid2}/mute"), &json!({})).await.unwrap();
        assert_eq!(s, 200);
        assert_eq!((muted["status"].clone(), muted["next_attempt_at"].clone()), (json!("CANCELLED"), Value::Null));
        assert_eq!(fx.srv.api("2025-07-01").put(&format!("/events/{eid2}/cancel"), &json!({})).await.unwrap().0, 200);
    })
    .await
}

#[tokio::test]
async fn auth_methods_sign_as_documented() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let rx = TestReceiver::start().await.unwrap();
        rx.serve_json("/token", json!({"access_token": "tok-123", "token_type": "bearer", "expires_in": 3600}));
        let whsec = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(b"standard-secret-bytes"));
        let methods = [
            ("basic", json!({"type": "BASIC_AUTH", "config": {"username": "u", "password": "p"}})),
            ("bearer", json!({"type": "BEARER_TOKEN", "config": {"token": "t0k"}})),
            ("apikey", json!({"type": "API_KEY", "config": {"key": "X-Api-Key", "api_key": "k1"}})),
            ("apiquery", json!({"type": "API_KEY", "config": {"key": "key", "api_key": "k2", "to": "query"}})),
            ("custom", json!({"type": "CUSTOM_SIGNATURE", "config": {"key": "X-Sig", "signing_secret": "cs"}})),
            ("standard", json!({"type": "STANDARD_WEBHOOKS", "config": {"secret": whsec}})),
            ("oauth", json!({"type": "OAUTH2_CLIENT_CREDENTIALS", "config": {"client_id": "id", "client_secret": "sec", "auth_server": format!("{}/token", rx.url())}})),
        ];
        let body = r#"{"hello":"world"}"#;
        for (name, auth) in &methods {
            let c = fx.connect(name, &format!("{}/{name}", rx.url()), json!({"auth_method": auth}), json!([])).await;
            fx.send(&c, "", body).await;
            fx.send(&c, "", body).await;
        }
        let got = rx.wait_for(methods.len() * 2 + 1, Duration::from_secs(10)).await.unwrap();
        let at = |p: &str| got.iter().find(|r| r.uri.starts_with(p)).unwrap_or_else(|| panic!("no request to {p}"));
        assert_eq!(at("/basic").header("authorization"), Some("Basic dTpw"));
        assert_eq!(at("/bearer").header("authorization"), Some("Bearer t0k"));
        assert_eq!(at("/apikey").header("x-api-key"), Some("k1"));
        assert_eq!(at("/apiquery").uri, "/apiquery?key=k2");
        assert_eq!(at("/custom").header("x-sig").unwrap(), b64_hmac(b"cs", body.as_bytes()));
        // Standard Webhooks, verified with the published algorithm.
        let s = at("/standard");
        let (id, ts) = (s.header("webhook-id").unwrap(), s.header("webhook-timestamp").unwrap());
        assert!(id.starts_with("evt_"));
        let ts_n: i64 = ts.parse().unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!((now - ts_n).abs() < 60);
        let key = base64::engine::general_purpose::STANDARD.decode(whsec.trim_start_matches("whsec_")).unwrap();
        let signed = format!("{id}.{ts}.{body}");
        assert_eq!(s.header("webhook-signature").unwrap(), format!("v1,{}", b64_hmac(&key, signed.as_bytes())));
        // OAuth2: one token request for both deliveries, then the bearer token.
        let token_requests: Vec<_> = got.iter().filter(|r| r.uri == "/token").collect();
        assert_eq!(token_requests.len(), 1, "the token is cached");
        assert_eq!(token_requests[0].header("authorization"), Some("Basic aWQ6c2Vj"));
        assert!(String::from_utf8_lossy(&token_requests[0].body).contains("grant_type=client_credentials"));
        assert!(got.iter().filter(|r| r.uri.starts_with("/oauth")).all(|r| r.header("authorization") == Some("Bearer tok-123")));
        // Every delivery also carries Pier's own signature.
        assert!(got.iter().filter(|r| r.uri != "/token").all(|r| r.header("x-hookdeck-signature").is_some()));
    })
    .await
}

#[tokio::test]
async fn the_mock_api_answers_without_a_network() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let c = fx.connect("mock", "https://mock.hookdeck.com", json!({}), json!([])).await;
        let eid = fx.event_of(&fx.send(&c, "/track", "{}").await).await["id"].as_str().unwrap().to_string();
        fx.event_until(&eid, "mock success", |e| e["status"] == "SUCCESSFUL").await;
        let own = fx.connect("own-mock", &format!("{}/mock", fx.srv.url()), json!({}), json!([])).await;
        let eid = fx.event_of(&fx.send(&own, "/x", "{}").await).await["id"].as_str().unwrap().to_string();
        let e = fx.event_until(&eid, "mock success", |e| e["status"] == "SUCCESSFUL").await;
        assert_eq!(e["response_status"], 200);
        let r = fx.http.post(format!("{}/mock/anything", fx.srv.url())).body("x").send().await.unwrap();
        assert_eq!(r.status(), 200);
    })
    .await
}

#[tokio::test]
async fn private_destinations_are_refused_unless_allowed() {
    run(async {
        let fx = Fx::new(|c| c.allow_private_destinations = false).await;
        let rx = TestReceiver::start().await.unwrap();
        let no_retry = json!([{"type": "retry", "strategy": "linear", "count": 0}]);
        for (name, url) in [("ip", rx.url()), ("name", format!("http://localhost:{}", rx.addr.port()))] {
            let c = fx.connect(name, &url, json!({}), no_retry.clone()).await;
            let eid = fx.event_of(&fx.send(&c, "/", "{}").await).await["id"].as_str().unwrap().to_string();
            let e = fx.event_until(&eid, "refused", |e| e["status"] == "FAILED").await;
            assert_eq!(e["error_code"], "HOST_UNREACHABLE", "{name}");
            let a = &fx.attempts(&eid).await[0];
            assert!(a["body"].as_str().unwrap_or_default().contains("not a public address"), "{a}");
        }
        assert_eq!(rx.received().len(), 0, "no connection reached the private receiver");
    })
    .await
}

#[tokio::test]
async fn signing_secret_rotation_sends_both_signatures() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let rx = TestReceiver::start().await.unwrap();
        let c = fx.connect("rotate", &rx.url(), json!({}), json!([])).await;
        let project = c["team_id"].as_str().unwrap();
        let far = pier_server::clock::now_ms() + 3_600_000;
        fx.srv.server.store.rotate_signing_secret(project, "new-secret", far).await.unwrap();
        // The delivery cache keeps project settings for up to a second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        fx.send(&c, "/", "{}").await;
        let r = &rx.wait_for(1, Duration::from_secs(10)).await.unwrap()[0];
        assert_eq!(r.header("x-hookdeck-signature").unwrap(), b64_hmac(b"new-secret", b"{}"));
        assert_eq!(r.header("x-hookdeck-signature-2").unwrap(), b64_hmac(SECRET.as_bytes(), b"{}"));
    })
    .await
}

#[tokio::test]
async fn request_retry_reroutes_ignored_connections() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let rx = TestReceiver::start().await.unwrap();
        let c = fx.connect("again", &rx.url(), json!({}), json!([])).await;
        let cid = c["id"].as_str().unwrap();
        fx.api.put(&format!("/connections/{cid}/disable"), &json!({})).await.unwrap();
        let rid = fx.send(&c, "/", "{}").await;
        eventually(Duration::from_secs(10), "ignored", || {
            let (api, p) = (fx.api.clone(), format!("/requests/{rid}/ignored_events"));
            async move { (api.ok(&p).await.ok()?["count"] == 1).then_some(()) }
        })
        .await
        .unwrap();
        fx.api.put(&format!("/connections/{cid}/enable"), &json!({})).await.unwrap();
        let (s, v) = fx.api.post(&format!("/requests/{rid}/retry"), &json!({"webhook_ids": [cid]})).await.unwrap();
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["events"].as_array().unwrap().len(), 1);
        assert_eq!(v["request"]["ignored_count"], 0);
        rx.wait_for(1, Duration::from_secs(10)).await.unwrap();
        let (s, _) =
            fx.api.post(&format!("/requests/{rid}/retry"), &json!({"webhook_ids": ["web_other"]})).await.unwrap();
        assert_eq!(s, 422);
    })
    .await
}

#[tokio::test]
async fn metrics_summarise_traffic_errors_latency_and_queues() {
    run(async {
        let fx = Fx::new(|_| {}).await;
        let ok = TestReceiver::start().await.unwrap();
        let bad = TestReceiver::start().await.unwrap();
        bad.set_status(500);
        let c_ok = fx.connect("m-ok", &ok.url(), json!({}), json!([])).await;
        let c_bad = fx
            .connect(
                "m-bad",
                &bad.url(),
                json!({}),
                json!([{"type": "retry", "strategy": "linear", "interval": 600000, "count": 3}]),
            )
            .await;
        for _ in 0..3 {
            fx.send(&c_ok, "/", "{}").await;
        }
        fx.send(&c_bad, "/", "{}").await;
        ok.wait_for(3, Duration::from_secs(10)).await.unwrap();
        bad.wait_for(1, Duration::from_secs(10)).await.unwrap();
        let m = eventually(Duration::from_secs(10), "metrics", || {
            let api = fx.api.clone();
            async move { api.ok("/metrics/summary?minutes=15").await.ok().filter(|m| m["totals"]["attempts"] == 4) }
        })
        .await
        .unwrap();
        assert_eq!(m["minutes"], 15);
        assert_eq!(m["buckets"].as_array().unwrap().len(), 15);
        assert_eq!(m["totals"]["requests"], 4);
        assert_eq!(m["totals"]["events"], 4);
        assert_eq!(m["totals"]["failed_attempts"], 1);
        assert_eq!(m["totals"]["error_rate"], 0.25);
        assert!(m["totals"]["latency_p99_ms"].is_number());
        let queue = m["queue"].as_array().unwrap();
        assert_eq!(queue.len(), 1, "the failing destination has a retry waiting: {queue:?}");
        assert_eq!(queue[0]["destination_name"], "m-bad-dst");
        assert_eq!(queue[0]["depth"], 1);
        assert_eq!(fx.api.get("/metrics/summary?minutes=2").await.unwrap().0, 422);
    })
    .await
}

/// An HTTPS receiver on 127.0.0.1 whose certificate (for `localhost`) a fresh test CA signs:
/// returns its port, the CA's certificate as PEM, and the bodies it has received.
async fn tls_receiver() -> (u16, String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf =
        CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let tls =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let bodies = got.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, bodies) = (acceptor.clone(), bodies.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let bodies = bodies.clone();
                    async move {
                        use http_body_util::BodyExt;
                        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        bodies.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
                        Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from_static(b"ok"),
                        )))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    (port, ca.pem(), got)
}

#[tokio::test]
async fn an_https_destination_signed_by_the_configured_ca_gets_its_events() {
    run(async {
        let (port, ca_pem, got) = tls_receiver().await;
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("internal-ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        let fx = Fx::new(|c| c.delivery_ca_file = Some(ca_file.clone())).await;
        let c = fx.connect("tls", &format!("https://localhost:{port}/in"), json!({}), json!([])).await;
        let request_id = fx.send(&c, "", r#"{"over":"tls"}"#).await;
        let body = eventually(Duration::from_secs(30), "the delivery over https", || {
            let got = got.clone();
            async move { got.lock().unwrap().first().cloned() }
        })
        .await
        .unwrap();
        assert_eq!(body, r#"{"over":"tls"}"#);
        let event = fx.event_of(&request_id).await;
        let attempts = eventually(Duration::from_secs(10), "the attempt", || {
            let (api, p) = (fx.api.clone(), format!("/attempts?event_id={}", event["id"].as_str().unwrap()));
            async move { api.ok(&p).await.ok().filter(|v| v["count"] == 1) }
        })
        .await
        .unwrap();
        assert_eq!(attempts["models"][0]["response_status"], 200, "{attempts}");
    })
    .await
}
