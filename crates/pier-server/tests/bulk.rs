//! Bookmarks (save, replay with `trigger`), bulk retry ("retry all matching": plan, run,
//! progress, cancel) and JSON search on request data, end to end against real receivers.

use pier_testkit::{eventually, Api, TestReceiver, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

async fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(LIMIT, f).await.expect("test timed out")
}

async fn connect(api: &Api, name: &str, url: &str, rules: Value) -> Value {
    let body = json!({"name": name, "source": {"name": format!("{name}-src")},
        "destination": {"name": format!("{name}-dst"), "url": url}, "rules": rules});
    let (s, c) = api.post("/connections", &body).await.unwrap();
    assert_eq!(s, 200, "{c}");
    c
}

async fn send(c: &Value, body: &Value) -> String {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let r = http
        .post(c["source"]["url"].as_str().unwrap())
        .header("x-kind", body["kind"].as_str().unwrap_or("none"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_string()
}

/// Wait until `GET path` answers a list with `n` models; returns them.
async fn models(api: &Api, path: &str, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(20), &format!("{n} models at {path}"), || {
        let (api, path) = (api.clone(), path.to_string());
        async move {
            let v = api.ok(&path).await.ok()?;
            let m = v["models"].as_array()?.clone();
            (m.len() == n).then_some(m)
        }
    })
    .await
    .unwrap()
}

fn enc(v: &Value) -> String {
    urlencoding::encode(&v.to_string()).into_owned()
}

#[tokio::test]
async fn bookmarks_save_and_replay_a_request() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let rx = TestReceiver::start().await.unwrap();
        let c = connect(&api, "bm", &rx.url(), json!([])).await;
        let cid = c["id"].as_str().unwrap();
        let req = send(&c, &json!({"kind": "order", "n": 1})).await;
        rx.wait_for(1, Duration::from_secs(20)).await.unwrap();
        let evt = models(&api, &format!("/requests/{req}/events"), 1).await.remove(0);

        // An event id stands for its request.
        let (s, b) = api
            .post(
                "/bookmarks",
                &json!({"event_data_id": evt["id"], "webhook_id": cid, "label": "First order", "name": "first-order"}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{b}");
        let bid = b["id"].as_str().unwrap().to_string();
        assert!(bid.starts_with("bmk_"));
        assert_eq!(b["event_data_id"], req.as_str());
        assert_eq!(b["alias"], "first-order");
        assert_eq!(b["data"]["body"], json!({"kind": "order", "n": 1}));
        assert_eq!(b["last_used_at"], Value::Null);

        // Refusals: a name taken, a missing connection, a missing field, an unknown field.
        let (s, e) = api
            .post("/bookmarks", &json!({"event_data_id": req, "webhook_id": cid, "label": "x", "name": "first-order"}))
            .await
            .unwrap();
        assert_eq!(s, 409, "{e}");
        let (s, e) = api
            .post("/bookmarks", &json!({"event_data_id": req, "webhook_id": "web_nope", "label": "x"}))
            .await
            .unwrap();
        assert_eq!(s, 422, "{e}");
        assert!(e.to_string().contains("webhook_id"), "{e}");
        let (s, _) = api.post("/bookmarks", &json!({"webhook_id": cid, "label": "x"})).await.unwrap();
        assert_eq!(s, 422);
        let (s, _) = api
            .post("/bookmarks", &json!({"event_data_id": req, "webhook_id": cid, "label": "x", "x": 1}))
            .await
            .unwrap();
        assert_eq!(s, 422);

        // Read, list, update, raw body.
        assert_eq!(api.ok(&format!("/bookmarks/{bid}")).await.unwrap()["label"], "First order");
        let listed = api.ok(&format!("/bookmarks?webhook_id={cid}")).await.unwrap();
        assert_eq!(listed["models"].as_array().unwrap().len(), 1);
        assert_eq!(api.ok("/bookmarks?label=nothing").await.unwrap()["models"].as_array().unwrap().len(), 0);
        let (s, u) = api.put(&format!("/bookmarks/{bid}"), &json!({"label": "Renamed"})).await.unwrap();
        assert_eq!((s, u["label"].as_str()), (200, Some("Renamed")));
        let raw = api.ok(&format!("/bookmarks/{bid}/raw_body")).await.unwrap();
        assert_eq!(serde_json::from_str::<Value>(raw["body"].as_str().unwrap()).unwrap()["n"], 1);

        // Trigger: a new event on the connection, delivered with the saved body.
        let (s, t) = api.post(&format!("/bookmarks/{bid}/trigger"), &json!({"target": "cli"})).await.unwrap();
        assert_eq!(s, 422, "an HTTP destination is not a CLI target: {t}");
        let (s, t) = api.post(&format!("/bookmarks/{bid}/trigger"), &json!({})).await.unwrap();
        assert_eq!(s, 200, "{t}");
        let new_event = &t.as_array().unwrap()[0];
        assert_ne!(new_event["id"], evt["id"]);
        assert_eq!(new_event["webhook_id"], cid);
        let got = rx.wait_for(2, Duration::from_secs(20)).await.unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&got[1].body).unwrap(), json!({"kind": "order", "n": 1}));
        let eid = new_event["id"].as_str().unwrap().to_string();
        eventually(Duration::from_secs(20), "the triggered event succeeds", || {
            let (api, p) = (api.clone(), format!("/events/{eid}"));
            async move { (api.ok(&p).await.ok()?["status"] == "SUCCESSFUL").then_some(()) }
        })
        .await
        .unwrap();
        assert_ne!(api.ok(&format!("/bookmarks/{bid}")).await.unwrap()["last_used_at"], Value::Null);

        // Another project's key sees nothing; delete; then 404.
        let other = api.with_key("not-a-key");
        assert_eq!(other.get(&format!("/bookmarks/{bid}")).await.unwrap().0, 401);
        assert_eq!(api.delete(&format!("/bookmarks/{bid}")).await.unwrap().0, 200);
        assert_eq!(api.get(&format!("/bookmarks/{bid}")).await.unwrap().0, 404);
        assert_eq!(api.post(&format!("/bookmarks/{bid}/trigger"), &json!({})).await.unwrap().0, 404);
    })
    .await
}

