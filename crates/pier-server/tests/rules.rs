//! Rules end to end: filters, JavaScript transformations (order, limits, env, logs), delay and
//! deduplication, and the transformations API.

use base64::Engine;
use hmac::{Hmac, Mac};
use pier_testkit::{eventually, Api, TestReceiver, TestServer};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(90);

async fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(LIMIT, f).await.expect("test timed out")
}

struct Fx {
    srv: TestServer,
    api: Api,
    http: reqwest::Client,
}

impl Fx {
    async fn new() -> Fx {
        let srv = TestServer::start_with(|c| c.signing_secret = Some("secret".into())).await.unwrap();
        let api = srv.api("2024-03-01");
        Fx { srv, api, http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap() }
    }

    async fn connect(&self, name: &str, url: &str, rules: Value) -> Value {
        let body = json!({"name": name, "source": {"name": format!("{name}-src")},
                          "destination": {"name": format!("{name}-dst"), "url": url}, "rules": rules});
        let (s, c) = self.api.post("/connections", &body).await.unwrap();
        assert_eq!(s, 200, "{c}");
        c
    }

    async fn send(&self, c: &Value, body: &str) -> String {
        let r = self
            .http
            .post(c["source"]["url"].as_str().unwrap())
            .header("x-custom", "1")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_string()
    }

    /// Wait until the request is routed; returns (events, ignored events).
    async fn routed(&self, rid: &str) -> (Value, Value) {
        eventually(Duration::from_secs(20), "routing", || {
            let (api, rid) = (self.api.clone(), rid.to_string());
            async move {
                let r = api.ok(&format!("/requests/{rid}")).await.ok()?;
                let n = r["events_count"].as_i64()? + r["ignored_count"].as_i64()?;
                if n == 0 {
                    return None;
                }
                let e = api.ok(&format!("/requests/{rid}/events")).await.ok()?;
                let i = api.ok(&format!("/requests/{rid}/ignored_events")).await.ok()?;
                Some((e, i))
            }
        })
        .await
        .unwrap()
    }
}

const PRIORITY: &str = r#"addHandler("transform", (request, context) => {
  request.body.priority = request.body.amount > 100 ? "high" : "low";
  request.headers["x-transformed"] = "yes";
  console.log("priority", request.body.priority);
  return request;
});"#;

