//! The management API over real HTTP: every error status, auth and project isolation,
//! pagination, filters, lifecycle actions, upserts, deletes, version differences.

use base64::Engine;
use pier_testkit::{eventually, Api, TestServer, TEST_API_KEY};
use serde_json::{json, Value};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

async fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(LIMIT, f).await.expect("test timed out")
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

async fn connection(api: &Api, name: &str, extra: Value) -> Value {
    let mut body = json!({"name": name, "source": {"name": format!("{name}-src")}, "destination": {"name": format!("{name}-dst"), "url": "http://127.0.0.1:9/"}});
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    let (s, c) = api.post("/connections", &body).await.unwrap();
    assert_eq!(s, 200, "{c}");
    c
}

/// Send one request to a source URL and return its request id.
async fn send(url: &str) -> String {
    let r = reqwest::Client::new().post(url).body(r#"{"a":1}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_string()
}

/// Wait until a request is routed; returns its events.
async fn events_of(api: &Api, request_id: &str) -> Value {
    eventually(Duration::from_secs(10), "routing", || {
        let (api, path) = (api.clone(), format!("/requests/{request_id}"));
        async move {
            let r = api.ok(&path).await.ok()?;
            let total = r["events_count"].as_i64()? + r["ignored_count"].as_i64()? + r["cli_events_count"].as_i64()?;
            (total > 0 || !r["rejection_cause"].is_null()).then_some(())
        }
    })
    .await
    .unwrap();
    api.ok(&format!("/requests/{request_id}/events")).await.unwrap()
}

#[tokio::test]
async fn authentication_errors_are_401_and_basic_auth_works() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let http = reqwest::Client::new();
        let r = http.get(api.url("/sources")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHORIZED");
        assert_eq!(body["status"], 401);
        assert!(body["message"].as_str().unwrap().contains("Authorization"));
        assert_eq!(api.with_key("pier_wrong").get("/sources").await.unwrap().0, 401);
        let r = http.get(api.url("/sources")).header("authorization", "Token x").send().await.unwrap();
        assert_eq!(r.status(), 401);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{TEST_API_KEY}:"));
        let r = http.get(api.url("/sources")).header("authorization", format!("Basic {basic}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        // Health endpoints need no key.
        assert_eq!(http.get(format!("{}/healthz", srv.url())).send().await.unwrap().status(), 200);
        assert_eq!(http.get(format!("{}/readyz", srv.url())).send().await.unwrap().status(), 200);
    })
    .await
}

#[tokio::test]
async fn not_found_bad_request_unprocessable_and_conflict() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        for path in ["/sources/src_nope", "/destinations/des_nope", "/connections/web_nope", "/requests/req_nope", "/events/evt_nope", "/requests/req_nope/raw_body", "/nothing-here"] {
            let (s, v) = api.get(path).await.unwrap();
            assert_eq!(s, 404, "{path}: {v}");
            assert_eq!(v["code"], "NOT_FOUND");
        }
        assert_eq!(Api::new(&srv.url(), "1999-01-01", TEST_API_KEY).get("/sources").await.unwrap().0, 404);
        assert_eq!(api.delete("/sources/src_nope").await.unwrap().0, 404);
        assert_eq!(api.put("/connections/web_nope/pause", &json!({})).await.unwrap().0, 404);

        // 400: JSON that does not parse, unknown query parameters, bad cursors.
        let r = reqwest::Client::new()
            .post(api.url("/sources"))
            .bearer_auth(TEST_API_KEY)
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "BAD_REQUEST");
        assert_eq!(api.get("/sources?colour=red").await.unwrap().0, 400);
        assert_eq!(api.get("/events?next=bm9wZQ").await.unwrap().0, 400);

        // 422: validation names the field.
        let cases = [
            (json!({"name": "has space"}), "name"),
            (json!({}), "name"),
            (json!({"name": "x", "colour": "red"}), ""),
            (json!({"name": "x", "verification": {"type": "nonsense"}}), "verification.type"),
            (json!({"name": "x", "allowed_http_methods": ["TRACE"]}), "allowed_http_methods[0]"),
        ];
        for (body, field) in cases {
            let (s, v) = api.post("/sources", &body).await.unwrap();
            assert_eq!(s, 422, "{body}: {v}");
            assert_eq!(v["code"], "UNPROCESSABLE_ENTITY");
            if !field.is_empty() {
                assert_eq!(v["data"]["field"], field, "{v}");
            }
        }
        let (s, v) = api.post("/destinations", &json!({"name": "d", "url": "ftp://x"})).await.unwrap();
        assert_eq!((s, v["data"]["field"].clone()), (422, json!("url")));
        let (s, v) = api.post("/destinations", &json!({"name": "d"})).await.unwrap();
        assert_eq!((s, v["data"]["field"].clone()), (422, json!("url")), "a destination needs somewhere to deliver");
        let (s, v) = api
            .post("/connections", &json!({"name": "c", "source": {"name": "s"}, "destination": {"name": "d", "url": "http://x/"}, "rules": [{"type": "retry", "strategy": "linear", "count": 99}]}))
            .await
            .unwrap();
        assert_eq!((s, v["data"]["field"].clone()), (422, json!("rules[0].count")), "{v}");
        let (s, v) = api
            .post("/connections", &json!({"name": "c", "source": {"name": "s"}, "destination": {"name": "d", "url": "http://x/"}, "rules": [{"type": "filter", "body": {"a": {"$bogus": 1}}}]}))
            .await
            .unwrap();
        assert_eq!((s, v["data"]["field"].clone()), (422, json!("rules[0].body.a.$bogus")), "{v}");
        assert_eq!(api.get("/requests?limit=1000").await.unwrap().0, 422);
        assert_eq!(api.get("/events?status=LOST").await.unwrap().0, 422);

        // 409: a second source of the same name.
        assert_eq!(api.post("/sources", &json!({"name": "dup"})).await.unwrap().0, 200);
        let (s, v) = api.post("/sources", &json!({"name": "dup"})).await.unwrap();
        assert_eq!((s, v["code"].clone()), (409, json!("CONFLICT")));
        connection(&api, "twice", json!({})).await;
        let (s, _) = api
            .post("/connections", &json!({"name": "twice", "source": {"name": "twice-src"}, "destination": {"name": "twice-dst"}}))
            .await
            .unwrap();
        assert_eq!(s, 409);
    })
    .await
}