#[tokio::test]
async fn json_search_on_body_and_headers() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let rx = TestReceiver::start().await.unwrap();
        let c = connect(&api, "search", &rx.url(), json!([])).await;
        for i in 0..6 {
            let kind = if i % 3 == 0 { "refund" } else { "order" };
            send(
                &c,
                &json!({"kind": kind, "amount": i * 10, "customer": {"tier": if i < 2 { "gold" } else { "basic" }}}),
            )
            .await;
        }
        models(&api, "/events?limit=100", 6).await;

        let body = json!({"kind": "refund"});
        assert_eq!(models(&api, &format!("/requests?body={}", enc(&body)), 2).await.len(), 2);
        assert_eq!(models(&api, &format!("/events?body={}", enc(&body)), 2).await.len(), 2);
        let nested = json!({"customer": {"tier": "gold"}, "amount": {"$gte": 10}});
        let m = models(&api, &format!("/events?body={}&include=data", enc(&nested)), 1).await;
        assert_eq!(m[0]["data"]["body"]["amount"], 10);
        let headers = json!({"x-kind": "order"});
        assert_eq!(models(&api, &format!("/requests?headers={}", enc(&headers)), 4).await.len(), 4);

        // Paging through a searched list: pages of 1 with `next` until the end.
        let mut seen = Vec::new();
        let mut path = format!("/requests?limit=1&body={}", enc(&json!({"kind": "order"})));
        loop {
            let v = api.ok(&path).await.unwrap();
            seen.extend(v["models"].as_array().unwrap().iter().map(|m| m["id"].clone()));
            match v["pagination"]["next"].as_str() {
                Some(n) => path = format!("/requests?limit=1&next={n}&body={}", enc(&json!({"kind": "order"}))),
                None => break,
            }
            assert!(seen.len() <= 4, "paging must end");
        }
        assert_eq!(seen.len(), 4);
        seen.dedup();
        assert_eq!(seen.len(), 4, "no row twice");

        // A filter that does not compile is refused with the part named.
        let (s, e) = api.get(&format!("/events?body={}", enc(&json!({"amount": {"$nope": 1}})))).await.unwrap();
        assert_eq!(s, 422, "{e}");
        assert!(e.to_string().contains("body"), "{e}");
    })
    .await
}

