//! `pier attempts …`: each try at delivering an event, with the destination's answer.

use super::{push, ApiArgs, PageArgs};
use crate::output::{details, emit, emit_page, short_json, text, time, Table};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Args, Debug)]
pub struct AttemptsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: AttemptsCommand,
}

#[derive(Subcommand, Debug)]
enum AttemptsCommand {
    /// List delivery attempts, newest first
    List {
        /// Only the attempts of this event
        #[arg(long, value_name = "ID")]
        event_id: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one attempt with the destination's answer
    Get { id: String },
}

/// The destination's status code, or the error that stopped the attempt.
pub fn response(a: &Value) -> String {
    match (a.get("response_status").and_then(Value::as_i64), a.get("error_code").and_then(Value::as_str)) {
        (Some(s), _) => s.to_string(),
        (None, Some(code)) => code.to_string(),
        (None, None) => "-".to_string(),
    }
}

fn latency(a: &Value) -> String {
    match a.get("response_latency").and_then(Value::as_i64) {
        Some(ms) => format!("{ms}ms"),
        None => "-".to_string(),
    }
}

pub fn table(models: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "EVENT", "#", "STATUS", "RESPONSE", "TRIGGER", "LATENCY", "CREATED"]);
    for a in models {
        t.row(vec![
            text(a, "/id"),
            text(a, "/event_id"),
            text(a, "/attempt_number"),
            text(a, "/status"),
            response(a),
            text(a, "/trigger"),
            latency(a),
            time(a, "/created_at"),
        ]);
    }
    t
}

pub fn detail(a: &Value) -> String {
    details(&[
        ("id", text(a, "/id")),
        ("event", text(a, "/event_id")),
        ("destination", text(a, "/destination_id")),
        ("number", text(a, "/attempt_number")),
        ("status", text(a, "/status")),
        ("trigger", text(a, "/trigger")),
        ("request", format!("{} {}", text(a, "/http_method"), text(a, "/requested_url"))),
        ("response", response(a)),
        ("latency", latency(a)),
        ("created", time(a, "/created_at")),
        ("body", short_json(a.get("body"), 300)),
    ])
}

pub async fn run(args: AttemptsArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let out = args.api.output;
    match args.command {
        AttemptsCommand::List { event_id, page } => {
            let mut q = page.query();
            push(&mut q, "event_id", &event_id);
            let v = client.get("/attempts", &q).await?;
            emit_page(out, &v, "attempts", table);
        }
        AttemptsCommand::Get { id } => {
            let v = client.get(&format!("/attempts/{id}"), &Vec::new()).await?;
            emit(out, &v, || detail(&v));
        }
    }
    Ok(())
}
