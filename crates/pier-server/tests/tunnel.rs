//! Protocol conformance of the CLI tunnel, spoken directly by a raw websocket client with
//! exactly the documented messages (independently of `pier listen`).

use base64::Engine;
use futures::{SinkExt, StreamExt};
use pier_testkit::{eventually, Api, TestServer, TEST_API_KEY};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(srv: &TestServer, path: &str, session: &str, key: &str) -> Result<(Ws, Option<String>), String> {
    let mut req = format!("ws://{}{path}", srv.server.addr).into_client_request().unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    req.headers_mut().insert("authorization", format!("Basic {basic}").parse().unwrap());
    req.headers_mut().insert("websocket-id", session.parse().unwrap());
    req.headers_mut().insert("sec-websocket-protocol", "hookdeckcli-devproxy-v1".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, resp)) => {
            let proto = resp.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()).map(String::from);
            Ok((ws, proto))
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("ok");
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

async fn setup(api: &Api) -> (Value, String) {
    let (s, c) = api
        .post(
            "/connections",
            &json!({"name": "cli-in", "source": {"name": "in"}, "destination": {"name": "cli", "cli_path": "/hooks"}}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{c}");
    let (s, session) = api.post("/cli-sessions", &json!({"webhook_ids": [c["id"]]})).await.unwrap();
    assert_eq!(s, 200, "{session}");
    (c, session["id"].as_str().unwrap().to_string())
}

async fn send(c: &Value, path: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", c["source"]["url"].as_str().unwrap()))
        .header("content-type", "application/json")
        .header("x-test", "yes")
        .body(r#"{"hello":"cli"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["request_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn attempts_flow_over_the_documented_protocol() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let (c, session) = setup(&api).await;

        // No CLI connected yet: the request becomes an ignored event CLI_DISCONNECTED.
        let early = send(&c, "/track").await;
        let ign = eventually(Duration::from_secs(10), "routing", || {
            let (api, p) = (api.clone(), format!("/requests/{early}/ignored_events"));
            async move { api.ok(&p).await.ok().filter(|v| v["count"] == 1) }
        })
        .await
        .unwrap();
        assert_eq!(ign["models"][0]["cause"], "CLI_DISCONNECTED");

        let (mut ws, proto) = connect(&srv, "/ws", &session, TEST_API_KEY).await.unwrap();
        assert_eq!(proto.as_deref(), Some("hookdeckcli-devproxy-v1"));
        // Wait until the session is known as connected, then send.
        let cid = c["id"].as_str().unwrap().to_string();
        eventually(Duration::from_secs(10), "the session to be connected", || {
            let (store, cid) = (srv.server.store.clone(), cid.clone());
            async move { store.cli_connected(&cid, pier_server::clock::now_ms() - 30_000).await.ok().filter(|c| *c) }
        })
        .await
        .unwrap();
        let rid = send(&c, "/track?x=1").await;
        let msg = next_json(&mut ws).await;
        assert_eq!(msg["event"], "attempt");
        let body = &msg["body"];
        assert_eq!(body["webhook_id"], c["id"]);
        assert_eq!(body["cli_path"], "/hooks/track?x=1", "the destination path, then the request's path and query");
        assert_eq!(body["request"]["method"], "POST");
        assert_eq!(body["request"]["data_string"], r#"{"hello":"cli"}"#);
        assert_eq!(body["request"]["headers"]["x-test"], "yes");
        assert!(body["request"]["headers"]["x-hookdeck-signature"].is_string());
        assert!(body["request"]["timeout"].is_number());
        let attempt_id = body["attempt_id"].as_str().unwrap();
        assert!(body["event_id"].as_str().unwrap().starts_with("evt_"));
        let reply = json!({"event": "attempt_response", "body": {"attempt_id": attempt_id, "cli_path": "/hooks", "status": 201, "data": "created"}});
        ws.send(Message::Text(reply.to_string().into())).await.unwrap();
        let event_id = body["event_id"].as_str().unwrap().to_string();
        let e = eventually(Duration::from_secs(10), "success", || {
            let (api, p) = (api.clone(), format!("/events/{event_id}"));
            async move { api.ok(&p).await.ok().filter(|e| e["status"] == "SUCCESSFUL") }
        })
        .await
        .unwrap();
        assert_eq!(e["response_status"], 201);
        assert_eq!(e["request_id"], rid.as_str());
        let attempts = api.ok(&format!("/attempts?event_id={event_id}")).await.unwrap();
        assert_eq!(attempts["models"][0]["body"], "created");
        let req = api.ok(&format!("/requests/{rid}")).await.unwrap();
        assert_eq!(req["cli_events_count"], 1);

        // The CLI could not reach the local app: the attempt fails, no automatic retry.
        send(&c, "/again").await;
        let msg = next_json(&mut ws).await;
        let attempt_id = msg["body"]["attempt_id"].as_str().unwrap();
        let event_id = msg["body"]["event_id"].as_str().unwrap().to_string();
        ws.send(Message::Text(json!({"event": "attempt_response", "body": {"attempt_id": attempt_id, "error": true}}).to_string().into()))
            .await
            .unwrap();
        let e = eventually(Duration::from_secs(10), "failure", || {
            let (api, p) = (api.clone(), format!("/events/{event_id}"));
            async move { api.ok(&p).await.ok().filter(|e| e["status"] == "FAILED") }
        })
        .await
        .unwrap();
        assert_eq!(e["error_code"], "CLI_UNAVAILABLE");
        assert_eq!(e["next_attempt_at"], Value::Null);
        ws.close(None).await.ok();
    })
    .await
    .expect("timed out");
}

#[tokio::test]
async fn the_root_path_unknown_sessions_and_bad_keys() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let srv = TestServer::start().await.unwrap();
        let api = srv.api("2024-03-01");
        let (_, session) = setup(&api).await;
        // The upgrade is also accepted at `/`.
        let (mut ws, proto) = connect(&srv, "/", &session, TEST_API_KEY).await.unwrap();
        assert_eq!(proto.as_deref(), Some("hookdeckcli-devproxy-v1"));
        ws.close(None).await.ok();
        // An unknown session id is answered with the documented error.
        let (mut ws, _) = connect(&srv, "/ws", "cls_unknown", TEST_API_KEY).await.unwrap();
        let msg = next_json(&mut ws).await;
        assert_eq!(msg["body"]["message"], "Unknown WebSocket ID.");
        // A wrong key cannot upgrade.
        let err = match connect(&srv, "/ws", &session, "pier_wrong").await {
            Ok(_) => panic!("a wrong key must not upgrade"),
            Err(e) => e,
        };
        assert!(err.contains("401"), "{err}");
        // The CLI's own endpoints.
        let v = api.ok("/cli-auth/validate").await.unwrap();
        assert!(v["team_id"].as_str().unwrap().starts_with("tm_"));
        assert_eq!(api.post("/cli/guest", &json!({})).await.unwrap().0, 403);
        let (s, v) = api.post("/cli-sessions", &json!({"webhook_ids": ["web_nope"]})).await.unwrap();
        assert_eq!((s, v["data"]["field"].clone()), (422, json!("webhook_ids[0]")));
    })
    .await
    .expect("timed out");
}