#[tokio::test]
async fn bulk_retry_plans_retries_matching_events_and_reports_progress() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let rx = TestReceiver::start().await.unwrap();
        rx.set_status(500);
        let c = connect(
            &api,
            "bulk",
            &rx.url(),
            json!([{"type": "retry", "strategy": "linear", "interval": 60000, "count": 0}]),
        )
        .await;
        let cid = c["id"].as_str().unwrap().to_string();
        for i in 0..7 {
            send(&c, &json!({"kind": if i < 5 { "a" } else { "b" }, "i": i})).await;
        }
        let failed = format!("/events?status=FAILED&webhook_id={cid}&limit=100");
        models(&api, &failed, 7).await;
        rx.set_status(200);

        // The plan counts what would be retried, in either query-string notation.
        let plan =
            api.ok(&format!("/bulk/events/retry/plan?query[status]=FAILED&query[webhook_id][]={cid}")).await.unwrap();
        assert_eq!((plan["estimated_count"].as_i64(), plan["estimated_batch"].as_i64()), (Some(7), Some(1)));
        let q = json!({"status": "FAILED", "webhook_id": [cid]});
        let plan = api.ok(&format!("/bulk/events/retry/plan?query={}", enc(&q))).await.unwrap();
        assert_eq!(plan["estimated_count"], 7);
        let qa = json!({"status": "FAILED", "webhook_id": cid, "body": {"kind": "a"}});
        let plan = api.ok(&format!("/bulk/events/retry/plan?query={}", enc(&qa))).await.unwrap();
        assert_eq!(plan["estimated_count"], 5, "a JSON search is counted exactly");
        let (s, e) = api.get("/bulk/events/retry/plan?query[colour]=red").await.unwrap();
        assert_eq!(s, 422, "{e}");
        let (s, _) = api.post("/bulk/events/retry", &json!({"query": {"status": "NOPE"}})).await.unwrap();
        assert_eq!(s, 422);

        // Retry only kind "a" (a JSON search in the query): 5 events, trigger BULK_RETRY.
        let before = rx.received().len();
        let (s, op) = api
            .post(
                "/bulk/events/retry",
                &json!({"query": {"status": "FAILED", "webhook_id": cid, "body": {"kind": "a"}}}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{op}");
        let id = op["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("bch_"));
        assert_eq!(op["query"]["body"]["kind"], "a");
        let done = eventually(Duration::from_secs(30), "the bulk retry completes", || {
            let (api, p) = (api.clone(), format!("/bulk/events/retry/{id}"));
            async move {
                let v = api.ok(&p).await.ok()?;
                (v["completed_at"] != Value::Null).then_some(v)
            }
        })
        .await
        .unwrap();
        assert_eq!(done["in_progress"], false);
        assert_eq!(done["progress"], 1.0);
        assert_eq!((done["completed_count"].as_i64(), done["failed_count"].as_i64()), (Some(5), Some(0)));
        assert_eq!(done["processed_batch"], 1);
        let got = rx.wait_for(before + 5, Duration::from_secs(30)).await.unwrap();
        let retried = &got[before..];
        assert!(retried.iter().all(|r| r.header("x-hookdeck-attempt-trigger") == Some("BULK_RETRY")));
        assert!(retried.iter().all(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["kind"] == "a"));
        // Kind "b" was not part of it.
        models(&api, &failed, 2).await;

        // Listed; cancelling a finished operation changes nothing; unknown ids are 404.
        let listed = api.ok("/bulk/events/retry?in_progress=false").await.unwrap();
        assert!(listed["models"].as_array().unwrap().iter().any(|m| m["id"] == id.as_str()));
        assert_eq!(api.ok("/bulk/events/retry?in_progress=true").await.unwrap()["models"], json!([]));
        let (s, after) = api.post(&format!("/bulk/events/retry/{id}/cancel"), &json!({})).await.unwrap();
        assert_eq!((s, &after["cancelled_at"]), (200, &Value::Null));
        assert_eq!(api.get("/bulk/events/retry/bch_missing").await.unwrap().0, 404);
    })
    .await
}

