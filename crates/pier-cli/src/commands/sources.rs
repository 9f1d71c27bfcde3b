//! `pier sources …`: where requests come in, with their verification.

use super::{enabled_status, push, set, usage_error, ApiArgs, PageArgs};
use crate::output::{details, emit, emit_page, say, text, time, Table};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

#[derive(Args, Debug)]
pub struct SourcesArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: SourcesCommand,
}

#[derive(Subcommand, Debug)]
enum SourcesCommand {
    /// List sources
    List {
        /// Only sources with this exact name
        #[arg(long)]
        name: Option<String>,
        /// Include disabled sources
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one source
    Get { id: String },
    /// Create a source; its URL is printed
    Create {
        /// Name: letters, digits, '-' and '_'
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: SourceFields,
    },
    /// Change a source's name, methods or verification; flags not given stay as they are
    Update {
        id: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: SourceFields,
    },
    /// Delete a source
    Delete { id: String },
    /// Disable a source: its requests are refused and stored as rejected
    Disable { id: String },
    /// Enable a disabled source
    Enable { id: String },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum VerificationType {
    #[value(name = "api_key")]
    ApiKey,
    #[value(name = "basic_auth")]
    BasicAuth,
    #[value(name = "hmac")]
    Hmac,
}

#[derive(Args, Debug)]
pub struct SourceFields {
    /// Description
    #[arg(long)]
    description: Option<String>,
    /// HTTP methods the source accepts, comma-separated (e.g. POST,PUT)
    #[arg(long, value_delimiter = ',', value_name = "METHODS")]
    allowed_methods: Option<Vec<String>>,
    /// Check inbound requests: api_key (--header-key, --verification-key), basic_auth (--username,
    /// --password) or hmac (--webhook-secret, --header-key, --algorithm, --encoding)
    #[arg(long, value_enum, value_name = "TYPE")]
    verification_type: Option<VerificationType>,
    /// Header carrying the key (api_key) or the signature (hmac)
    #[arg(long, value_name = "HEADER")]
    header_key: Option<String>,
    /// The key clients must send in --header-key (api_key); --api-key is Pier's own key
    #[arg(long, value_name = "KEY")]
    verification_key: Option<String>,
    /// User name clients must send (basic_auth)
    #[arg(long)]
    username: Option<String>,
    /// Password clients must send (basic_auth)
    #[arg(long)]
    password: Option<String>,
    /// Secret the signature is computed with (hmac)
    #[arg(long, value_name = "SECRET")]
    webhook_secret: Option<String>,
    /// Signature algorithm (hmac) [default: sha256]
    #[arg(long, value_parser = ["sha256", "sha1", "sha512", "md5"])]
    algorithm: Option<String>,
    /// Signature encoding (hmac) [default: base64]
    #[arg(long, value_parser = ["base64", "base64url", "hex"])]
    encoding: Option<String>,
    /// Remove the source's verification
    #[arg(long, conflicts_with = "verification_type")]
    no_verification: bool,
}

impl SourceFields {
    fn verification(&self) -> Option<Value> {
        let need = |v: &Option<String>, flag: &str, kind: &str| -> String {
            match v {
                Some(v) => v.clone(),
                None => usage_error(&format!("--verification-type {kind} needs {flag}")),
            }
        };
        let configs = match self.verification_type? {
            VerificationType::ApiKey => json!({
                "header_key": need(&self.header_key, "--header-key", "api_key"),
                "api_key": need(&self.verification_key, "--verification-key", "api_key"),
            }),
            VerificationType::BasicAuth => json!({
                "username": need(&self.username, "--username", "basic_auth"),
                "password": need(&self.password, "--password", "basic_auth"),
            }),
            VerificationType::Hmac => {
                let mut c = json!({
                    "webhook_secret_key": need(&self.webhook_secret, "--webhook-secret", "hmac"),
                    "header_key": need(&self.header_key, "--header-key", "hmac"),
                });
                if let Some(a) = &self.algorithm {
                    c["algorithm"] = json!(a);
                }
                if let Some(e) = &self.encoding {
                    c["encoding"] = json!(e);
                }
                c
            }
        };
        let kind = self.verification_type.and_then(|t| t.to_possible_value()).map(|v| v.get_name().to_string());
        Some(json!({"type": kind, "configs": configs}))
    }

    fn body(&self, name: &Option<String>) -> Value {
        let mut b = Map::new();
        set(&mut b, "name", name);
        set(&mut b, "description", &self.description);
        if let Some(m) = &self.allowed_methods {
            let methods: Vec<Value> = m.iter().map(|m| Value::String(m.trim().to_ascii_uppercase())).collect();
            b.insert("allowed_http_methods".into(), Value::Array(methods));
        }
        if let Some(v) = self.verification() {
            b.insert("verification".into(), v);
        } else if self.no_verification {
            b.insert("verification".into(), Value::Null);
        }
        Value::Object(b)
    }
}

pub fn table(models: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "NAME", "URL", "VERIFICATION", "STATUS", "CREATED"]);
    for s in models {
        t.row(vec![
            text(s, "/id"),
            text(s, "/name"),
            text(s, "/url"),
            text(s, "/verification/type"),
            enabled_status(s),
            time(s, "/created_at"),
        ]);
    }
    t
}

pub fn detail(s: &Value) -> String {
    let methods = s
        .get("allowed_http_methods")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    details(&[
        ("id", text(s, "/id")),
        ("name", text(s, "/name")),
        ("url", text(s, "/url")),
        ("status", enabled_status(s)),
        ("verification", text(s, "/verification/type")),
        ("methods", methods),
        ("description", text(s, "/description")),
        ("created", time(s, "/created_at")),
        ("updated", time(s, "/updated_at")),
    ])
}

pub async fn run(args: SourcesArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let out = args.api.output;
    match args.command {
        SourcesCommand::List { name, disabled, page } => {
            let mut q = page.query();
            push(&mut q, "name", &name);
            if disabled {
                q.push(("disabled", "true".into()));
            }
            let v = client.get("/sources", &q).await?;
            emit_page(out, &v, "sources", table);
        }
        SourcesCommand::Get { id } => {
            let v = client.get(&format!("/sources/{id}"), &Vec::new()).await?;
            emit(out, &v, || detail(&v));
        }
        SourcesCommand::Create { name, fields } => {
            let v = client.post("/sources", Some(&fields.body(&Some(name)))).await?;
            say(out, format!("created source {} ({})", text(&v, "/name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        SourcesCommand::Update { id, name, fields } => {
            let v = client.put(&format!("/sources/{id}"), Some(&fields.body(&name))).await?;
            say(out, format!("updated source {} ({})", text(&v, "/name"), text(&v, "/id")));
            emit(out, &v, || detail(&v));
        }
        SourcesCommand::Delete { id } => {
            let v = client.delete(&format!("/sources/{id}")).await?;
            emit(out, &v, || format!("deleted source {id}\n"));
        }
        SourcesCommand::Disable { id } => {
            let v = client.put(&format!("/sources/{id}/disable"), None).await?;
            emit(out, &v, || format!("disabled source {} ({id})\n", text(&v, "/name")));
        }
        SourcesCommand::Enable { id } => {
            let v = client.put(&format!("/sources/{id}/enable"), None).await?;
            emit(out, &v, || format!("enabled source {} ({id})\n", text(&v, "/name")));
        }
    }
    Ok(())
}
