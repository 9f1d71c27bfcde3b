//! The CLI tunnel, wire-compatible with the Hookdeck CLI dev-proxy protocol: `POST
//! /{version}/cli-sessions` opens a session for some connections; the CLI connects a websocket
//! (at `/` or `/ws`, headers `Websocket-Id` and Basic auth, subprotocol
//! `hookdeckcli-devproxy-v1`); Pier sends `attempt` messages and reads `attempt_response`s.
//! Sessions live in the store (which node holds each), so routing on any node knows whether a
//! CLI is connected; the node holding the websocket delivers.

use crate::api::Auth;
use crate::clock::{new_id, now_ms};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use pier_core::{CliSession, IdKind};
use pier_delivery::{Tunnel, TunnelAnswer, TunnelAttempt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub const SUBPROTOCOL: &str = "hookdeckcli-devproxy-v1";
/// How often the server pings, and a connected session is marked as seen.
const PING_EVERY: Duration = Duration::from_secs(10);
/// A session not seen for this long is no longer connected.
pub const SEEN_WITHIN_MS: i64 = 30_000;

struct Local {
    webhook_ids: Vec<String>,
    destinations: HashSet<String>,
    out: mpsc::UnboundedSender<String>,
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Result<TunnelAnswer, String>>>>>;

/// The CLI sessions whose websocket this node holds.
#[derive(Default)]
pub struct Tunnels {
    sessions: Mutex<HashMap<String, Local>>,
    pending: Pending,
}

impl Tunnel for Tunnels {
    fn serves_destination(&self, destination_id: &str) -> bool {
        self.sessions.lock().values().any(|s| s.destinations.contains(destination_id))
    }

    fn send(&self, a: TunnelAttempt) -> pier_delivery::tunnel::TunnelFuture {
        let out = {
            let sessions = self.sessions.lock();
            sessions.values().find(|s| s.webhook_ids.contains(&a.webhook_id)).map(|s| s.out.clone())
        };
        let pending = self.pending.clone();
        Box::pin(async move {
            let out = out.ok_or_else(|| "no CLI session receives this connection".to_string())?;
            let headers: serde_json::Map<String, Value> =
                a.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let msg = json!({
                "event": "attempt",
                "body": {
                    "event_id": a.event_id,
                    "attempt_id": a.attempt_id,
                    "webhook_id": a.webhook_id,
                    "cli_path": a.cli_path,
                    "request": {
                        "method": a.method,
                        "timeout": a.timeout_ms,
                        "data_string": String::from_utf8_lossy(&a.body),
                        "headers": headers,
                    }
                }
            });
            let (tx, rx) = oneshot::channel();
            pending.lock().insert(a.attempt_id.clone(), tx);
            if out.send(msg.to_string()).is_err() {
                pending.lock().remove(&a.attempt_id);
                return Err("the CLI session disconnected".into());
            }
            let r = tokio::time::timeout(Duration::from_millis(a.timeout_ms), rx).await;
            pending.lock().remove(&a.attempt_id);
            match r {
                Ok(Ok(answer)) => answer,
                Ok(Err(_)) => Err("the CLI session disconnected".into()),
                Err(_) => Err("the CLI did not answer in time".into()),
            }
        })
    }
}

/// `POST /{version}/cli-sessions {webhook_ids, filters?}` → `{id}`.
pub async fn create_session(
    State(st): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<Value>,
) -> ApiResult<Json<Value>> {
    let ids: Vec<String> = body
        .get("webhook_ids")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::field("webhook_ids", "give the connections this session receives"))?
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        if st.store.connection(&p.id, id).await?.is_none() {
            return Err(ApiError::field(format!("webhook_ids[{i}]"), "no connection with this id"));
        }
    }
    let now = now_ms();
    let session = CliSession {
        id: new_id(IdKind::CliSession, now),
        project_id: p.id.clone(),
        webhook_ids: ids.clone(),
        node: None,
        seen_at: now,
        created_at: now,
    };
    st.store.put_cli_session(&session).await?;
    Ok(Json(
        json!({"id": session.id, "team_id": p.id, "webhook_ids": ids, "created_at": pier_api_types::time::format(now)}),
    ))
}

/// `GET /{version}/cli-auth/validate`: a valid API key is the login.
pub async fn validate(Auth(p): Auth) -> Json<Value> {
    Json(json!({"team_id": p.id, "team_name": p.name, "team_mode": "console", "key_valid": true}))
}

