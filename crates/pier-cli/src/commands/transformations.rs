//! `pier transformations …`: JavaScript that rewrites requests on a connection, its test runs
//! and its executions.

use super::{parse_json, push, usage_error, ApiArgs, PageArgs};
use crate::output::{details, emit, emit_page, say, text, time, Table};
use crate::Output;
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TransformationsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: TransformationsCommand,
}

#[derive(Subcommand, Debug)]
enum TransformationsCommand {
    /// List transformations
    List {
        /// Only transformations with this exact name
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one transformation with its code
    Get { id: String },
    /// Create a transformation
    Create {
        /// Name: letters, digits, '-' and '_'
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: TransformationFields,
    },
    /// Create or update the transformation of this name (PUT /transformations)
    Upsert {
        /// Name: letters, digits, '-' and '_'
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: TransformationFields,
    },
    /// Change a transformation; flags not given stay as they are
    Update {
        id: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: TransformationFields,
    },
    /// Delete a transformation
    Delete { id: String },
    /// Run code, or a stored transformation, on a sample request and show the result
    Run {
        /// The stored transformation to run (instead of --code or --code-file)
        #[arg(long, value_name = "ID", conflicts_with_all = ["code", "code_file"])]
        id: Option<String>,
        #[command(flatten)]
        fields: TransformationFields,
        /// The sample request's body, as JSON
        #[arg(long, value_parser = parse_json, value_name = "JSON")]
        body: Option<Value>,
        /// The sample request's path [default: /]
        #[arg(long)]
        path: Option<String>,
        /// A header of the sample request, NAME:VALUE (repeat for more)
        #[arg(long = "header", value_name = "NAME:VALUE")]
        headers: Vec<String>,
    },
    /// List a transformation's executions
    Executions {
        id: String,
        /// Only executions with this log level (error, warn, info, debug)
        #[arg(long, value_name = "LEVEL")]
        log_level: Option<String>,
        /// Only executions on this connection
        #[arg(long, value_name = "ID")]
        connection_id: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one execution with its console output
    Execution { id: String, execution_id: String },
}

#[derive(Args, Debug)]
pub struct TransformationFields {
    /// JavaScript code, e.g. 'addHandler("transform", (request, context) => request)'
    #[arg(long, conflicts_with = "code_file")]
    code: Option<String>,
    /// File holding the code ('-' for standard input)
    #[arg(long, value_name = "PATH")]
    code_file: Option<PathBuf>,
    /// A variable for the code's process.env, KEY=VALUE (repeat for more)
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
}

impl TransformationFields {
    fn code(&self) -> anyhow::Result<Option<String>> {
        match (&self.code, &self.code_file) {
            (Some(c), _) => Ok(Some(c.clone())),
            (None, Some(p)) if p.as_os_str() == "-" => {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s).context("cannot read the code from standard input")?;
                Ok(Some(s))
            }
            (None, Some(p)) => {
                std::fs::read_to_string(p).map(Some).with_context(|| format!("cannot read {}", p.display()))
            }
            (None, None) => Ok(None),
        }
    }

    fn env(&self) -> Option<Value> {
        if self.env.is_empty() {
            return None;
        }
        let mut m = Map::new();
        for kv in &self.env {
            match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    m.insert(k.to_string(), json!(v));
                }
                _ => usage_error(&format!("invalid --env '{kv}': use KEY=VALUE")),
            }
        }
        Some(Value::Object(m))
    }

    fn body(&self, name: Option<String>) -> anyhow::Result<Value> {
        let mut b = Map::new();
        if let Some(n) = name {
            b.insert("name".into(), json!(n));
        }
        if let Some(c) = self.code()? {
            b.insert("code".into(), json!(c));
        }
        if let Some(e) = self.env() {
            b.insert("env".into(), e);
        }
        Ok(Value::Object(b))
    }
}

fn table(models: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "NAME", "ENV", "UPDATED", "CREATED"]);
    for m in models {
        let env = m.get("env").and_then(Value::as_object).map(|e| e.keys().cloned().collect::<Vec<_>>().join(","));
        t.row(vec![
            text(m, "/id"),
            text(m, "/name"),
            env.filter(|e| !e.is_empty()).unwrap_or_else(|| "-".into()),
            time(m, "/updated_at"),
            time(m, "/created_at"),
        ]);
    }
    t
}

fn detail(t: &Value) -> String {
    let env = t.get("env").and_then(Value::as_object).map(|e| e.keys().cloned().collect::<Vec<_>>().join(","));
    let mut s = details(&[
        ("id", text(t, "/id")),
        ("name", text(t, "/name")),
        ("env", env.filter(|e| !e.is_empty()).unwrap_or_else(|| "-".into())),
        ("created", time(t, "/created_at")),
        ("updated", time(t, "/updated_at")),
    ]);
    s.push_str("code:\n");
    s.push_str(t.get("code").and_then(Value::as_str).unwrap_or_default());
    s.push('\n');
    s
}

