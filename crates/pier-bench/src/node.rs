//! Starting processes: `pier serve` (next to this binary) and the baseline server, with their
//! peak memory read from /proc.

use anyhow::Context;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KEY: &str = "pier_bench_key_0123456789";

pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub dir: Option<tempfile::TempDir>,
}

impl Proc {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// Peak and current resident memory, MiB.
    pub fn memory_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
                .unwrap_or(0.0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }
    /// CPU time (user + system) the process used so far, seconds (`/proc`, USER_HZ = 100).
    pub fn cpu_seconds(&self) -> f64 {
        crate::cpu::process_cpu_secs(&self.child.id().to_string())
    }
    /// Size of the data directory, MiB.
    pub fn disk_mib(&self) -> f64 {
        fn size(p: &std::path::Path) -> u64 {
            std::fs::read_dir(p)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => size(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        self.dir.as_ref().map_or(0.0, |d| size(d.path()) as f64 / 1048576.0)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn sibling(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name(name);
    anyhow::ensure!(path.exists(), "{} not found: build it first (cargo build --release -p pier-cli)", path.display());
    Ok(path)
}

async fn wait_ready(url: &str) -> anyhow::Result<()> {
    wait_ready_within(url, Duration::from_secs(30)).await
}

async fn wait_ready_within(url: &str, limit: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(r) = http.get(url).timeout(Duration::from_secs(1)).send().await {
            if r.status().as_u16() < 500 {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("{url} did not answer within {} s", limit.as_secs())
}

/// The `serve` arguments, environment and output of a bench node on `port` with its data in `dir`.
fn serve_args(cmd: &mut Command, port: u16, dir: &std::path::Path, database_url: Option<&str>, extra: &[&str]) {
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--api-key", KEY, "--api-rate-limit", "0"])
        .arg("--data-dir")
        .arg(dir)
        .args(extra)
        .env("PIER_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // PIER_BENCH_LOGS=1 shows the server's log (and its diagnostics) on this stderr.
        .stderr(if std::env::var_os("PIER_BENCH_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() });
    if let Some(u) = database_url {
        cmd.args(["--database-url", u]);
    }
}

pub async fn pier(database_url: Option<&str>, extra: &[&str]) -> anyhow::Result<Proc> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let mut cmd = Command::new(sibling("pier")?);
    serve_args(&mut cmd, port, dir.path(), database_url, extra);
    let child = cmd.spawn().context("cannot start pier")?;
    let p = Proc { child, port, dir: Some(dir) };
    wait_ready(&format!("{}/readyz", p.url())).await?;
    Ok(p)
}

/// `pier serve` under valgrind's callgrind, which counts the instructions it runs (the same
/// count for the same work, however busy the machine is); returns the file callgrind writes
/// when pier exits (see [`terminate`]).
pub async fn pier_under_callgrind(database_url: Option<&str>) -> anyhow::Result<(Proc, std::path::PathBuf)> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let out = dir.path().join("callgrind.out");
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind").arg(format!("--callgrind-out-file={}", out.display())).arg(sibling("pier")?);
    serve_args(&mut cmd, port, dir.path(), database_url, &[]);
    let child = cmd.spawn().context("cannot start valgrind: install it (Debian package valgrind)")?;
    let p = Proc { child, port, dir: Some(dir) };
    // Under valgrind everything runs some fifty times slower, start-up included.
    wait_ready_within(&format!("{}/readyz", p.url()), Duration::from_secs(300)).await?;
    Ok((p, out))
}

/// Stop `p` as an operator would (SIGTERM: a graceful shutdown) and wait until it exited.
pub async fn terminate(p: &mut Proc, limit: Duration) -> anyhow::Result<()> {
    let sent = Command::new("kill").args(["-TERM", &p.child.id().to_string()]).status().context("cannot run kill")?;
    anyhow::ensure!(sent.success(), "kill -TERM {} failed", p.child.id());
    let deadline = Instant::now() + limit;
    while p.child.try_wait()?.is_none() {
        anyhow::ensure!(Instant::now() < deadline, "pier did not stop within {} s", limit.as_secs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

pub async fn baseline() -> anyhow::Result<Proc> {
    let port = free_port()?;
    let child = Command::new(std::env::current_exe()?)
        .args(["baseline-server", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let p = Proc { child, port, dir: None };
    wait_ready(&p.url()).await?;
    Ok(p)
}

/// `pier listen PORT SOURCE` against `server`; returns once it is ready.
pub async fn listen(server: &str, port: &str, source: &str) -> anyhow::Result<Child> {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(sibling("pier")?)
        .args(["listen", port, source, "--output", "compact"])
        .env("PIER_SERVER", server)
        .env("PIER_API_KEY", KEY)
        .env("PIER_CONFIG_DIR", std::env::temp_dir().join(format!("pier-bench-{}", std::process::id())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start pier listen")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Ready!") {
                let _ = tx.send(());
            }
        }
    });
    tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await?
        .context("pier listen did not become ready")?;
    Ok(child)
}

/// The URL of a source by name.
pub async fn source_url(server: &str, name: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{server}/2024-03-01/sources?name={name}"))
        .bearer_auth(KEY)
        .send()
        .await?
        .json()
        .await?;
    v["models"][0]["url"].as_str().map(String::from).context("the source does not exist")
}