/// Wait until the bulk operation at `path` completes; returns it.
async fn completed(api: &Api, path: &str) -> Value {
    eventually(Duration::from_secs(30), "the bulk retry completes", || {
        let (api, p) = (api.clone(), path.to_string());
        async move {
            let v = api.ok(&p).await.ok()?;
            (v["completed_at"] != Value::Null).then_some(v)
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn bulk_retry_of_ignored_events_and_of_requests() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let rx = TestReceiver::start().await.unwrap();

        // Ignored events: a filter lets only kind "a" through; then it is removed, and the
        // filtered requests are retried through the connection.
        let c = connect(&api, "ign", &rx.url(), json!([{"type": "filter", "body": {"kind": "a"}}])).await;
        let cid = c["id"].as_str().unwrap().to_string();
        for kind in ["a", "b", "b"] {
            send(&c, &json!({"kind": kind})).await;
        }
        rx.wait_for(1, Duration::from_secs(20)).await.unwrap();
        let q = json!({"cause": "FILTERED", "webhook_id": cid});
        let plan = api.ok(&format!("/bulk/ignored-events/retry/plan?query={}", enc(&q))).await.unwrap();
        assert_eq!(plan["estimated_count"], 2);
        let (s, e) = api.post("/bulk/ignored-events/retry", &json!({"query": {"status": "FAILED"}})).await.unwrap();
        assert_eq!(s, 422, "events filters are not ignored-event filters: {e}");
        let (s, _) = api.put(&format!("/connections/{cid}"), &json!({"rules": []})).await.unwrap();
        assert_eq!(s, 200);
        let (s, op) = api.post("/bulk/ignored-events/retry", &json!({"query": q})).await.unwrap();
        assert_eq!(s, 200, "{op}");
        let id = op["id"].as_str().unwrap().to_string();
        let done = completed(&api, &format!("/bulk/ignored-events/retry/{id}")).await;
        assert_eq!(done["completed_count"], 2);
        let got = rx.wait_for(3, Duration::from_secs(20)).await.unwrap();
        let kinds: Vec<String> =
            got.iter().map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["kind"].to_string()).collect();
        assert_eq!(kinds.iter().filter(|k| k.as_str() == "\"b\"").count(), 2, "{kinds:?}");
        // Each kind has its own list; another kind's id is unknown here.
        assert_eq!(api.get(&format!("/bulk/events/retry/{id}")).await.unwrap().0, 404);
        let listed = api.ok("/bulk/ignored-events/retry").await.unwrap();
        assert_eq!(listed["models"].as_array().unwrap().len(), 1);
        assert_eq!(api.ok("/bulk/events/retry").await.unwrap()["models"], json!([]));

        // Requests: sent to a source with no connection (NO_CONNECTION), then a connection is
        // made and the requests are retried through it.
        let (s, src) = api.post("/sources", &json!({"name": "lonely"})).await.unwrap();
        assert_eq!(s, 200, "{src}");
        let sid = src["id"].as_str().unwrap().to_string();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        for i in 0..2 {
            let r = http.post(src["url"].as_str().unwrap()).json(&json!({"late": i})).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        models(&api, &format!("/requests?source_id={sid}&rejection_cause=NO_CONNECTION"), 2).await;
        let body = json!({"name": "late", "source": {"name": "lonely"}, "destination": {"name": "ign-dst"}});
        let (s, e) = api.post("/connections", &body).await.unwrap();
        assert_eq!(s, 200, "{e}");
        let (s, op) = api.post("/bulk/requests/retry", &json!({"query": {"source_id": sid}})).await.unwrap();
        assert_eq!(s, 200, "{op}");
        assert_eq!(op["estimated_count"], 2);
        let id = op["id"].as_str().unwrap().to_string();
        let done = completed(&api, &format!("/bulk/requests/retry/{id}")).await;
        assert_eq!(done["completed_count"], 2);
        let got = rx.wait_for(5, Duration::from_secs(20)).await.unwrap();
        assert_eq!(
            got.iter().filter(|r| serde_json::from_slice::<Value>(&r.body).unwrap().get("late").is_some()).count(),
            2
        );
    })
    .await
}