#[tokio::test]
async fn too_many_api_requests_get_429() {
    run(async {
        let srv = TestServer::start_with(|c| c.api_rate_limit = 5).await.unwrap();
        let api = srv.api("2024-03-01");
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(api.get("/sources").await.unwrap().0);
        }
        assert!(statuses.contains(&200));
        assert!(statuses.contains(&429), "{statuses:?}");
        let (_, v) = api.get("/sources").await.unwrap();
        assert_eq!(v["code"], "TOO_MANY_REQUESTS");
    })
    .await
}

#[tokio::test]
async fn a_key_sees_only_its_own_project() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let c = connection(&api, "mine", json!({})).await;
        let request_id = send(c["source"]["url"].as_str().unwrap()).await;
        let events = events_of(&api, &request_id).await;
        let event_id = id(&events["models"][0]);

        let other = pier_core::Project::new("tm_other0000000000000".into(), "other".into(), "s".into(), 0);
        srv.server.store.create_project(&other, &pier_core::keys::hash_api_key("pier_other_key")).await.unwrap();
        let them = api.with_key("pier_other_key");
        for path in [
            format!("/connections/{}", id(&c)),
            format!("/sources/{}", id(&c["source"])),
            format!("/destinations/{}", id(&c["destination"])),
            format!("/requests/{request_id}"),
            format!("/requests/{request_id}/raw_body"),
            format!("/requests/{request_id}/events"),
            format!("/events/{event_id}"),
            format!("/events/{event_id}/raw_body"),
        ] {
            assert_eq!(them.get(&path).await.unwrap().0, 404, "{path}");
        }
        for path in ["/connections", "/sources", "/destinations", "/requests", "/events"] {
            assert_eq!(them.ok(path).await.unwrap()["count"], 0, "{path}");
        }
        assert_eq!(them.delete(&format!("/sources/{}", id(&c["source"]))).await.unwrap().0, 404);
        assert_eq!(them.put(&format!("/connections/{}/pause", id(&c)), &json!({})).await.unwrap().0, 404);
        // Names are per project: the other project may reuse them without touching ours.
        connection(&them, "mine", json!({})).await;
        assert_eq!(
            api.ok(&format!("/connections/{}", id(&c))).await.unwrap()["destination"]["url"],
            "http://127.0.0.1:9/"
        );
        // And cannot bind our objects by id.
        let (s, _) = them
            .post(
                "/connections",
                &json!({"name": "x", "source_id": id(&c["source"]), "destination": {"name": "d", "url": "http://x/"}}),
            )
            .await
            .unwrap();
        assert_eq!(s, 422);
    })
    .await
}

