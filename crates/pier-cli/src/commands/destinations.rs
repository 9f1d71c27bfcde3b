//! `pier destinations …`: where events are delivered, at what rate.

use super::{enabled_status, parse_json, push, set, ApiArgs, PageArgs};
use crate::output::{details, emit, emit_page, say, text, time, Table};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

#[derive(Args, Debug)]
pub struct DestinationsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: DestinationsCommand,
}

#[derive(Subcommand, Debug)]
enum DestinationsCommand {
    /// List destinations
    List {
        /// Only destinations with this exact name
        #[arg(long)]
        name: Option<String>,
        /// Include disabled destinations
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one destination
    Get { id: String },
    /// Create a destination
    Create {
        /// Name: letters, digits, '-' and '_'
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: DestinationFields,
    },
    /// Change a destination; flags not given stay as they are
    Update {
        id: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: DestinationFields,
    },
    /// Delete a destination
    Delete { id: String },
    /// Disable a destination
    Disable { id: String },
    /// Enable a disabled destination
    Enable { id: String },
}

#[derive(Args, Debug)]
pub struct DestinationFields {
    /// URL events are delivered to
    #[arg(long)]
    url: Option<String>,
    /// Path under the local server of pier listen, instead of a URL
    #[arg(long, value_name = "PATH")]
    cli_path: Option<String>,
    /// Description
    #[arg(long)]
    description: Option<String>,
    /// Most deliveries per --rate-limit-period (or in flight, for concurrent)
    #[arg(long, value_name = "N")]
    rate_limit: Option<i64>,
    /// Period of --rate-limit
    #[arg(long, value_parser = ["second", "minute", "hour", "concurrent"], value_name = "PERIOD")]
    rate_limit_period: Option<String>,
    /// Remove the rate limit
    #[arg(long, conflicts_with_all = ["rate_limit", "rate_limit_period"])]
    no_rate_limit: bool,
    /// HTTP method of deliveries [default: the request's]
    #[arg(long, value_parser = ["GET", "POST", "PUT", "PATCH", "DELETE"], ignore_case = true, value_name = "METHOD")]
    http_method: Option<String>,
    /// Authentication as JSON, e.g. '{"type":"BEARER_TOKEN","config":{"token":"…"}}'
    #[arg(long, value_parser = parse_json, value_name = "JSON")]
    auth_method: Option<Value>,
}

impl DestinationFields {
    fn body(&self, name: &Option<String>) -> Value {
        let mut b = Map::new();
        set(&mut b, "name", name);
        set(&mut b, "description", &self.description);
        set(&mut b, "url", &self.url);
        set(&mut b, "cli_path", &self.cli_path);
        set(&mut b, "rate_limit", &self.rate_limit);
        set(&mut b, "rate_limit_period", &self.rate_limit_period);
        if self.no_rate_limit {
            b.insert("rate_limit".into(), Value::Null);
        }
        set(&mut b, "http_method", &self.http_method.as_ref().map(|m| m.to_ascii_uppercase()));
        set(&mut b, "auth_method", &self.auth_method);
        Value::Object(b)
    }
}

/// Where a destination delivers: its URL, or `cli:PATH`.
pub fn target(d: &Value) -> String {
    match d.get("url").and_then(Value::as_str) {
        Some(u) => u.to_string(),
        None => match d.get("cli_path").and_then(Value::as_str) {
            Some(p) => format!("cli:{p}"),
            None => "-".to_string(),
        },
    }
}

fn rate(d: &Value) -> String {
    match d.get("rate_limit").and_then(Value::as_i64) {
        Some(n) => format!("{n}/{}", text(d, "/rate_limit_period")),
        None => "-".to_string(),
    }
}

pub fn table(models: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "NAME", "URL", "RATE LIMIT", "STATUS", "CREATED"]);
    for d in models {
        t.row(vec![text(d, "/id"), text(d, "/name"), target(d), rate(d), enabled_status(d), time(d, "/created_at")]);
    }
    t
}

pub fn detail(d: &Value) -> String {
    details(&[
        ("id", text(d, "/id")),
        ("name", text(d, "/name")),
        ("url", target(d)),
        ("status", enabled_status(d)),
        ("http method", text(d, "/http_method")),
        ("rate limit", rate(d)),
        ("auth", text(d, "/auth_method/type")),
        ("description", text(d, "/description")),
        ("created", time(d, "/created_at")),
        ("updated", time(d, "/updated_at")),
    ])
}

pub async fn run(args: DestinationsArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let out = args.api.output;
    match args.command {
        DestinationsCommand::List { name, disabled, page } => {
            let mut q = page.query();
            push(&mut q, "name", &name);
            if disabled {
                q.push(("disabled", "true".into()));
            }
            let v = client.get("/destinations", &q).await?;
            emit_page(out, &v, "destinations", table);
        }
        DestinationsCommand::Get { id } => {
            let v = client.get(&format!("/destinations/{id}"), &Vec::new()).await?;
            emit(out, &v, || detail(&v));
        }
        DestinationsCommand::Create { name, fields } => {
            let v = client.post("/destinations", Some(&fields.body(&Some(name)))).await?;
            say(out, format!("created destination {} ({})", text(&v, "/name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        DestinationsCommand::Update { id, name, fields } => {
            let v = client.put(&format!("/destinations/{id}"), Some(&fields.body(&name))).await?;
            say(out, format!("updated destination {} ({})", text(&v, "/name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        DestinationsCommand::Delete { id } => {
            let v = client.delete(&format!("/destinations/{id}")).await?;
            emit(out, &v, || format!("deleted destination {id}\n"));
        }
        DestinationsCommand::Disable { id } => {
            let v = client.put(&format!("/destinations/{id}/disable"), None).await?;
            emit(out, &v, || format!("disabled destination {} ({id})\n", text(&v, "/name")));
        }
        DestinationsCommand::Enable { id } => {
            let v = client.put(&format!("/destinations/{id}/enable"), None).await?;
            emit(out, &v, || format!("enabled destination {} ({id})\n", text(&v, "/name")));
        }
    }
    Ok(())
}
