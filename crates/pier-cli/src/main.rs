//! The `pier` binary. `serve` runs a node (pier-server); `projects` administers the store
//! directly. Human output goes to stderr, `--output json` data to stdout.

mod projects;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};

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
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PIER_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
