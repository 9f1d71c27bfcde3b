//! Test helpers for Pier: start a real `pier serve` process (or an in-process server) on a
//! free loopback port with a temporary data directory, talk to its API, and wait for work by
//! polling with a deadline. Every wait here is bounded.
//!
//! For tests only; nothing in Pier's runtime may depend on it.

mod receiver;
pub use receiver::{Received, TestReceiver};

use anyhow::{bail, Context};
use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The API key every test server is started with.
pub const TEST_API_KEY: &str = "pier_test_key_0123456789";

/// Poll `f` until it returns `Some`, or fail after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The database a test server should use: `None` for the embedded SQLite default, or a fresh
/// PostgreSQL schema when `PIER_TEST_STORE=postgres` (with `PIER_TEST_DATABASE_URL`). CI runs
/// the whole suite once per backend this way: one test body, two backends.
pub async fn test_database() -> anyhow::Result<Option<String>> {
    match std::env::var("PIER_TEST_STORE").as_deref() {
        Ok("postgres") => {
            let base = pier_store_postgres::testing::test_database_url()
                .context("PIER_TEST_STORE=postgres needs PIER_TEST_DATABASE_URL")?;
            let url = pier_store_postgres::testing::fresh_schema_url(&base).await.map_err(anyhow::Error::msg)?;
            Ok(Some(url))
        }
        _ => Ok(None),
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A `pier serve` child process with its own data directory.
pub struct PierProcess {
    bin: PathBuf,
    pub data_dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    extra: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl PierProcess {
    /// Start `bin serve` on a free port with a new temporary data directory (and the test
    /// database of [`test_database`]).
    pub async fn start(bin: impl AsRef<Path>, extra_args: &[&str]) -> anyhow::Result<PierProcess> {
        let db = test_database().await?;
        Self::start_on(bin, extra_args, db).await
    }

    /// Start on a given database (`None`: the embedded SQLite in the data directory).
    pub async fn start_on(
        bin: impl AsRef<Path>,
        extra_args: &[&str],
        database_url: Option<String>,
    ) -> anyhow::Result<PierProcess> {
        let tmp = tempfile::tempdir()?;
        let mut extra: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        if let Some(url) = database_url {
            extra.push("--database-url".into());
            extra.push(url);
        }
        let mut p = PierProcess {
            bin: bin.as_ref().to_path_buf(),
            data_dir: tmp.path().to_path_buf(),
            port: free_port()?,
            child: None,
            extra,
            _tmp: Some(tmp),
        };
        p.spawn().await?;
        Ok(p)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn api(&self, version: &str) -> Api {
        Api::new(&self.url(), version, TEST_API_KEY)
    }

    /// The flags that point another `pier` command at this server's store.
    pub fn store_args(&self) -> Vec<String> {
        let mut args = vec!["--data-dir".to_string(), self.data_dir.to_string_lossy().into_owned()];
        if let Some(i) = self.extra.iter().position(|a| a == "--database-url") {
            args.extend(self.extra.get(i..i + 2).unwrap_or_default().iter().cloned());
        }
        args
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.data_dir.join("pier.log"))?;
        let child = Command::new(&self.bin)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--api-key")
            .arg(TEST_API_KEY)
            .args(&self.extra)
            .env("PIER_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        self.child = Some(child);
        let client = reqwest::Client::new();
        let url = format!("{}/readyz", self.url());
        eventually(Duration::from_secs(20), "pier to become ready", || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                match client.get(&url).timeout(Duration::from_secs(1)).send().await {
                    Ok(r) if r.status().is_success() => Some(()),
                    _ => None,
                }
            }
        })
        .await
        .with_context(|| format!("pier log:\n{}", self.log()))
    }

    /// This node's stable id (see `pier serve`'s `node-id` file).
    pub fn node_id(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("node-id")).unwrap_or_default().trim().to_string()
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("pier.log")).unwrap_or_default()
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// SIGTERM, then wait (bounded) for a graceful exit; returns the exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let mut c = self.child.take().context("not running")?;
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = c.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                bail!("pier did not exit within {timeout:?} of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Start again on the same port and data directory.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        self.spawn().await
    }
}

impl Drop for PierProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A Pier node in this process (faster to start; same HTTP surface).
pub struct TestServer {
    pub server: pier_server::Server,
    _tmp: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> anyhow::Result<TestServer> {
        Self::start_with(|_| {}).await
    }

    /// Start with a configuration adjusted by `f`.
    pub async fn start_with(f: impl FnOnce(&mut pier_server::Config)) -> anyhow::Result<TestServer> {
        let tmp = tempfile::tempdir()?;
        let mut config = pier_server::Config::for_tests(tmp.path().to_path_buf());
        config.api_key = Some(TEST_API_KEY.into());
        config.database_url = test_database().await?;
        f(&mut config);
        let store = pier_server::open_store(&config).await?;
        pier_server::bootstrap::ensure_default_project(store.as_ref(), &config).await?;
        let server = pier_server::Server::start(config, store).await?;
        Ok(TestServer { server, _tmp: tmp })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn api(&self, version: &str) -> Api {
        Api::new(&self.url(), version, TEST_API_KEY)
    }
}

/// A small client of the management API; every call has a timeout.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub version: String,
    pub key: String,
    pub client: reqwest::Client,
}

/// Status and parsed JSON body (Null when the body is not JSON).
pub type Reply = (u16, Value);

impl Api {
    pub fn new(base: &str, version: &str, key: &str) -> Api {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Api { base: base.to_string(), version: version.to_string(), key: key.to_string(), client }
    }

    pub fn with_key(&self, key: &str) -> Api {
        Api { key: key.to_string(), ..self.clone() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}{}", self.base, self.version, path)
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<Reply> {
        let mut rb = self.client.request(method, self.url(path)).bearer_auth(&self.key);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = rb.send().await?;
        let status = r.status().as_u16();
        let bytes = r.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// GET that must answer 200.
    pub async fn ok(&self, path: &str) -> anyhow::Result<Value> {
        let (s, v) = self.get(path).await?;
        if s != 200 {
            bail!("GET {path} answered {s}: {v}");
        }
        Ok(v)
    }
}