#[tokio::test]
async fn pagination_walks_forward_and_back() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        for i in 0..7 {
            assert_eq!(api.post("/sources", &json!({"name": format!("s{i}")})).await.unwrap().0, 200);
        }
        let p1 = api.ok("/sources?limit=3").await.unwrap();
        let names = |p: &Value| {
            p["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(names(&p1), ["s6", "s5", "s4"]);
        assert_eq!(p1["count"], 3);
        assert_eq!(p1["pagination"]["limit"], 3);
        assert!(p1["pagination"].get("prev").is_none());
        let p2 =
            api.ok(&format!("/sources?limit=3&next={}", p1["pagination"]["next"].as_str().unwrap())).await.unwrap();
        assert_eq!(names(&p2), ["s3", "s2", "s1"]);
        let p3 =
            api.ok(&format!("/sources?limit=3&next={}", p2["pagination"]["next"].as_str().unwrap())).await.unwrap();
        assert_eq!(names(&p3), ["s0"]);
        assert!(p3["pagination"].get("next").is_none());
        let back =
            api.ok(&format!("/sources?limit=3&prev={}", p3["pagination"]["prev"].as_str().unwrap())).await.unwrap();
        assert_eq!(names(&back), ["s3", "s2", "s1"]);
        let asc = api.ok("/sources?limit=2&dir=asc").await.unwrap();
        assert_eq!(names(&asc), ["s0", "s1"]);
        assert_eq!(names(&api.ok("/sources?name[contains]=5").await.unwrap()), ["s5"]);
        assert_eq!(names(&api.ok("/sources?name=s2&name=s3").await.unwrap()), ["s3", "s2"]);
    })
    .await
}

