//! `pier requests …`: what sources received, accepted or rejected, and what it became.

use super::{events, push, ApiArgs, PageArgs};
use crate::output::{details, emit, emit_page, say, short_json, text, time, Table};
use crate::Output;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct RequestsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: RequestsCommand,
}

#[derive(Subcommand, Debug)]
enum RequestsCommand {
    /// List requests, newest first
    List {
        /// Only accepted or only rejected requests
        #[arg(long, value_parser = ["accepted", "rejected"])]
        status: Option<String>,
        /// Only requests of this source
        #[arg(long, value_name = "ID")]
        source_id: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one request with its path, headers and body
    Get { id: String },
    /// Print a request's body exactly as received
    RawBody { id: String },
    /// List the events a request produced
    Events {
        id: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// List the connections a request was ignored by, and why
    IgnoredEvents {
        id: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Route a request again through the given connections of its source
    Retry {
        id: String,
        /// Connection to route through (repeat, or separate with commas)
        #[arg(long = "connection-id", value_name = "ID", required = true, value_delimiter = ',')]
        connection_ids: Vec<String>,
    },
}

fn request_status(r: &Value) -> String {
    match r.get("rejection_cause").and_then(Value::as_str) {
        Some(cause) => format!("rejected ({cause})"),
        None => "accepted".to_string(),
    }
}

pub fn table(models: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "SOURCE", "STATUS", "EVENTS", "IGNORED", "INGESTED"]);
    for r in models {
        t.row(vec![
            text(r, "/id"),
            text(r, "/source_id"),
            request_status(r),
            text(r, "/events_count"),
            text(r, "/ignored_count"),
            time(r, "/ingested_at"),
        ]);
    }
    t
}

fn ignored_table(models: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "CONNECTION", "CAUSE", "CREATED"]);
    for i in models {
        t.row(vec![text(i, "/id"), text(i, "/webhook_id"), text(i, "/cause"), time(i, "/created_at")]);
    }
    t
}

pub fn detail(r: &Value) -> String {
    let headers = r
        .pointer("/data/headers")
        .and_then(Value::as_object)
        .map(|h| h.iter().map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default())).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut fields = vec![
        ("id", text(r, "/id")),
        ("source", text(r, "/source_id")),
        ("status", request_status(r)),
        ("verified", text(r, "/verified")),
        ("events", text(r, "/events_count")),
        ("ignored", text(r, "/ignored_count")),
        ("ingested", time(r, "/ingested_at")),
        ("path", text(r, "/data/path")),
        ("query", text(r, "/data/query")),
        ("body", short_json(r.pointer("/data/body"), 300)),
    ];
    for (i, h) in headers.into_iter().enumerate() {
        fields.push((if i == 0 { "headers" } else { "" }, h));
    }
    details(&fields)
}

/// `raw-body`: the body itself on stdout, or the API's `{"body": …}` with `--output json`.
pub fn print_raw_body(out: Output, v: &Value) {
    match out {
        Output::Json => emit(out, v, String::new),
        Output::Human => print!("{}", v.get("body").and_then(Value::as_str).unwrap_or_default()),
    }
}

pub async fn run(args: RequestsArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let out = args.api.output;
    match args.command {
        RequestsCommand::List { status, source_id, page } => {
            let mut q = page.query();
            push(&mut q, "status", &status);
            push(&mut q, "source_id", &source_id);
            let v = client.get("/requests", &q).await?;
            emit_page(out, &v, "requests", table);
        }
        RequestsCommand::Get { id } => {
            let v = client.get(&format!("/requests/{id}"), &Vec::new()).await?;
            emit(out, &v, || detail(&v));
        }
        RequestsCommand::RawBody { id } => {
            let v = client.get(&format!("/requests/{id}/raw_body"), &Vec::new()).await?;
            print_raw_body(out, &v);
        }
        RequestsCommand::Events { id, page } => {
            let v = client.get(&format!("/requests/{id}/events"), &page.query()).await?;
            emit_page(out, &v, "events", events::table);
        }
        RequestsCommand::IgnoredEvents { id, page } => {
            let v = client.get(&format!("/requests/{id}/ignored_events"), &page.query()).await?;
            emit_page(out, &v, "ignored events", ignored_table);
        }
        RequestsCommand::Retry { id, connection_ids } => {
            let body = json!({ "webhook_ids": connection_ids });
            let v = client.post(&format!("/requests/{id}/retry"), Some(&body)).await?;
            let evs = v.get("events").and_then(Value::as_array).cloned().unwrap_or_default();
            say(out, format!("retried request {id}: {} event(s)", evs.len()));
            emit(out, &v, || if evs.is_empty() { String::new() } else { events::table(&evs).render() });
        }
    }
    Ok(())
}