#[tokio::test]
async fn transform_then_filter_routes_by_the_added_field() {
    run(async {
        let fx = Fx::new().await;
        let rx = TestReceiver::start().await.unwrap();
        let rules = json!([
            {"type": "transform", "transformation": {"name": "priority", "code": PRIORITY}},
            {"type": "filter", "body": {"priority": "high"}}
        ]);
        let c = fx.connect("tf", &rx.url(), rules).await;
        assert!(c["rules"][0]["transformation_id"].as_str().unwrap().starts_with("trs_"), "inline creates it: {c}");
        assert!(c["rules"][0].get("transformation").is_none());
        let high = fx.send(&c, r#"{"amount": 500}"#).await;
        let low = fx.send(&c, r#"{"amount": 5}"#).await;
        let (ev, _) = fx.routed(&high).await;
        assert_eq!(ev["count"], 1);
        let (ev_low, ign_low) = fx.routed(&low).await;
        assert_eq!(ev_low["count"], 0);
        assert_eq!(ign_low["models"][0]["cause"], "FILTERED");
        assert_eq!(ign_low["models"][0]["meta"], "body");
        let got = rx.wait_for(1, Duration::from_secs(10)).await.unwrap();
        let delivered: Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(delivered, json!({"amount": 500, "priority": "high"}), "the transformed body is delivered");
        assert_eq!(got[0].header("x-transformed"), Some("yes"));
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"secret").unwrap();
        mac.update(&got[0].body);
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(got[0].header("x-hookdeck-signature"), Some(sig.as_str()), "signed over the delivered body");
        // The event shows the transformed data; the request the original.
        let e = fx.api.ok(&format!("/events/{}", ev["models"][0]["id"].as_str().unwrap())).await.unwrap();
        assert_eq!(e["data"]["body"]["priority"], "high");
        let r = fx.api.ok(&format!("/requests/{high}")).await.unwrap();
        assert!(r["data"]["body"].get("priority").is_none());
        // Executions with console logs.
        let tid = c["rules"][0]["transformation_id"].as_str().unwrap();
        let ex = fx.api.ok(&format!("/transformations/{tid}/executions")).await.unwrap();
        assert_eq!(ex["count"], 2);
        let logs: Vec<String> = ex["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["logs"][0]["message"].as_str().unwrap().to_string())
            .collect();
        assert!(logs.contains(&"priority high".to_string()) && logs.contains(&"priority low".to_string()), "{logs:?}");
    })
    .await
}

#[tokio::test]
async fn filter_then_transform_sees_the_original() {
    run(async {
        let fx = Fx::new().await;
        let rx = TestReceiver::start().await.unwrap();
        let rules = json!([
            {"type": "filter", "body": {"priority": {"$exist": false}}, "headers": {"x-custom": "1"}},
            {"type": "transform", "transformation": {"name": "priority2", "code": PRIORITY}}
        ]);
        let c = fx.connect("ft", &rx.url(), rules).await;
        let rid = fx.send(&c, r#"{"amount": 1}"#).await;
        assert_eq!(fx.routed(&rid).await.0["count"], 1, "the filter saw the body before the transform");
        let got = rx.wait_for(1, Duration::from_secs(10)).await.unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&got[0].body).unwrap()["priority"], "low");
    })
    .await
}

#[tokio::test]
async fn runaway_transformations_are_stopped_and_others_keep_flowing() {
    run(async {
        let fx = Fx::new().await;
        let rx = TestReceiver::start().await.unwrap();
        let looping = fx
            .connect("loop", &rx.url(), json!([{"type": "transform", "transformation": {"name": "loop", "code": "addHandler('transform', (r) => { while (true) {} })"}}]))
            .await;
        let hungry = fx
            .connect("hungry", &rx.url(), json!([{"type": "transform", "transformation": {"name": "hungry",
                "code": "addHandler('transform', (r) => { const a = []; while (true) { a.push(new Array(1000000).fill(1)); } })"}}]))
            .await;
        let ok = fx.connect("fine", &format!("{}/fine", rx.url()), json!([])).await;
        let started = Instant::now();
        let r1 = fx.send(&looping, "{}").await;
        let r2 = fx.send(&hungry, "{}").await;
        let r3 = fx.send(&ok, "{}").await;
        for (rid, name) in [(&r1, "loop"), (&r2, "hungry")] {
            let (ev, ign) = fx.routed(rid).await;
            assert_eq!(ev["count"], 0, "{name}");
            assert_eq!(ign["models"][0]["cause"], "TRANSFORMATION_FAILED", "{name}");
            assert!(ign["models"][0]["meta"]["transformation_id"].as_str().unwrap().starts_with("trs_"));
        }
        assert_eq!(fx.routed(&r3).await.0["count"], 1);
        rx.wait_for(1, Duration::from_secs(10)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(20), "limits stop runaway code promptly: {:?}", started.elapsed());
        let tid = looping["rules"][0]["transformation_id"].as_str().unwrap();
        let ex = fx.api.ok(&format!("/transformations/{tid}/executions")).await.unwrap();
        assert_eq!(ex["models"][0]["log_level"], "error");
        assert!(ex["models"][0]["error"].as_str().unwrap().to_lowercase().contains("time"), "{ex}");
        let hid = hungry["rules"][0]["transformation_id"].as_str().unwrap();
        let hx = fx.api.ok(&format!("/transformations/{hid}/executions")).await.unwrap();
        assert!(hx["models"][0]["error"].as_str().unwrap().to_lowercase().contains("memory"), "{hx}");
        // The process is fine and later requests still flow through transforms.
        let again = fx.send(&ok, "{}").await;
        assert_eq!(fx.routed(&again).await.0["count"], 1);
    })
    .await
}

#[tokio::test]
async fn env_and_test_runs() {
    run(async {
        let fx = Fx::new().await;
        let code = r#"addHandler("transform", (request, context) => {
            request.headers["x-a"] = process.env.A;
            request.headers["x-b"] = context.env.B;
            console.warn("env read");
            return request;
        });"#;
        let (s, t) = fx.api.post("/transformations", &json!({"name": "envy", "code": code, "env": {"A": "1", "B": "2"}})).await.unwrap();
        assert_eq!(s, 200, "{t}");
        let tid = t["id"].as_str().unwrap();
        assert_eq!(fx.api.post("/transformations", &json!({"name": "envy", "code": code})).await.unwrap().0, 409);
        let (s, out) = fx
            .api
            .put("/transformations/run", &json!({"transformation_id": tid, "request": {"headers": {"h": "v"}, "body": {"x": 1}, "path": "/p"}}))
            .await
            .unwrap();
        assert_eq!(s, 200, "{out}");
        assert_eq!(out["log_level"], "info");
        assert_eq!(out["request"]["headers"]["x-a"], "1");
        assert_eq!(out["request"]["headers"]["x-b"], "2");
        assert_eq!(out["console"][0], json!({"type": "warn", "message": "env read"}));
        let (_, bad) = fx.api.put("/transformations/run", &json!({"code": "addHandler('transform', () => { throw new Error('nope') })", "request": {"headers": {}}})).await.unwrap();
        assert_eq!(bad["log_level"], "error");
        assert!(bad["console"].to_string().contains("nope"));
        let (s, up) = fx.api.put(&format!("/transformations/{tid}"), &json!({"env": {"A": "3"}})).await.unwrap();
        assert_eq!((s, up["env"].clone()), (200, json!({"A": "3"})));
        assert_eq!(fx.api.ok("/transformations").await.unwrap()["count"], 1);
        assert_eq!(fx.api.post("/transformations", &json!({"name": "x", "code": "1", "env": {"A": 1}})).await.unwrap().0, 422);
        let (s, _) = fx.api.delete(&format!("/transformations/{tid}")).await.unwrap();
        assert_eq!(s, 200);
        assert_eq!(fx.api.get(&format!("/transformations/{tid}")).await.unwrap().0, 404);
        // A transform rule must name an existing transformation.
        let (s, v) = fx
            .api
            .post("/connections", &json!({"name": "c", "source": {"name": "s"}, "destination": {"name": "d", "url": "http://x/"}, "rules": [{"type": "transform", "transformation_id": tid}]}))
            .await
            .unwrap();
        assert_eq!((s, v["data"]["field"].clone()), (422, json!("rules[0].transformation_id")));
    })
    .await
}

