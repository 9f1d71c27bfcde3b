//! The seed quickstart (`shared/seeds/quickstart-async-apis.txt`), step by step, against a real
//! `pier serve` process, with Pier's URLs in place of the hosted ones.

use pier_testkit::{eventually, PierProcess};
use serde_json::{json, Value};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

fn sorted(k: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = k.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn seed_quickstart_works_against_pier() {
    tokio::time::timeout(LIMIT, quickstart()).await.expect("quickstart timed out").expect("quickstart");
}

async fn quickstart() -> anyhow::Result<()> {
    let pier = PierProcess::start(env!("CARGO_BIN_EXE_pier"), &[]).await?;
    let api = pier.api("2023-07-01");

    // "Create a connection" — the exact JSON of the seed.
    let (status, conn) = api
        .post(
            "/connections",
            &json!({
                "name": "asynchronous-api-quickstart",
                "source": {
                    "name": "inbound-api",
                    "verification": {"type": "api_key", "configs": {"header_key": "X-API-KEY", "api_key": "client-key-1"}}
                },
                "destination": {"name": "internal-api", "url": "https://mock.hookdeck.com"}
            }),
        )
        .await?;
    assert_eq!(status, 200, "{conn}");
    // The response shape of the seed (2023-07-01 also carries its OpenAPI name archived_at).
    assert_eq!(
        keys(&conn),
        sorted(&[
            "id",
            "team_id",
            "disabled_at",
            "archived_at",
            "updated_at",
            "created_at",
            "paused_at",
            "name",
            "rules",
            "description",
            "destination",
            "source",
            "full_name"
        ])
    );
    assert!(conn["id"].as_str().unwrap().starts_with("web_"));
    assert!(conn["team_id"].as_str().unwrap().starts_with("tm_"));
    assert_eq!(conn["name"], "asynchronous-api-quickstart");
    assert_eq!(conn["full_name"], "inbound-api -> asynchronous-api-quickstart");
    assert_eq!(conn["rules"], json!([]));
    assert_eq!(conn["paused_at"], Value::Null);
    assert_eq!(conn["disabled_at"], Value::Null);
    let dest = &conn["destination"];
    assert_eq!(
        keys(dest),
        sorted(&[
            "id",
            "team_id",
            "url",
            "disabled_at",
            "archived_at",
            "updated_at",
            "created_at",
            "rate_limit",
            "rate_limit_period",
            "cli_path",
            "path_forwarding_disabled",
            "name",
            "http_method",
            "auth_method",
            "description"
        ])
    );
    assert!(dest["id"].as_str().unwrap().starts_with("des_"));
    assert_eq!(dest["url"], "https://mock.hookdeck.com");
    assert_eq!(dest["rate_limit"], Value::Null);
    assert_eq!(dest["rate_limit_period"], "second");
    assert_eq!(dest["path_forwarding_disabled"], false);
    assert_eq!(dest["auth_method"], json!({"type": "HOOKDECK_SIGNATURE", "config": {}}));
    let src = &conn["source"];
    assert_eq!(
        keys(src),
        sorted(&[
            "id",
            "team_id",
            "disabled_at",
            "archived_at",
            "updated_at",
            "created_at",
            "name",
            "allowed_http_methods",
            "custom_response",
            "description",
            "url",
            "verification"
        ])
    );
    assert!(src["id"].as_str().unwrap().starts_with("src_"));
    assert_eq!(src["allowed_http_methods"], json!(["POST", "PUT", "PATCH", "DELETE"]));
    assert_eq!(src["custom_response"], Value::Null);
    // "the credentials are not shown in the response"
    assert_eq!(src["verification"], json!({"type": "api_key"}));
    assert!(!conn.to_string().contains("client-key-1"));
    let source_url = src["url"].as_str().unwrap().to_string();
    assert!(source_url.starts_with(&format!("{}/e/", pier.url())), "{source_url}");

    // "Make an asynchronous API request to your Hookdeck Source"
    let body = r#"{
"event_type": "mouse.click",
"click_x": "339",
"click_y": "318",
"timestamp": "2024-01-15T22:39:29.964Z"
}"#;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let r = http
        .post(format!("{source_url}/track"))
        .header("Content-Type", "application/json")
        .header("X-API-KEY", "client-key-1")
        .body(body)
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let ack: Value = r.json().await?;
    let request_id = ack["request_id"].as_str().expect("request_id").to_string();
    assert!(request_id.starts_with("req_"));
    assert_eq!(ack["status"], "SUCCESS");
    assert_eq!(ack["message"], format!("Request successfully handled. Request ID: {request_id}"));
    assert_eq!(keys(&ack), sorted(&["status", "message", "request_id"]));

    // The request in the API: path preserved, body bytes unchanged, one event.
    let req = api.ok(&format!("/requests/{request_id}")).await?;
    assert_eq!(req["data"]["path"], "/track");
    assert_eq!(req["verified"], true);
    assert_eq!(req["source_id"], src["id"]);
    assert_eq!(req["data"]["body"]["event_type"], "mouse.click");
    let raw = api.ok(&format!("/requests/{request_id}/raw_body")).await?;
    assert_eq!(raw["body"], body, "the body is stored byte for byte");
    let events = eventually(Duration::from_secs(10), "the request to be routed", || {
        let api = api.clone();
        let path = format!("/requests/{request_id}/events");
        async move {
            let v = api.ok(&path).await.ok()?;
            (v["count"] == 1).then_some(v)
        }
    })
    .await?;
    let event = &events["models"][0];
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["webhook_id"], conn["id"]);
    assert_eq!(event["destination_id"], dest["id"]);

    // A wrong or missing client key is rejected and recorded.
    for key in [Some("wrong"), None] {
        let mut rb = http.post(format!("{source_url}/track")).body(body);
        if let Some(k) = key {
            rb = rb.header("X-API-KEY", k);
        }
        let r = rb.send().await?;
        assert_eq!(r.status(), 401);
        let err: Value = r.json().await?;
        assert_eq!(err["status"], 401);
    }
    let rejected = api.ok("/requests?rejection_cause=VERIFICATION_FAILED").await?;
    assert_eq!(rejected["count"], 2);
    assert_eq!(rejected["models"][0]["verified"], false);
    assert_eq!(rejected["models"][0]["events_count"], 0);

    // "Deliver asynchronous API requests to your production API": PUT changes the URL.
    let (status, updated) = api
        .put(
            "/connections",
            &json!({
                "name": "asynchronous-api-quickstart",
                "source": {"name": "inbound-api"},
                "destination": {"name": "internal-api", "url": "https://api.example.com/"}
            }),
        )
        .await?;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["id"], conn["id"], "the same connection is updated");
    assert_eq!(updated["destination"]["id"], dest["id"]);
    assert_eq!(updated["destination"]["url"], "https://api.example.com/");
    assert_eq!(updated["source"]["url"], source_url.as_str(), "the source keeps its URL");
    assert_eq!(updated["source"]["verification"], json!({"type": "api_key"}), "the source keeps its verification");
    let again = api.ok(&format!("/connections/{}", conn["id"].as_str().unwrap())).await?;
    assert_eq!(again["destination"]["url"], "https://api.example.com/");
    // The verification still holds after the update.
    let r = http.post(format!("{source_url}/track")).header("X-API-KEY", "client-key-1").body(body).send().await?;
    assert_eq!(r.status(), 200);
    Ok(())
}
