//! Server configuration: defaults, an optional commented TOML file, `PIER_*` environment
//! variables and command-line flags (later ones win). The CLI crate defines the flags.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const DEFAULT_RETENTION_DAYS: u32 = 30;
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8484";
pub const DEFAULT_DATA_DIR: &str = "./pier-data";
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;
pub const DEFAULT_API_RATE_LIMIT: u32 = 200;
pub const DEFAULT_DELIVERY_TIMEOUT_SECS: u64 = 60;
/// Deliveries in flight overall and per destination: a destination answering in 100 ms gets up
/// to 2,560 deliveries/s (64 held the benchmark's receiver below the ingest rate), and one slow
/// destination holds at most a quarter of the overall cap. A destination's own `concurrent`
/// rate limit is the way to spare an endpoint.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
pub const DEFAULT_DESTINATION_CONCURRENCY: usize = 256;
/// Request bodies the deliveries in flight hold at once: 1,024 deliveries of 10 MiB bodies
/// would need 10 GiB.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: usize = 256 << 20;
pub const DEFAULT_RETRY_INTERVAL_MS: i64 = 30_000;
pub const DEFAULT_RETRY_COUNT: i64 = 8;
pub const DEFAULT_RETRY_STRATEGY: &str = "exponential";

/// Everything `pier serve` needs, fully resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// Base of source URLs (`{public_url}/e/{key}`); defaults to `http://{listen}`.
    pub public_url: String,
    /// The default project's API key (created on first start if absent).
    pub api_key: Option<String>,
    /// The default project's delivery signing secret.
    pub signing_secret: Option<String>,
    /// Largest accepted inbound body, bytes.
    pub body_limit: usize,
    /// Longest time an upload may take before it is cut off (slow senders).
    pub body_timeout_secs: u64,
    /// Longest time shutdown waits for in-flight work.
    pub shutdown_grace_secs: u64,
    /// Management API requests per second allowed to each project (0: no limit).
    pub api_rate_limit: u32,
    /// Seconds a destination has to answer a delivery.
    pub delivery_timeout_secs: u64,
    /// Deliveries in flight across all destinations.
    pub max_in_flight: usize,
    /// Bytes of request bodies the deliveries in flight hold at once.
    pub max_in_flight_bytes: usize,
    /// Deliveries in flight per destination without a `concurrent` rate limit.
    pub destination_concurrency: usize,
    /// Default retry policy (connections without a retry rule): first delay, ms.
    pub retry_interval_ms: i64,
    /// Default retry policy: automatic retries.
    pub retry_count: i64,
    /// Default retry policy: `linear` or `exponential`.
    pub retry_strategy: String,
    /// Let destinations reach private, loopback and link-local addresses (default: only when
    /// Pier itself listens on loopback, i.e. local development).
    pub allow_private_destinations: bool,
    /// A PEM file of certificate authorities that `https` destinations may also chain to (an
    /// internal CA), besides the public webpki roots.
    pub delivery_ca_file: Option<PathBuf>,
    /// Threads running transformations (each with its own JavaScript runtime).
    pub transform_workers: usize,
    /// Events for a CLI destination with no connected session wait for one (instead of
    /// becoming ignored events `CLI_DISCONNECTED`).
    pub cli_hold_when_disconnected: bool,
    /// Requests (with their events, attempts and ignored events) older than this many days are
    /// deleted once nothing is pending for them (0: keep everything).
    pub retention_days: u32,
    /// Bearer token that opens `GET /metrics` (Prometheus); without it the endpoint answers
    /// only when Pier listens on loopback.
    pub metrics_token: Option<String>,
}