#[tokio::test]
async fn invalid_filters_are_refused_with_the_offending_part() {
    run(async {
        let fx = Fx::new().await;
        let (s, v) = fx
            .api
            .post("/connections", &json!({"name": "c", "source": {"name": "s"}, "destination": {"name": "d", "url": "http://x/"},
                                          "rules": [{"type": "filter", "body": {"amount": {"$gtee": 5}}}]}))
            .await
            .unwrap();
        assert_eq!(s, 422);
        assert_eq!(v["data"]["field"], "rules[0].body.amount.$gtee", "{v}");
        let (s, v) = fx
            .api
            .post("/connections", &json!({"name": "c", "source": {"name": "s"}, "destination": {"name": "d", "url": "http://x/"},
                                          "rules": [{"type": "deduplicate", "window": 5000, "include_fields": ["cookies.x"]}]}))
            .await
            .unwrap();
        assert_eq!((s, v["data"]["field"].clone()), (422, json!("rules[0].include_fields[0]")));
    })
    .await
}

#[tokio::test]
async fn delay_holds_the_first_attempt() {
    run(async {
        let fx = Fx::new().await;
        let rx = TestReceiver::start().await.unwrap();
        let c = fx.connect("later", &rx.url(), json!([{"type": "delay", "delay": 1500}])).await;
        let sent = Instant::now();
        let rid = fx.send(&c, "{}").await;
        assert_eq!(fx.routed(&rid).await.0["models"][0]["status"], "SCHEDULED");
        let got = rx.wait_for(1, Duration::from_secs(10)).await.unwrap();
        assert!(got[0].at.duration_since(sent) >= Duration::from_millis(1500), "{:?}", got[0].at.duration_since(sent));
    })
    .await
}

#[tokio::test]
async fn deduplication_within_the_window() {
    run(async {
        let fx = Fx::new().await;
        let rx = TestReceiver::start().await.unwrap();
        let c = fx
            .connect(
                "dedup",
                &rx.url(),
                json!([{"type": "deduplicate", "window": 1500, "include_fields": ["body.id"]}]),
            )
            .await;
        let a = fx.send(&c, r#"{"id": 1, "ts": 1}"#).await;
        let b = fx.send(&c, r#"{"id": 1, "ts": 2}"#).await;
        let other = fx.send(&c, r#"{"id": 2, "ts": 2}"#).await;
        assert_eq!(fx.routed(&a).await.0["count"], 1);
        let (ev, ign) = fx.routed(&b).await;
        assert_eq!(ev["count"], 0);
        assert_eq!(ign["models"][0]["cause"], "DUPLICATE");
        assert_eq!(fx.routed(&other).await.0["count"], 1, "another id is not a duplicate");
        tokio::time::sleep(Duration::from_millis(1600)).await;
        let later = fx.send(&c, r#"{"id": 1, "ts": 3}"#).await;
        assert_eq!(fx.routed(&later).await.0["count"], 1, "after the window it is delivered");

        // exclude_fields: everything but the noisy field counts.
        let c2 = fx
            .connect(
                "dedup2",
                &rx.url(),
                json!([{"type": "deduplicate", "window": 60000, "exclude_fields": ["body.ts", "headers"]}]),
            )
            .await;
        let x = fx.send(&c2, r#"{"id": 7, "ts": 1}"#).await;
        let y = fx.send(&c2, r#"{"id": 7, "ts": 2}"#).await;
        let z = fx.send(&c2, r#"{"id": 8, "ts": 2}"#).await;
        assert_eq!(fx.routed(&x).await.0["count"], 1);
        assert_eq!(fx.routed(&y).await.1["models"][0]["cause"], "DUPLICATE");
        assert_eq!(fx.routed(&z).await.0["count"], 1);
        let _ = &fx.srv;
    })
    .await
}
