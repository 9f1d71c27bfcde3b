//! `pier serve`: flags and `PIER_*` variables over an optional TOML file over defaults.

use anyhow::Context;
use clap::Args;
use pier_server::config::{Config, FileConfig, Overrides, EXAMPLE_TOML};
use std::path::PathBuf;

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on for ingest, API and CLI tunnel [default: 127.0.0.1:8484]
    #[arg(long, env = "PIER_LISTEN")]
    pub listen: Option<String>,
    /// Directory of the embedded SQLite database [default: ./pier-data]
    #[arg(long, env = "PIER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database to use instead of the embedded one: sqlite://PATH
    #[arg(long, env = "PIER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Base URL that source URLs are built on [default: http://LISTEN]
    #[arg(long, env = "PIER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// API key of the default project (created on first start if none is set)
    #[arg(long, env = "PIER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Secret that signs the default project's deliveries
    #[arg(long, env = "PIER_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: Option<String>,
    /// Largest accepted inbound body in bytes [default: 10485760]
    #[arg(long, env = "PIER_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// Seconds an upload may take before it is cut off [default: 30]
    #[arg(long, env = "PIER_BODY_TIMEOUT_SECS")]
    pub body_timeout_secs: Option<u64>,
    /// Seconds shutdown waits for in-flight work [default: 30]
    #[arg(long, env = "PIER_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Management API requests per second per project, 0 for no limit [default: 200]
    #[arg(long, env = "PIER_API_RATE_LIMIT")]
    pub api_rate_limit: Option<u32>,
    /// Seconds a destination has to answer a delivery [default: 60]
    #[arg(long, env = "PIER_DELIVERY_TIMEOUT_SECS")]
    pub delivery_timeout_secs: Option<u64>,
    /// Deliveries in flight across all destinations [default: 1024]
    #[arg(long, env = "PIER_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Bytes of request bodies the deliveries in flight hold at once; a larger body is delivered alone [default: 268435456]
    #[arg(long, env = "PIER_MAX_IN_FLIGHT_BYTES")]
    pub max_in_flight_bytes: Option<usize>,
    /// Deliveries in flight per destination without a concurrent rate limit [default: 256]
    #[arg(long, env = "PIER_DESTINATION_CONCURRENCY")]
    pub destination_concurrency: Option<usize>,
    /// Default retry strategy of connections without a retry rule: linear|exponential [default: exponential]
    #[arg(long, env = "PIER_RETRY_STRATEGY")]
    pub retry_strategy: Option<String>,
    /// Default first retry delay in milliseconds [default: 30000]
    #[arg(long, env = "PIER_RETRY_INTERVAL_MS")]
    pub retry_interval_ms: Option<i64>,
    /// Default number of automatic retries, 0 to 50 [default: 8]
    #[arg(long, env = "PIER_RETRY_COUNT")]
    pub retry_count: Option<i64>,
    /// Let destinations reach private, loopback and link-local addresses [default: true only when listening on loopback]
    #[arg(long, env = "PIER_ALLOW_PRIVATE_DESTINATIONS")]
    pub allow_private_destinations: Option<bool>,
    /// A PEM file of certificate authorities that https destinations may also chain to (an internal CA), besides the public roots
    #[arg(long, env = "PIER_DELIVERY_CA_FILE", value_name = "PEM")]
    pub delivery_ca_file: Option<PathBuf>,
    /// Threads running JavaScript transformations [default: 2]
    #[arg(long, env = "PIER_TRANSFORM_WORKERS")]
    pub transform_workers: Option<usize>,
    /// Events for a CLI destination wait for a `pier listen` session instead of being ignored [default: false]
    #[arg(long, env = "PIER_CLI_HOLD_WHEN_DISCONNECTED")]
    pub cli_hold_when_disconnected: Option<bool>,
    /// Delete requests older than this many days once nothing is pending for them, 0 to keep everything [default: 30]
    #[arg(long, env = "PIER_RETENTION_DAYS")]
    pub retention_days: Option<u32>,
    /// Bearer token that opens GET /metrics (Prometheus) [default: served on loopback only]
    #[arg(long, env = "PIER_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// A TOML configuration file (see --print-config for a commented example)
    #[arg(long, short = 'c', env = "PIER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print a commented example configuration file and exit
    #[arg(long)]
    pub print_config: bool,
}

pub fn resolve(args: &ServeArgs) -> anyhow::Result<Config> {
    let file = match &args.config {
        Some(p) => Config::read_file(p)?,
        None => FileConfig::default(),
    };
    Config::resolve(
        file,
        Overrides {
            listen: args.listen.clone(),
            data_dir: args.data_dir.clone(),
            database_url: args.database_url.clone(),
            public_url: args.public_url.clone(),
            api_key: args.api_key.clone(),
            signing_secret: args.signing_secret.clone(),
            body_limit: args.body_limit,
            body_timeout_secs: args.body_timeout_secs,
            shutdown_grace_secs: args.shutdown_grace_secs,
            api_rate_limit: args.api_rate_limit,
            delivery_timeout_secs: args.delivery_timeout_secs,
            max_in_flight: args.max_in_flight,
            max_in_flight_bytes: args.max_in_flight_bytes,
            destination_concurrency: args.destination_concurrency,
            retry_strategy: args.retry_strategy.clone(),
            retry_interval_ms: args.retry_interval_ms,
            retry_count: args.retry_count,
            allow_private_destinations: args.allow_private_destinations,
            delivery_ca_file: args.delivery_ca_file.clone(),
            transform_workers: args.transform_workers,
            cli_hold_when_disconnected: args.cli_hold_when_disconnected,
            retention_days: args.retention_days,
            metrics_token: args.metrics_token.clone(),
        },
    )
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.print_config {
        print!("{EXAMPLE_TOML}");
        return Ok(());
    }
    let config = resolve(&args)?;
    let store = pier_server::open_store(&config).await?;
    let boot = pier_server::bootstrap::ensure_default_project(store.as_ref(), &config)
        .await
        .context("cannot prepare the default project")?;
    let listener = tokio::net::TcpListener::bind(config.listen).await.with_context(|| {
        format!("cannot listen on {}: is another process using it? try --listen 127.0.0.1:PORT", config.listen)
    })?;
    let addr = listener.local_addr()?;
    let mut config = config;
    if config.public_url.ends_with(":0") {
        config.public_url = format!("http://{addr}");
    }
    if let Some(key) = &boot.new_api_key {
        eprintln!();
        eprintln!(
            "  Created the default project ({}) with this API key. It is shown once; keep it safe:",
            boot.project.id
        );
        eprintln!();
        eprintln!("    {key}");
        eprintln!();
        eprintln!("  Use it as:  curl -H 'Authorization: Bearer {key}' {}/2024-03-01/connections", config.public_url);
        eprintln!("  Lost it? Make a new one with:  pier projects rotate-key {}", boot.project.id);
        eprintln!();
    }
    tracing::info!(listen = %addr, public_url = %config.public_url, "pier is ready");
    pier_server::serve(listener, config, store, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
