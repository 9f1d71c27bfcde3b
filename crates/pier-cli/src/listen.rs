//! `pier listen PORT|URL SOURCE [CONNECTION]`: receive a source's events on this machine.
//! Creates the source if missing and a connection to a CLI destination, opens a session,
//! connects the websocket tunnel, forwards each attempt to the local server and reports the
//! answer; reconnects with backoff when the server or the network goes away.

use anyhow::{bail, Context};
use base64::Engine;
use clap::{Args, ValueEnum};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq, Default)]
pub enum ListenOutput {
    /// The banner and one line per delivery
    #[default]
    Interactive,
    /// One line per delivery
    Compact,
    /// Errors only
    Quiet,
}

#[derive(Args, Debug)]
pub struct ListenArgs {
    /// The local server: a port (3030) or a URL (http://localhost:3030)
    pub target: String,
    /// The source to listen to (created if missing)
    pub source: String,
    /// The connection's name [default: cli-SOURCE]
    pub connection: Option<String>,
    /// Path on the local server events are forwarded to (the request's own path is appended)
    #[arg(long, default_value = "/")]
    pub path: String,
    /// What to print
    #[arg(long, value_enum, default_value = "interactive")]
    pub output: ListenOutput,
}

const V: &str = "2024-03-01";

struct Api {
    http: reqwest::Client,
    server: String,
    key: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut rb = self.http.request(method, format!("{}/{V}{path}", self.server)).bearer_auth(&self.key);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb
            .send()
            .await
            .with_context(|| format!("cannot reach {}: is pier serve running? set --server", self.server))?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if status.as_u16() == 401 {
            bail!("the api key was refused (401); run pier login --api-key KEY or set PIER_API_KEY");
        }
        if !status.is_success() {
            bail!("{path} answered {status}: {}", v["message"].as_str().unwrap_or("no message"));
        }
        Ok(v)
    }
}

fn local_base(target: &str) -> anyhow::Result<String> {
    if target.chars().all(|c| c.is_ascii_digit()) {
        return Ok(format!("http://localhost:{target}"));
    }
    if target.starts_with("http://") || target.starts_with("https://") {
        return Ok(target.trim_end_matches('/').to_string());
    }
    bail!("'{target}' is neither a port nor an http(s) URL; try pier listen 3030 SOURCE")
}

/// Source, connection and session for this listen.
async fn prepare(api: &Api, args: &ListenArgs) -> anyhow::Result<(Value, Value)> {
    let found = api.call(reqwest::Method::GET, &format!("/sources?name={}", args.source), None).await?;
    let source = match found["models"].as_array().and_then(|m| m.first()) {
        Some(s) => s.clone(),
        None => api.call(reqwest::Method::POST, "/sources", Some(json!({"name": args.source}))).await?,
    };
    let name = args.connection.clone().unwrap_or_else(|| format!("cli-{}", args.source));
    let path = if args.path.starts_with('/') { args.path.clone() } else { format!("/{}", args.path) };
    let connection = api
        .call(
            reqwest::Method::PUT,
            "/connections",
            Some(json!({
                "name": name,
                "source_id": source["id"],
                "destination": {"name": format!("cli-{}-{}", args.source, name).chars().take(155).collect::<String>(), "cli_path": path},
            })),
        )
        .await?;
    Ok((source, connection))
}

