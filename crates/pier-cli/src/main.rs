//! The `pier` binary. `serve` runs a node (pier-server); `projects` administers the store
//! directly; `login` and the management commands (`sources`, `destinations`, `connections`,
//! `requests`, `events`, `attempts`, `transformations`) talk to a server over its HTTP API
//! (`client.rs`, profiles in `config.rs`). Human output goes to stderr, `--output json` data to
//! stdout (`output.rs`). Exit codes: 0 done, 1 the command failed (API error, server
//! unreachable, no credentials), 2 usage error.

mod client;
mod commands;
mod config;
mod listen;
mod output;
mod projects;
mod serve;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "pier", version, about = "Pier: a self-hosted event gateway for webhooks and asynchronous APIs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Pier node: ingest, management API and routing, on one listener.
    Serve(Box<serve::ServeArgs>),
    /// Manage projects (tenants) and their API keys, directly on the store.
    Projects(projects::ProjectsArgs),
    /// Check an API key against a server and store both as a profile.
    Login(commands::login::LoginArgs),
    /// Forget a stored profile.
    Logout(commands::login::LogoutArgs),
    /// Manage sources: where requests come in.
    Sources(commands::sources::SourcesArgs),
    /// Manage destinations: where events are delivered.
    Destinations(commands::destinations::DestinationsArgs),
    /// Manage connections: a source routed to a destination.
    Connections(commands::connections::ConnectionsArgs),
    /// Inspect requests received by sources, and route them again.
    Requests(commands::requests::RequestsArgs),
    /// Inspect events, retry or mute them.
    Events(commands::events::EventsArgs),
    /// Inspect delivery attempts.
    Attempts(commands::attempts::AttemptsArgs),
    /// Manage transformations: JavaScript that rewrites requests; test runs and executions.
    Transformations(commands::transformations::TransformationsArgs),
    /// Receive a source's events on this machine, forwarded to a local server.
    Listen(Box<ListenCommand>),
    /// Print a shell completion script (e.g. pier completions bash > /etc/bash_completion.d/pier).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args)]
struct ListenCommand {
    #[command(flatten)]
    listen: listen::ListenArgs,
    #[command(flatten)]
    api: commands::ConnArgs,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PIER_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Blocking work (SQLite reads) runs on a bounded pool: each extra thread costs memory
    // (stack and malloc arena) and a 2-core machine gains nothing from hundreds of them.
    let runtime = match tokio::runtime::Builder::new_multi_thread().max_blocking_threads(32).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                init_logging();
                serve::run(*args).await
            }
            Command::Projects(args) => projects::run(args).await,
            Command::Login(args) => commands::login::login(args).await,
            Command::Logout(args) => commands::login::logout(args),
            Command::Sources(args) => commands::sources::run(args).await,
            Command::Destinations(args) => commands::destinations::run(args).await,
            Command::Connections(args) => commands::connections::run(args).await,
            Command::Requests(args) => commands::requests::run(args).await,
            Command::Events(args) => commands::events::run(args).await,
            Command::Attempts(args) => commands::attempts::run(args).await,
            Command::Transformations(args) => commands::transformations::run(args).await,
            Command::Listen(args) => {
                let (server, key) = args.api.client()?.credentials();
                listen::run(server, key, args.listen).await
            }
            Command::Completions { shell } => {
                clap_complete::generate(shell, &mut Cli::command(), "pier", &mut std::io::stdout());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", chain.join(": "));
            std::process::ExitCode::FAILURE
        }
    }
}

/// jemalloc: with glibc's malloc, allocation was ~20% of a tokio worker's time (fastbin
/// consolidation on hyper's 8 KiB read buffers) and jemalloc cut ingest CPU ~11%; mimalloc was
/// as fast but held 240–300 MiB in the backlog run (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