/// `POST /{version}/cli/guest`: Pier has no guest accounts.
pub async fn guest() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "guest mode is not available on Pier; log in with an API key",
    )
}

/// The websocket upgrade at `/ws` (and `/`, see [`root`]).
pub async fn ws(State(st): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    let key = basic_key(&headers);
    let session_id = headers.get("websocket-id").and_then(|v| v.to_str().ok()).map(String::from);
    let project = match key {
        Some(k) => st.store.project_by_key_hash(&pier_core::keys::hash_api_key(&k)).await.ok().flatten(),
        None => None,
    };
    let Some(project) = project else {
        return ApiError::unauthorized("invalid API key: send Authorization: Basic base64(<api key>:)").into_response();
    };
    let session = match &session_id {
        Some(id) => st.store.cli_session(&project.id, id).await.ok().flatten(),
        None => None,
    };
    upgrade.protocols([SUBPROTOCOL]).on_upgrade(move |socket| async move {
        match session {
            Some(s) => serve(st, s, socket).await,
            None => {
                let mut socket = socket;
                let msg = json!({"event": "error", "body": {"message": "Unknown WebSocket ID."}});
                let _ = socket.send(Message::Text(msg.to_string().into())).await;
                let _ = socket.close().await;
            }
        }
    })
}

/// `GET /`: a websocket upgrade is a CLI session (the tunnel), anything else the dashboard's
/// page. A route of its own rather than a middleware, so no other request pays for the check.
pub async fn root(State(st): State<AppState>, req: axum::extract::Request) -> Response {
    let is_upgrade = req
        .headers()
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        return crate::dashboard::index_page(req.headers());
    }
    let (mut parts, _body) = req.into_parts();
    let headers = parts.headers.clone();
    match WebSocketUpgrade::from_request_parts(&mut parts, &st).await {
        Ok(up) => ws(State(st), headers, up).await,
        Err(e) => e.into_response(),
    }
}

fn basic_key(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string());
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':').unwrap_or((&text, ""));
    Some(if user.is_empty() { pass } else { user }.to_string()).filter(|k| !k.is_empty())
}

async fn serve(st: AppState, mut session: CliSession, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
    let mut destinations = HashSet::new();
    for w in &session.webhook_ids {
        if let Ok(Some(c)) = st.store.connection(&session.project_id, w).await {
            destinations.insert(c.destination_id);
        }
    }
    st.tunnels.sessions.lock().insert(
        session.id.clone(),
        Local { webhook_ids: session.webhook_ids.clone(), destinations: destinations.clone(), out },
    );
    session.node = Some(st.node_id.clone());
    session.seen_at = now_ms();
    if let Err(e) = st.store.put_cli_session(&session).await {
        tracing::warn!(error = %e, "cannot record the CLI session");
    }
    tracing::info!(session = %session.id, connections = session.webhook_ids.len(), "CLI connected");
    // Events that waited for a CLI go now.
    for d in &destinations {
        st.delivery.notify(&session.project_id, d, now_ms());
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => handle(&st, t.as_str()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            out = out_rx.recv() => match out {
                Some(text) => if sink.send(Message::Text(text.into())).await.is_err() { break },
                None => break,
            },
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                session.seen_at = now_ms();
                let _ = st.store.put_cli_session(&session).await;
            }
        }
    }
    st.tunnels.sessions.lock().remove(&session.id);
    session.node = None;
    let _ = st.store.put_cli_session(&session).await;
    tracing::info!(session = %session.id, "CLI disconnected");
}

/// An `attempt_response` from the CLI resolves its pending attempt.
fn handle(st: &AppState, text: &str) {
    let Ok(v) = serde_json::from_str::<Value>(text) else { return };
    if v["event"] != "attempt_response" {
        return;
    }
    let body = &v["body"];
    let Some(id) = body["attempt_id"].as_str() else { return };
    let answer = if body["error"].as_bool() == Some(true) {
        Err("the CLI could not reach the local server".to_string())
    } else {
        let status = body["status"].as_u64().unwrap_or(0) as u16;
        let data = match &body["data"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        Ok(TunnelAnswer { status, body: data })
    };
    if let Some(tx) = st.tunnels.pending.lock().remove(id) {
        let _ = tx.send(answer);
    }
}