#[tokio::test]
async fn event_and_request_filters() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let a = connection(&api, "a", json!({})).await;
        let b = connection(&api, "b", json!({"rules": [{"type": "delay", "delay": 60000}]})).await;
        let ra = send(a["source"]["url"].as_str().unwrap()).await;
        let rb = send(b["source"]["url"].as_str().unwrap()).await;
        events_of(&api, &ra).await;
        let eb = events_of(&api, &rb).await;
        let delayed = &eb["models"][0];
        assert_eq!(delayed["status"], "SCHEDULED");
        let due = pier_api_types::time::parse(delayed["next_attempt_at"].as_str().unwrap()).unwrap();
        let created = pier_api_types::time::parse(delayed["created_at"].as_str().unwrap()).unwrap();
        assert_eq!(due - created, 60000);

        // The undelayed event is attempted at once; its destination refuses connections.
        eventually(Duration::from_secs(10), "the first attempt", || {
            let api = api.clone();
            async move { (api.ok("/events?status=FAILED").await.ok()?["count"] == 1).then_some(()) }
        })
        .await
        .unwrap();
        assert_eq!(api.ok("/events?status=SCHEDULED").await.unwrap()["count"], 1);
        assert_eq!(api.ok("/events?status=FAILED&status=SCHEDULED").await.unwrap()["count"], 2);
        assert_eq!(api.ok("/events?error_code=CONNECTION_REFUSED").await.unwrap()["count"], 1);
        assert_eq!(api.ok(&format!("/events?webhook_id={}", id(&b))).await.unwrap()["count"], 1);
        assert_eq!(
            api.ok(&format!("/events?source_id={}", a["source"]["id"].as_str().unwrap())).await.unwrap()["count"],
            1
        );
        assert_eq!(
            api.ok(&format!("/events?destination_id={}", b["destination"]["id"].as_str().unwrap())).await.unwrap()
                ["count"],
            1
        );
        assert_eq!(api.ok("/events?created_at[gte]=2000-01-01T00:00:00Z").await.unwrap()["count"], 2);
        assert_eq!(api.ok("/events?created_at[gte]=2999-01-01T00:00:00Z").await.unwrap()["count"], 0);
        assert_eq!(api.ok("/events?attempts=0").await.unwrap()["count"], 1);
        assert_eq!(api.ok("/events?attempts[gte]=1").await.unwrap()["count"], 1);
        assert_eq!(api.ok("/events?successful_at[any]=true").await.unwrap()["count"], 0);
        let with_data = api.ok("/events?include=data&limit=1").await.unwrap();
        assert_eq!(with_data["models"][0]["data"]["body"], json!({"a": 1}));
        assert!(api.ok("/events").await.unwrap()["models"][0].get("data").is_none());
        let one = api.ok(&format!("/events/{}", id(delayed))).await.unwrap();
        assert_eq!(one["data"]["path"], "/");
        assert_eq!(api.ok(&format!("/events/{}/raw_body", id(delayed))).await.unwrap()["body"], r#"{"a":1}"#);

        assert_eq!(api.ok("/requests?status=accepted").await.unwrap()["count"], 2);
        assert_eq!(api.ok("/requests?status=rejected").await.unwrap()["count"], 0);
        assert_eq!(
            api.ok(&format!("/requests?source_id={}", a["source"]["id"].as_str().unwrap())).await.unwrap()["count"],
            1
        );
        assert_eq!(api.ok("/requests?events_count[gte]=1").await.unwrap()["count"], 2);
        assert_eq!(api.ok("/requests?verified=true").await.unwrap()["count"], 0);
        // Full-text search in body, headers and path.
        assert_eq!(api.ok("/requests?search_term=%22a%22:1").await.unwrap()["count"], 2);
        assert_eq!(api.ok("/requests?search_term=nothing-like-this").await.unwrap()["count"], 0);
        assert_eq!(api.ok("/events?search_term=%22a%22").await.unwrap()["count"], 2);
        assert_eq!(api.ok("/events?search_term=zzz-absent").await.unwrap()["count"], 0);
        assert_eq!(api.get("/events?search_term=ab").await.unwrap().0, 422);
        assert_eq!(api.ok("/requests?order_by=ingested_at&dir=asc").await.unwrap()["models"][0]["id"], ra.as_str());
    })
    .await
}

#[tokio::test]
async fn lifecycle_actions_and_their_effect_on_routing() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let c = connection(&api, "life", json!({})).await;
        let cid = id(&c);
        let url = c["source"]["url"].as_str().unwrap().to_string();

        let (s, paused) = api.put(&format!("/connections/{cid}/pause"), &json!({})).await.unwrap();
        assert_eq!(s, 200);
        assert!(paused["paused_at"].is_string());
        assert_eq!(api.ok("/connections/count?paused_at[any]=true").await.unwrap()["count"], 1);
        let r = send(&url).await;
        assert_eq!(events_of(&api, &r).await["models"][0]["status"], "HOLD");
        let (_, unpaused) = api.put(&format!("/connections/{cid}/unpause"), &json!({})).await.unwrap();
        assert_eq!(unpaused["paused_at"], Value::Null);

        let (_, disabled) = api.put(&format!("/connections/{cid}/disable"), &json!({})).await.unwrap();
        assert!(disabled["disabled_at"].is_string());
        // Disabled connections leave lists unless asked for.
        assert_eq!(api.ok("/connections").await.unwrap()["count"], 0);
        assert_eq!(api.ok("/connections?disabled=true").await.unwrap()["count"], 1);
        assert_eq!(api.ok("/connections/count").await.unwrap()["count"], 0);
        let r = send(&url).await;
        events_of(&api, &r).await;
        let ignored = api.ok(&format!("/requests/{r}/ignored_events")).await.unwrap();
        assert_eq!(ignored["count"], 1);
        assert_eq!(ignored["models"][0]["cause"], "DISABLED");
        assert_eq!(ignored["models"][0]["webhook_id"], cid.as_str());
        let old = srv.api("2023-07-01");
        assert_eq!(old.ok(&format!("/requests/{r}/ignored_events")).await.unwrap()["models"][0]["cause"], "ARCHIVED");
        let (_, unarchived) = old.put(&format!("/connections/{cid}/unarchive"), &json!({})).await.unwrap();
        assert_eq!(unarchived["archived_at"], Value::Null);
        let (_, archived) = old.put(&format!("/connections/{cid}/archive"), &json!({})).await.unwrap();
        assert!(archived["archived_at"].is_string());
        old.put(&format!("/connections/{cid}/unarchive"), &json!({})).await.unwrap();

        // A disabled destination disables the connections to it.
        let did = id(&c["destination"]);
        let (_, d) = api.put(&format!("/destinations/{did}/disable"), &json!({})).await.unwrap();
        assert!(d["disabled_at"].is_string());
        let r = send(&url).await;
        events_of(&api, &r).await;
        assert_eq!(api.ok(&format!("/requests/{r}/ignored_events")).await.unwrap()["models"][0]["cause"], "DISABLED");
        api.put(&format!("/destinations/{did}/enable"), &json!({})).await.unwrap();
        let r = send(&url).await;
        let status = events_of(&api, &r).await["models"][0]["status"].clone();
        assert!(status == "QUEUED" || status == "FAILED", "delivered (to a refusing port): {status}");
    })
    .await
}

