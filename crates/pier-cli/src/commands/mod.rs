//! The commands that talk to a server over its management API: login, and one module per API
//! object. Each group takes the connection flags below (`--server`, `--api-key`, `--profile`,
//! `--output`) anywhere after its name.

pub mod attempts;
pub mod connections;
pub mod destinations;
pub mod events;
pub mod login;
pub mod requests;
pub mod sources;
pub mod transformations;

use crate::client::{Client, Query, DEFAULT_SERVER};
use crate::config::{self, ConfigFile, DEFAULT_PROFILE};
use crate::Output;
use clap::Args;
use serde_json::Value;

/// Where to send API calls, with what key, and how to print the answers.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Server options")]
pub struct ApiArgs {
    /// Pier server URL [default: the profile's, else http://127.0.0.1:8484]
    #[arg(long, env = "PIER_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,
    /// API key of the project [default: the profile's]
    #[arg(long, env = "PIER_API_KEY", hide_env_values = true, global = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Login profile to use (see pier login) [default: default]
    #[arg(long, env = "PIER_PROFILE", global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Output: human tables on stderr, or the API's JSON on stdout
    #[arg(long, short = 'o', value_enum, default_value = "human", global = true)]
    pub output: Output,
}

/// Where to connect and with what key, for commands that print their own output (`listen`).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Server options")]
pub struct ConnArgs {
    /// Pier server URL [default: the profile's, else http://127.0.0.1:8484]
    #[arg(long, env = "PIER_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// API key of the project [default: the profile's]
    #[arg(long, env = "PIER_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Login profile to use (see pier login) [default: default]
    #[arg(long, env = "PIER_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
}

impl ConnArgs {
    pub fn client(&self) -> anyhow::Result<Client> {
        ApiArgs {
            server: self.server.clone(),
            api_key: self.api_key.clone(),
            profile: self.profile.clone(),
            output: Output::Human,
        }
        .client()
    }
}

impl ApiArgs {
    /// A client from the flags and variables, over the stored profile, over the defaults.
    pub fn client(&self) -> anyhow::Result<Client> {
        let path = config::path()?;
        let file = ConfigFile::load(&path)?;
        let name = self.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
        let profile = file.profiles.get(name);
        if profile.is_none() && self.profile.is_some() && (self.server.is_none() || self.api_key.is_none()) {
            anyhow::bail!("no profile named '{name}' in {}; run pier login --profile {name}", path.display());
        }
        let server = self.server.as_deref().or(profile.map(|p| p.server.as_str())).unwrap_or(DEFAULT_SERVER);
        let key = self.api_key.as_deref().or(profile.map(|p| p.api_key.as_str())).ok_or_else(|| {
            anyhow::anyhow!("no api key: run pier login --api-key KEY, or give --api-key or PIER_API_KEY")
        })?;
        Client::new(server, key)
    }
}

/// Paging through a list.
#[derive(Args, Debug, Clone, Default)]
pub struct PageArgs {
    /// Most models on one page
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=255), value_name = "N")]
    pub limit: Option<u32>,
    /// Cursor of the next page (printed under a list)
    #[arg(long, conflicts_with = "prev", value_name = "CURSOR")]
    pub next: Option<String>,
    /// Cursor of the previous page
    #[arg(long, value_name = "CURSOR")]
    pub prev: Option<String>,
}

impl PageArgs {
    pub fn query(&self) -> Query {
        let mut q = Query::new();
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(n) = &self.next {
            q.push(("next", n.clone()));
        }
        if let Some(p) = &self.prev {
            q.push(("prev", p.clone()));
        }
        q
    }
}

/// Push `name=value` when the value is given.
pub fn push(q: &mut Query, name: &'static str, value: &Option<String>) {
    if let Some(v) = value {
        q.push((name, v.clone()));
    }
}

/// A JSON argument (`--rules '[…]'`).
pub fn parse_json(s: &str) -> Result<Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not valid JSON: {e}"))
}

/// Exit with a usage error (code 2), as clap does for the errors it finds itself.
pub fn usage_error(message: &str) -> ! {
    clap::Error::raw(clap::error::ErrorKind::MissingRequiredArgument, format!("{message}\n")).exit()
}

/// Set `key` in a JSON object when the value is given.
pub fn set<T: Into<Value> + Clone>(body: &mut serde_json::Map<String, Value>, key: &str, value: &Option<T>) {
    if let Some(v) = value {
        body.insert(key.to_string(), v.clone().into());
    }
}

/// `name (id)` of a nested object.
pub fn name_and_id(v: &Value, pointer: &str) -> String {
    let name = crate::output::text(v, &format!("{pointer}/name"));
    let id = crate::output::text(v, &format!("{pointer}/id"));
    format!("{name} ({id})")
}

/// `active` or `disabled`, for sources and destinations.
pub fn enabled_status(v: &Value) -> String {
    if v.get("disabled_at").is_some_and(|d| !d.is_null()) { "disabled" } else { "active" }.to_string()
}
