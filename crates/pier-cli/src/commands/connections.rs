//! `pier connections …`: a source routed to a destination, with rules.

use super::{destinations, name_and_id, parse_json, push, set, usage_error, ApiArgs, PageArgs};
use crate::output::{details, emit, emit_page, say, short_json, text, time, Table};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

#[derive(Args, Debug)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: ConnectionsCommand,
}

#[derive(Subcommand, Debug)]
enum ConnectionsCommand {
    /// List connections
    List {
        /// Only connections with this exact name
        #[arg(long)]
        name: Option<String>,
        /// Only connections of this source
        #[arg(long, value_name = "ID")]
        source_id: Option<String>,
        /// Only connections to this destination
        #[arg(long, value_name = "ID")]
        destination_id: Option<String>,
        /// Include disabled connections
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one connection
    Get { id: String },
    /// Create a connection, and its source and destination when given by name
    Create(ConnectionFields),
    /// Create or update the connection of this name on its source (PUT /connections)
    Upsert(ConnectionFields),
    /// Change a connection's name, description or rules
    Update {
        id: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        /// Description
        #[arg(long)]
        description: Option<String>,
        /// Rules as a JSON array, e.g. '[{"type":"retry","strategy":"linear","count":3,"interval":60000}]'
        #[arg(long, value_parser = parse_json, value_name = "JSON")]
        rules: Option<Value>,
    },
    /// Delete a connection
    Delete { id: String },
    /// Pause a connection: new events are held until it is unpaused
    Pause { id: String },
    /// Unpause a connection: held events are delivered
    Unpause { id: String },
    /// Disable a connection: new requests are ignored for it
    Disable { id: String },
    /// Enable a disabled connection
    Enable { id: String },
    /// Count connections
    Count {
        /// Only connections of this source
        #[arg(long, value_name = "ID")]
        source_id: Option<String>,
        /// Only connections to this destination
        #[arg(long, value_name = "ID")]
        destination_id: Option<String>,
        /// Include disabled connections
        #[arg(long)]
        disabled: bool,
    },
}

#[derive(Args, Debug)]
pub struct ConnectionFields {
    /// Name of the connection (unique on its source)
    #[arg(long)]
    name: String,
    /// Description
    #[arg(long)]
    description: Option<String>,
    /// Source by name: reused if it exists, created if not
    #[arg(long, value_name = "NAME", conflicts_with = "source_id", required_unless_present = "source_id")]
    source: Option<String>,
    /// An existing source by id
    #[arg(long, value_name = "ID")]
    source_id: Option<String>,
    /// Destination by name: reused if it exists (its URL updated to --url), created if not
    #[arg(long, value_name = "NAME", conflicts_with = "destination_id")]
    destination: Option<String>,
    /// URL of the destination given with --destination
    #[arg(long, requires = "destination")]
    url: Option<String>,
    /// Path under pier listen's local server, for a destination given with --destination
    #[arg(long, value_name = "PATH", requires = "destination", conflicts_with = "url")]
    cli_path: Option<String>,
    /// An existing destination by id
    #[arg(long, value_name = "ID")]
    destination_id: Option<String>,
    /// Rules as a JSON array
    #[arg(long, value_parser = parse_json, value_name = "JSON")]
    rules: Option<Value>,
}

impl ConnectionFields {
    fn body(&self) -> Value {
        let mut b = Map::new();
        b.insert("name".into(), json!(self.name));
        set(&mut b, "description", &self.description);
        match (&self.source, &self.source_id) {
            (Some(name), _) => {
                b.insert("source".into(), json!({ "name": name }));
            }
            (None, id) => set(&mut b, "source_id", id),
        }
        match (&self.destination, &self.destination_id) {
            (Some(name), _) => {
                let mut d = Map::new();
                d.insert("name".into(), json!(name));
                set(&mut d, "url", &self.url);
                set(&mut d, "cli_path", &self.cli_path);
                b.insert("destination".into(), Value::Object(d));
            }
            (None, id) => set(&mut b, "destination_id", id),
        }
        set(&mut b, "rules", &self.rules);
        Value::Object(b)
    }
}

/// `disabled`, `paused` or `active`.
pub fn status(c: &Value) -> String {
    let set = |k: &str| c.get(k).is_some_and(|v| !v.is_null());
    if set("disabled_at") {
        "disabled"
    } else if set("paused_at") {
        "paused"
    } else {
        "active"
    }
    .to_string()
}

pub fn table(models: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "NAME", "SOURCE", "DESTINATION", "URL", "STATUS", "CREATED"]);
    for c in models {
        t.row(vec![
            text(c, "/id"),
            text(c, "/name"),
            text(c, "/source/name"),
            text(c, "/destination/name"),
            c.get("destination").map(destinations::target).unwrap_or_else(|| "-".into()),
            status(c),
            time(c, "/created_at"),
        ]);
    }
    t
}