pub async fn run(server: String, key: String, args: ListenArgs) -> anyhow::Result<()> {
    let base = local_base(&args.target)?;
    let server = server.trim_end_matches('/').to_string();
    let api =
        Api { http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?, server: server.clone(), key };
    let (source, connection) = prepare(&api, &args).await?;
    if args.output == ListenOutput::Interactive {
        eprintln!("Dashboard");
        eprintln!("👉 Inspect and replay events: {server}/");
        eprintln!();
        eprintln!("{} Source", source["name"].as_str().unwrap_or_default());
        eprintln!("🔌 Event URL: {}", source["url"].as_str().unwrap_or_default());
        eprintln!();
        eprintln!("Connections");
        eprintln!(
            "{} forwarding to {}",
            connection["name"].as_str().unwrap_or_default(),
            connection["destination"]["cli_path"].as_str().unwrap_or("/")
        );
        eprintln!();
    }
    let local = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let mut backoff = Duration::from_millis(500);
    let mut announced = false;
    loop {
        match session(&api, &connection, &local, &base, &args, &mut announced).await {
            Ok(()) => backoff = Duration::from_millis(500),
            Err(e) => {
                if args.output != ListenOutput::Quiet || !announced {
                    eprintln!("[WARN] {e:#}; reconnecting in {}s", backoff.as_secs_f32());
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// One session: open it, connect, forward until the connection drops.
async fn session(
    api: &Api,
    connection: &Value,
    local: &reqwest::Client,
    base: &str,
    args: &ListenArgs,
    announced: &mut bool,
) -> anyhow::Result<()> {
    let s = api.call(reqwest::Method::POST, "/cli-sessions", Some(json!({"webhook_ids": [connection["id"]]}))).await?;
    let id = s["id"].as_str().context("the server gave no session id")?;
    let ws_url = format!("{}/ws", api.server.replacen("http", "ws", 1));
    let mut req = ws_url.into_client_request()?;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", api.key));
    req.headers_mut().insert("authorization", format!("Basic {basic}").parse()?);
    req.headers_mut().insert("websocket-id", id.parse()?);
    req.headers_mut().insert("sec-websocket-protocol", "hookdeckcli-devproxy-v1".parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(req).await.context("cannot open the tunnel")?;
    let (mut sink, mut stream) = ws.split();
    if !*announced && args.output != ListenOutput::Quiet {
        eprintln!("> Ready! (^C to quit)");
    } else if *announced && args.output != ListenOutput::Quiet {
        eprintln!("> Reconnected.");
    }
    *announced = true;
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = tokio::signal::ctrl_c() => std::process::exit(0),
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Ping(p))) => {
                sink.send(Message::Pong(p)).await.ok();
                continue;
            }
            Some(Ok(Message::Close(_))) | None => bail!("the server closed the tunnel"),
            Some(Err(e)) => bail!("the tunnel failed: {e}"),
            Some(Ok(_)) => continue,
        };
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match v["event"].as_str() {
            Some("attempt") => {
                let reply = forward(local, base, &v["body"], &api.server, args.output).await;
                sink.send(Message::Text(reply.to_string().into())).await.context("cannot answer the server")?;
            }
            Some("error") => bail!("{}", v["body"]["message"].as_str().unwrap_or("the server refused the session")),
            _ => {}
        }
    }
}

const SKIPPED: [&str; 6] = ["host", "content-length", "connection", "transfer-encoding", "keep-alive", "upgrade"];

/// Forward one attempt to the local server and build the `attempt_response`.
async fn forward(local: &reqwest::Client, base: &str, body: &Value, server: &str, output: ListenOutput) -> Value {
    let attempt_id = body["attempt_id"].clone();
    let cli_path = body["cli_path"].as_str().unwrap_or("/");
    let req = &body["request"];
    let method = req["method"].as_str().unwrap_or("POST");
    let url =
        format!("{base}{}", if cli_path.starts_with('/') { cli_path.to_string() } else { format!("/{cli_path}") });
    let timeout = Duration::from_millis(req["timeout"].as_u64().unwrap_or(60_000));
    let mut rb = local
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST), &url)
        .timeout(timeout)
        .body(req["data_string"].as_str().unwrap_or_default().to_string());
    if let Some(h) = req["headers"].as_object() {
        for (k, v) in h {
            if !SKIPPED.contains(&k.to_ascii_lowercase().as_str()) {
                if let Some(v) = v.as_str() {
                    rb = rb.header(k, v);
                }
            }
        }
    }
    let started = Instant::now();
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
    let event_url = format!("{server}/events/{}", body["event_id"].as_str().unwrap_or_default());
    match rb.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let data = r.text().await.unwrap_or_default();
            if output != ListenOutput::Quiet {
                println!("{now} [{status}] {method} {url} ({}ms) → {event_url}", started.elapsed().as_millis());
            }
            json!({"event": "attempt_response", "body": {"attempt_id": attempt_id, "cli_path": cli_path, "status": status, "data": data}})
        }
        Err(e) => {
            let what = if e.is_connect() {
                "connection refused"
            } else if e.is_timeout() {
                "timed out"
            } else {
                "request failed"
            };
            eprintln!("{now} [ERROR] {what}: {method} {url}: is your server running? → {event_url}");
            json!({"event": "attempt_response", "body": {"attempt_id": attempt_id, "error": true}})
        }
    }
}
