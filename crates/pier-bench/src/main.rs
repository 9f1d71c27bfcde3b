//! `pier-bench`: measures Pier on this machine against a baseline measured in the same run.
//!
//! It starts `pier serve` (the binary next to this one: build with `cargo build --release
//! -p pier-cli -p pier-bench` and run `target/release/pier-bench`), its own load generator and
//! its own receiver, and prints a table plus one JSON line per scenario (appended to
//! `--out`). Timing is reported, never asserted.

mod cpu;
mod load;
mod node;
mod receiver;
mod scenarios;
mod windows;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Scenario {
    /// Every scenario below
    All,
    /// A bare HTTP server answering the same POST with 200: the machine's limit
    Baseline,
    /// Durable-ack ingest, closed loop then open loop at half the maximum
    Ingest,
    /// Ingest to delivery at a local receiver, at a fixed rate
    E2e,
    /// One source, 10 filtered connections, 10 receivers
    Fanout,
    /// Events queued while the destination is paused, then drained
    Backlog,
    /// E2e with a small JavaScript transformation on the connection
    Transform,
    /// Filter evaluations and JavaScript transformations per second, in process
    Engines,
    /// E2e through a CLI session: `pier listen` forwarding to a local app
    Tunnel,
    /// Instructions per durable ingest, counted by valgrind's callgrind (repeatable however busy
    /// the machine is; needs valgrind; not part of `all`)
    Instructions,
    #[value(hide = true)]
    BaselineServer,
}

#[derive(Parser, Debug)]
#[command(name = "pier-bench", about = "Benchmarks of Pier against a baseline measured in the same run")]
pub struct Args {
    #[arg(value_enum, default_value = "all")]
    pub scenario: Scenario,
    /// A short run for CI smoke (proves it works; the figures are not meaningful)
    #[arg(long)]
    pub quick: bool,
    /// Run Pier on this database instead of its embedded SQLite (postgres://…)
    #[arg(long)]
    pub database_url: Option<String>,
    /// Seconds each measurement runs [default: 10, or 2 with --quick]
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Concurrent connections of the closed-loop load
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Offered rate (requests/s) of the open-loop e2e run [default: half the e2e maximum just
    /// measured] and of the transform scenario [default: 1000, or 200 with --quick]; fanout
    /// offers a fifth of it
    #[arg(long)]
    pub rate: Option<f64>,
    /// Pier nodes for the ingest scenario (more than 1 needs --database-url)
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Events in the backlog scenario [default: 1000000, or 5000 with --quick]
    #[arg(long)]
    pub backlog: Option<usize>,
    /// Append one JSON line per scenario to this file
    #[arg(long, default_value = "bench-results.jsonl")]
    pub out: std::path::PathBuf,
    /// Port for the hidden baseline-server mode
    #[arg(long, hide = true, default_value_t = 0)]
    pub port: u16,
}

/// The same allocator as the `pier` binary, so the baseline server and the load generator are
/// measured with what Pier itself runs on.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        if args.scenario == Scenario::BaselineServer {
            return receiver::baseline_server(args.port).await;
        }
        scenarios::run(args).await
    })
}