pub fn detail(c: &Value) -> String {
    let rules = match c.get("rules").and_then(Value::as_array) {
        Some(r) if !r.is_empty() => short_json(c.get("rules"), 200),
        _ => "-".to_string(),
    };
    details(&[
        ("id", text(c, "/id")),
        ("name", text(c, "/full_name")),
        ("status", status(c)),
        ("source", name_and_id(c, "/source")),
        ("source url", text(c, "/source/url")),
        ("destination", name_and_id(c, "/destination")),
        ("url", c.get("destination").map(destinations::target).unwrap_or_else(|| "-".into())),
        ("rules", rules),
        ("description", text(c, "/description")),
        ("paused", time(c, "/paused_at")),
        ("created", time(c, "/created_at")),
        ("updated", time(c, "/updated_at")),
    ])
}

pub async fn run(args: ConnectionsArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let out = args.api.output;
    let lifecycle = |id: &str, action: &str| format!("/connections/{id}/{action}");
    match args.command {
        ConnectionsCommand::List { name, source_id, destination_id, disabled, page } => {
            let mut q = page.query();
            push(&mut q, "name", &name);
            push(&mut q, "source_id", &source_id);
            push(&mut q, "destination_id", &destination_id);
            if disabled {
                q.push(("disabled", "true".into()));
            }
            let v = client.get("/connections", &q).await?;
            emit_page(out, &v, "connections", table);
        }
        ConnectionsCommand::Get { id } => {
            let v = client.get(&format!("/connections/{id}"), &Vec::new()).await?;
            emit(out, &v, || detail(&v));
        }
        ConnectionsCommand::Create(fields) => {
            if fields.destination.is_none() && fields.destination_id.is_none() {
                usage_error("the following required arguments were not provided:\n  --destination <NAME> or --destination-id <ID>");
            }
            let v = client.post("/connections", Some(&fields.body())).await?;
            say(out, format!("created connection {} ({})", text(&v, "/full_name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        ConnectionsCommand::Upsert(fields) => {
            let v = client.put("/connections", Some(&fields.body())).await?;
            say(out, format!("saved connection {} ({})", text(&v, "/full_name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        ConnectionsCommand::Update { id, name, description, rules } => {
            let mut b = Map::new();
            set(&mut b, "name", &name);
            set(&mut b, "description", &description);
            set(&mut b, "rules", &rules);
            let v = client.put(&format!("/connections/{id}"), Some(&Value::Object(b))).await?;
            say(out, format!("updated connection {} ({})", text(&v, "/full_name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        ConnectionsCommand::Delete { id } => {
            let v = client.delete(&format!("/connections/{id}")).await?;
            emit(out, &v, || format!("deleted connection {id}\n"));
        }
        ConnectionsCommand::Pause { id } => {
            let v = client.put(&lifecycle(&id, "pause"), None).await?;
            emit(out, &v, || format!("paused connection {} ({id})\n", text(&v, "/full_name")));
        }
        ConnectionsCommand::Unpause { id } => {
            let v = client.put(&lifecycle(&id, "unpause"), None).await?;
            emit(out, &v, || format!("unpaused connection {} ({id})\n", text(&v, "/full_name")));
        }
        ConnectionsCommand::Disable { id } => {
            let v = client.put(&lifecycle(&id, "disable"), None).await?;
            emit(out, &v, || format!("disabled connection {} ({id})\n", text(&v, "/full_name")));
        }
        ConnectionsCommand::Enable { id } => {
            let v = client.put(&lifecycle(&id, "enable"), None).await?;
            emit(out, &v, || format!("enabled connection {} ({id})\n", text(&v, "/full_name")));
        }
        ConnectionsCommand::Count { source_id, destination_id, disabled } => {
            let mut q = Vec::new();
            push(&mut q, "source_id", &source_id);
            push(&mut q, "destination_id", &destination_id);
            if disabled {
                q.push(("disabled", "true".into()));
            }
            let v = client.get("/connections/count", &q).await?;
            emit(out, &v, || format!("{} connection(s)\n", text(&v, "/count")));
        }
    }
    Ok(())
}
