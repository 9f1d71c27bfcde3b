//! `pier events …`: one request routed through one connection, and its delivery.

use super::attempts::response;
use super::{push, requests, ApiArgs, PageArgs};
use crate::output::{details, emit, emit_page, short_json, text, time, Table};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Args, Debug)]
pub struct EventsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: EventsCommand,
}

#[derive(Subcommand, Debug)]
enum EventsCommand {
    /// List events, newest first
    List {
        /// Only events in this state
        #[arg(long, ignore_case = true, value_parser = ["SCHEDULED", "QUEUED", "HOLD", "SUCCESSFUL", "FAILED", "CANCELLED"])]
        status: Option<String>,
        /// Only events of this connection
        #[arg(long, value_name = "ID")]
        connection_id: Option<String>,
        /// Only events of this source
        #[arg(long, value_name = "ID")]
        source_id: Option<String>,
        /// Only events to this destination
        #[arg(long, value_name = "ID")]
        destination_id: Option<String>,
        /// Only events of this request
        #[arg(long, value_name = "ID")]
        request_id: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one event with its request data
    Get { id: String },
    /// Print the body of an event's request exactly as received
    RawBody { id: String },
    /// Deliver an event again now
    Retry { id: String },
    /// Make no further attempts to deliver an event
    Mute { id: String },
}

pub fn table(models: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "STATUS", "CONNECTION", "ATTEMPTS", "RESPONSE", "NEXT ATTEMPT", "CREATED"]);
    for e in models {
        t.row(vec![
            text(e, "/id"),
            text(e, "/status"),
            text(e, "/webhook_id"),
            text(e, "/attempts"),
            response(e),
            time(e, "/next_attempt_at"),
            time(e, "/created_at"),
        ]);
    }
    t
}

pub fn detail(e: &Value) -> String {
    details(&[
        ("id", text(e, "/id")),
        ("status", text(e, "/status")),
        ("connection", text(e, "/webhook_id")),
        ("source", text(e, "/source_id")),
        ("destination", text(e, "/destination_id")),
        ("request", text(e, "/request_id")),
        ("attempts", text(e, "/attempts")),
        ("response", response(e)),
        ("last attempt", time(e, "/last_attempt_at")),
        ("next attempt", time(e, "/next_attempt_at")),
        ("successful", time(e, "/successful_at")),
        ("created", time(e, "/created_at")),
        ("path", text(e, "/data/path")),
        ("body", short_json(e.pointer("/data/body"), 300)),
    ])
}

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let out = args.api.output;
    match args.command {
        EventsCommand::List { status, connection_id, source_id, destination_id, request_id, page } => {
            let mut q = page.query();
            push(&mut q, "status", &status.map(|s| s.to_ascii_uppercase()));
            push(&mut q, "webhook_id", &connection_id);
            push(&mut q, "source_id", &source_id);
            push(&mut q, "destination_id", &destination_id);
            push(&mut q, "request_id", &request_id);
            let v = client.get("/events", &q).await?;
            emit_page(out, &v, "events", table);
        }
        EventsCommand::Get { id } => {
            let v = client.get(&format!("/events/{id}"), &Vec::new()).await?;
            emit(out, &v, || detail(&v));
        }
        EventsCommand::RawBody { id } => {
            let v = client.get(&format!("/events/{id}/raw_body"), &Vec::new()).await?;
            requests::print_raw_body(out, &v);
        }
        EventsCommand::Retry { id } => {
            let v = client.post(&format!("/events/{id}/retry"), None).await?;
            emit(out, &v, || {
                let a = v.get("attempt").cloned().unwrap_or_default();
                format!(
                    "retried event {id}: attempt {} {} ({}); event is {}\n",
                    text(&a, "/id"),
                    text(&a, "/status"),
                    response(&a),
                    text(&v, "/event/status")
                )
            });
        }
        EventsCommand::Mute { id } => {
            let v = client.put(&format!("/events/{id}/mute"), None).await?;
            emit(out, &v, || format!("muted event {id}: no further attempts (status {})\n", text(&v, "/status")));
        }
    }
    Ok(())
}