fn console(lines: Option<&Value>) -> String {
    lines
        .and_then(Value::as_array)
        .map(|ls| ls.iter().map(|l| format!("[{}] {}\n", text(l, "/type"), text(l, "/message"))).collect())
        .unwrap_or_default()
}

fn executions_table(models: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "CONNECTION", "LEVEL", "ERROR", "CREATED"]);
    for e in models {
        t.row(vec![
            text(e, "/id"),
            text(e, "/webhook_id"),
            text(e, "/log_level"),
            crate::output::short_json(e.get("error"), 60),
            time(e, "/created_at"),
        ]);
    }
    t
}

pub async fn run(args: TransformationsArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let out = args.api.output;
    match args.command {
        TransformationsCommand::List { name, page } => {
            let mut q = page.query();
            push(&mut q, "name", &name);
            let v = client.get("/transformations", &q).await?;
            emit_page(out, &v, "transformations", table);
        }
        TransformationsCommand::Get { id } => {
            let v = client.get(&format!("/transformations/{id}"), &Vec::new()).await?;
            emit(out, &v, || detail(&v));
        }
        TransformationsCommand::Create { name, fields } => {
            let v = client.post("/transformations", Some(&fields.body(Some(name))?)).await?;
            say(out, format!("created transformation {} ({})", text(&v, "/name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        TransformationsCommand::Upsert { name, fields } => {
            let v = client.put("/transformations", Some(&fields.body(Some(name))?)).await?;
            say(out, format!("saved transformation {} ({})", text(&v, "/name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        TransformationsCommand::Update { id, name, fields } => {
            let v = client.put(&format!("/transformations/{id}"), Some(&fields.body(name)?)).await?;
            say(out, format!("updated transformation {} ({})", text(&v, "/name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        TransformationsCommand::Delete { id } => {
            let v = client.delete(&format!("/transformations/{id}")).await?;
            emit(out, &v, || format!("deleted transformation {id}\n"));
        }
        TransformationsCommand::Run { id, fields, body, path, headers } => {
            let mut b = match fields.body(None)? {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            if id.is_none() && !b.contains_key("code") {
                usage_error("give the code to run: --code, --code-file or --id of a stored transformation");
            }
            if let Some(id) = id {
                b.insert("transformation_id".into(), json!(id));
            }
            let mut hs = Map::new();
            for h in &headers {
                match h.split_once(':') {
                    Some((k, v)) if !k.trim().is_empty() => {
                        hs.insert(k.trim().to_ascii_lowercase(), json!(v.trim()));
                    }
                    _ => usage_error(&format!("invalid --header '{h}': use NAME:VALUE")),
                }
            }
            let mut request = Map::new();
            request.insert("headers".into(), Value::Object(hs));
            request.insert("body".into(), body.unwrap_or(Value::Null));
            if let Some(p) = path {
                request.insert("path".into(), json!(p));
            }
            b.insert("request".into(), Value::Object(request));
            let v = client.put("/transformations/run", Some(&Value::Object(b))).await?;
            emit(out, &v, || {
                let mut s = console(v.get("console"));
                if !v["request"].is_null() {
                    s.push_str("transformed request:\n");
                    s.push_str(&serde_json::to_string_pretty(&v["request"]).unwrap_or_default());
                    s.push('\n');
                }
                s
            });
            if v.get("log_level").and_then(Value::as_str) == Some("error") {
                let hint = if out == Output::Json { "see console in the output" } else { "see the console above" };
                anyhow::bail!("the transformation failed; {hint}");
            }
        }
        TransformationsCommand::Executions { id, log_level, connection_id, page } => {
            let mut q = page.query();
            push(&mut q, "log_level", &log_level);
            push(&mut q, "webhook_id", &connection_id);
            let v = client.get(&format!("/transformations/{id}/executions"), &q).await?;
            emit_page(out, &v, "executions", executions_table);
        }
        TransformationsCommand::Execution { id, execution_id } => {
            let v = client.get(&format!("/transformations/{id}/executions/{execution_id}"), &Vec::new()).await?;
            emit(out, &v, || {
                let mut s = details(&[
                    ("id", text(&v, "/id")),
                    ("transformation", text(&v, "/transformation_id")),
                    ("connection", text(&v, "/webhook_id")),
                    ("level", text(&v, "/log_level")),
                    ("error", text(&v, "/error")),
                    ("created", time(&v, "/created_at")),
                ]);
                s.push_str(&console(v.get("logs")));
                s
            });
        }
    }
    Ok(())
}