/// The TOML file: every key optional, same names as the flags (with `_`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub api_key: Option<String>,
    pub signing_secret: Option<String>,
    pub body_limit: Option<usize>,
    pub body_timeout_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub api_rate_limit: Option<u32>,
    pub delivery_timeout_secs: Option<u64>,
    pub max_in_flight: Option<usize>,
    pub max_in_flight_bytes: Option<usize>,
    pub destination_concurrency: Option<usize>,
    pub retry_interval_ms: Option<i64>,
    pub retry_count: Option<i64>,
    pub retry_strategy: Option<String>,
    pub allow_private_destinations: Option<bool>,
    pub delivery_ca_file: Option<PathBuf>,
    pub transform_workers: Option<usize>,
    pub cli_hold_when_disconnected: Option<bool>,
    pub retention_days: Option<u32>,
    pub metrics_token: Option<String>,
}

/// Values given by flags or environment (None = not given).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub api_key: Option<String>,
    pub signing_secret: Option<String>,
    pub body_limit: Option<usize>,
    pub body_timeout_secs: Option<u64>,
    pub shutdown_grace_secs: Option<u64>,
    pub api_rate_limit: Option<u32>,
    pub delivery_timeout_secs: Option<u64>,
    pub max_in_flight: Option<usize>,
    pub max_in_flight_bytes: Option<usize>,
    pub destination_concurrency: Option<usize>,
    pub retry_interval_ms: Option<i64>,
    pub retry_count: Option<i64>,
    pub retry_strategy: Option<String>,
    pub allow_private_destinations: Option<bool>,
    pub delivery_ca_file: Option<PathBuf>,
    pub transform_workers: Option<usize>,
    pub cli_hold_when_disconnected: Option<bool>,
    pub retention_days: Option<u32>,
    pub metrics_token: Option<String>,
}

/// A commented example of the TOML file (`pier serve --print-config`).
pub const EXAMPLE_TOML: &str = r#"# pier serve configuration. Every key is optional; flags and PIER_* variables win.

# Address to listen on (ingest, API, dashboard, CLI tunnel).
listen = "127.0.0.1:8484"

# Where the embedded SQLite database lives.
data_dir = "./pier-data"

# Use another database instead: sqlite://PATH
# database_url = "sqlite:///var/lib/pier/pier.db"

# Base URL that source URLs are built on (what senders can reach).
# public_url = "https://hooks.example.com"

# The default project's API key and delivery signing secret (generated on first start if unset).
# api_key = "pier_..."
# signing_secret = "..."

# Largest inbound body in bytes, and how long an upload may take.
body_limit = 10485760
body_timeout_secs = 30

# How long shutdown waits for in-flight work.
shutdown_grace_secs = 30

# Management API requests per second per project (0 turns the limit off).
api_rate_limit = 200

# Delivery: how long a destination has to answer, how many deliveries run at once overall and
# per destination (a destination's own rate_limit/concurrent setting applies on top).
delivery_timeout_secs = 60
max_in_flight = 1024
destination_concurrency = 256
# Bytes of request bodies the deliveries in flight hold at once (a body larger than this is
# delivered alone); more waits in the store.
max_in_flight_bytes = 268435456

# The retry policy of connections without a retry rule.
retry_strategy = "exponential"
retry_interval_ms = 30000
retry_count = 8

# Allow destinations on private, loopback and link-local addresses (SSRF guard). Default: true
# only when listen is a loopback address.
# allow_private_destinations = false

# A PEM file of certificate authorities that https destinations may also chain to (an internal
# CA), besides the public roots.
# delivery_ca_file = "/etc/pier/internal-ca.pem"

# Threads running JavaScript transformations (1 s CPU and 64 MiB per run).
transform_workers = 2

# Events for a `pier listen` destination with no connected CLI: wait for it (true), or become
# ignored events CLI_DISCONNECTED (false).
cli_hold_when_disconnected = false

# Delete requests older than this many days, with their events, attempts and ignored events,
# once nothing is pending for them and no bookmark keeps them (0 keeps everything).
retention_days = 30

# Prometheus metrics at /metrics need `Authorization: Bearer <metrics_token>` (without a token
# they are served only when Pier listens on loopback).
# metrics_token = "..."
"#;