#[tokio::test]
async fn updates_upserts_and_deletes() {
    run(async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let c = connection(&api, "u", json!({"description": "first"})).await;
        assert_eq!(c["description"], "first");
        let (s, up) = api.put(&format!("/connections/{}", id(&c)), &json!({"description": null, "rules": [{"type": "retry", "strategy": "exponential", "count": 3, "interval": 1000}]})).await.unwrap();
        assert_eq!(s, 200, "{up}");
        assert_eq!(up["description"], Value::Null);
        assert_eq!(up["rules"], json!([{"type": "retry", "strategy": "exponential", "count": 3, "interval": 1000}]));

        // PUT /sources upserts by name.
        let (_, s1) = api.put("/sources", &json!({"name": "u-src", "description": "changed", "allowed_http_methods": ["POST", "GET"]})).await.unwrap();
        assert_eq!(s1["id"], c["source"]["id"]);
        assert_eq!(s1["allowed_http_methods"], json!(["POST", "GET"]));
        let (_, s2) = api.put("/sources", &json!({"name": "brand-new"})).await.unwrap();
        assert!(s2["id"].as_str().unwrap().starts_with("src_"));
        let (_, src) = api.put(&format!("/sources/{}", id(&s2)), &json!({"name": "renamed"})).await.unwrap();
        assert_eq!(src["name"], "renamed");

        // Destination secrets never come back.
        let (s, d) = api
            .put("/destinations", &json!({"name": "u-dst", "url": "https://example.com/hook", "rate_limit": 5, "rate_limit_period": "minute", "auth_method": {"type": "BASIC_AUTH", "config": {"username": "user", "password": "hunter2"}}}))
            .await
            .unwrap();
        assert_eq!(s, 200, "{d}");
        assert_eq!(d["id"], c["destination"]["id"]);
        assert_eq!(d["auth_method"], json!({"type": "BASIC_AUTH", "config": {"username": "user"}}));
        assert!(!api.ok(&format!("/connections/{}", id(&c))).await.unwrap().to_string().contains("hunter2"));
        let (s, _) = srv.api("2023-07-01").put("/destinations", &json!({"name": "u-dst", "rate_limit_period": "concurrent"})).await.unwrap();
        assert_eq!(s, 422, "concurrent is not a 2023-07-01 period");

        // Deleting a destination deletes its connections.
        let (s, del) = api.delete(&format!("/destinations/{}", id(&d))).await.unwrap();
        assert_eq!((s, del), (200, json!({"id": id(&d)})));
        assert_eq!(api.get(&format!("/connections/{}", id(&c))).await.unwrap().0, 404);
        assert_eq!(api.delete(&format!("/destinations/{}", id(&d))).await.unwrap().0, 404);
        let (s, del) = api.delete(&format!("/sources/{}", id(&s2))).await.unwrap();
        assert_eq!((s, del["id"].clone()), (200, json!(id(&s2))));
    })
    .await
}