impl Config {
    /// Resolve: overrides, then the file, then defaults.
    pub fn resolve(file: FileConfig, o: Overrides) -> anyhow::Result<Config> {
        use anyhow::Context;
        let listen_s = o.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_s
            .parse()
            .with_context(|| format!("invalid listen address '{listen_s}': use HOST:PORT, e.g. 127.0.0.1:8484"))?;
        let public_url = o
            .public_url
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            anyhow::bail!("invalid public url '{public_url}': it must start with http:// or https://");
        }
        Config {
            listen,
            data_dir: o.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: o.database_url.or(file.database_url).filter(|s| !s.is_empty()),
            public_url,
            api_key: o.api_key.or(file.api_key).filter(|s| !s.is_empty()),
            signing_secret: o.signing_secret.or(file.signing_secret).filter(|s| !s.is_empty()),
            body_limit: o.body_limit.or(file.body_limit).unwrap_or(DEFAULT_BODY_LIMIT),
            body_timeout_secs: o.body_timeout_secs.or(file.body_timeout_secs).unwrap_or(DEFAULT_BODY_TIMEOUT_SECS),
            shutdown_grace_secs: o
                .shutdown_grace_secs
                .or(file.shutdown_grace_secs)
                .unwrap_or(DEFAULT_SHUTDOWN_GRACE_SECS),
            api_rate_limit: o.api_rate_limit.or(file.api_rate_limit).unwrap_or(DEFAULT_API_RATE_LIMIT),
            delivery_timeout_secs: o
                .delivery_timeout_secs
                .or(file.delivery_timeout_secs)
                .unwrap_or(DEFAULT_DELIVERY_TIMEOUT_SECS),
            max_in_flight: o.max_in_flight.or(file.max_in_flight).unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            max_in_flight_bytes: o
                .max_in_flight_bytes
                .or(file.max_in_flight_bytes)
                .unwrap_or(DEFAULT_MAX_IN_FLIGHT_BYTES),
            destination_concurrency: o
                .destination_concurrency
                .or(file.destination_concurrency)
                .unwrap_or(DEFAULT_DESTINATION_CONCURRENCY),
            retry_interval_ms: o.retry_interval_ms.or(file.retry_interval_ms).unwrap_or(DEFAULT_RETRY_INTERVAL_MS),
            retry_count: o.retry_count.or(file.retry_count).unwrap_or(DEFAULT_RETRY_COUNT),
            retry_strategy: o.retry_strategy.or(file.retry_strategy).unwrap_or_else(|| DEFAULT_RETRY_STRATEGY.into()),
            allow_private_destinations: o
                .allow_private_destinations
                .or(file.allow_private_destinations)
                .unwrap_or(listen.ip().is_loopback()),
            delivery_ca_file: o.delivery_ca_file.or(file.delivery_ca_file),
            transform_workers: o.transform_workers.or(file.transform_workers).unwrap_or(2),
            cli_hold_when_disconnected: o
                .cli_hold_when_disconnected
                .or(file.cli_hold_when_disconnected)
                .unwrap_or(false),
            retention_days: o.retention_days.or(file.retention_days).unwrap_or(DEFAULT_RETENTION_DAYS),
            metrics_token: o.metrics_token.or(file.metrics_token).filter(|s| !s.is_empty()),
        }
        .check()
    }

    /// The retry policy of connections without a retry rule.
    pub fn retry_policy(&self) -> pier_core::retry::RetryPolicy {
        let strategy = if self.retry_strategy == "linear" {
            pier_core::rules::RetryStrategy::Linear
        } else {
            pier_core::rules::RetryStrategy::Exponential
        };
        pier_core::retry::RetryPolicy {
            strategy,
            interval: self.retry_interval_ms.max(1),
            count: self.retry_count.clamp(0, 50),
            status_codes: vec![],
        }
    }

    fn check(self) -> anyhow::Result<Config> {
        if !matches!(self.retry_strategy.as_str(), "linear" | "exponential") {
            anyhow::bail!("invalid retry strategy '{}': use linear or exponential", self.retry_strategy);
        }
        if !(0..=50).contains(&self.retry_count) {
            anyhow::bail!("invalid retry count {}: use 0 to 50", self.retry_count);
        }
        if self.max_in_flight == 0 || self.destination_concurrency == 0 || self.max_in_flight_bytes == 0 {
            anyhow::bail!("max_in_flight, max_in_flight_bytes and destination_concurrency must be at least 1");
        }
        // Read now, so a bad file stops `pier serve` before it opens the store or listens.
        self.delivery_roots()?;
        Ok(self)
    }

    /// The certificate authorities of `delivery_ca_file` (none without one).
    pub fn delivery_roots(&self) -> anyhow::Result<Vec<pier_delivery::client::CertificateDer<'static>>> {
        match &self.delivery_ca_file {
            Some(path) => {
                pier_delivery::client::load_ca_file(path).map_err(|e| anyhow::anyhow!("delivery_ca_file: {e}"))
            }
            None => Ok(Vec::new()),
        }
    }

    /// Read a TOML file.
    pub fn read_file(path: &std::path::Path) -> anyhow::Result<FileConfig> {
        use anyhow::Context;
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// A configuration for tests: port 0 on loopback, everything else default.
    pub fn for_tests(data_dir: PathBuf) -> Config {
        Config {
            listen: "127.0.0.1:0".parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir,
            database_url: None,
            public_url: "http://127.0.0.1:0".into(),
            api_key: None,
            signing_secret: None,
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout_secs: DEFAULT_BODY_TIMEOUT_SECS,
            shutdown_grace_secs: 5,
            api_rate_limit: 0,
            delivery_timeout_secs: DEFAULT_DELIVERY_TIMEOUT_SECS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            destination_concurrency: DEFAULT_DESTINATION_CONCURRENCY,
            retry_interval_ms: DEFAULT_RETRY_INTERVAL_MS,
            retry_count: DEFAULT_RETRY_COUNT,
            retry_strategy: DEFAULT_RETRY_STRATEGY.into(),
            allow_private_destinations: true,
            delivery_ca_file: None,
            transform_workers: 2,
            cli_hold_when_disconnected: false,
            retention_days: DEFAULT_RETENTION_DAYS,
            metrics_token: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_days_from_file_and_flags() {
        let file: FileConfig = toml::from_str(EXAMPLE_TOML).unwrap();
        assert_eq!(Config::resolve(file.clone(), Overrides::default()).unwrap().retention_days, 30);
        let file: FileConfig = toml::from_str("retention_days = 7").unwrap();
        assert_eq!(Config::resolve(file.clone(), Overrides::default()).unwrap().retention_days, 7);
        let o = Overrides { retention_days: Some(0), ..Overrides::default() };
        assert_eq!(Config::resolve(file, o).unwrap().retention_days, 0, "a flag wins; 0 keeps everything");
    }

    #[test]
    fn example_file_parses_and_overrides_win() {
        let file: FileConfig = toml::from_str(EXAMPLE_TOML).unwrap();
        let c = Config::resolve(file.clone(), Overrides::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8484");
        assert_eq!(c.public_url, "http://127.0.0.1:8484");
        let c = Config::resolve(
            file,
            Overrides {
                listen: Some("0.0.0.0:9000".into()),
                public_url: Some("https://h.example/".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.public_url, "https://h.example");
    }

    #[test]
    fn bad_values_are_explained() {
        let e = Config::resolve(FileConfig::default(), Overrides { listen: Some("nope".into()), ..Default::default() });
        assert!(e.unwrap_err().to_string().contains("invalid listen address"));
        assert!(toml::from_str::<FileConfig>("colour = 1").is_err());
    }
}
