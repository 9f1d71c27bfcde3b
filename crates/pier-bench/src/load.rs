//! Load generators: closed loop (N workers, each sending as soon as the last answer came) and
//! open loop (a fixed offered rate, whatever the latency), with latency percentiles.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The outcome of a load run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ok: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// Microseconds, sorted.
    pub latencies: Vec<u64>,
    /// Request ids from the answers, with their send time.
    pub sent: Vec<(String, Instant)>,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn pct(&self, p: f64) -> f64 {
        pct(&self.latencies, p)
    }
}

/// The `p` percentile (0..100) of sorted microseconds, in milliseconds.
pub fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn client(conns: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

async fn one(http: &reqwest::Client, url: &str, body: &'static str) -> Result<Option<String>, ()> {
    match http.post(url).header("content-type", "application/json").body(body).send().await {
        Ok(r) if r.status().is_success() => {
            let bytes = r.bytes().await.map_err(|_| ())?;
            let id = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["request_id"].as_str().map(String::from));
            Ok(id)
        }
        _ => Err(()),
    }
}

/// `conns` workers sending back to back for `secs`.
pub async fn closed(url: &str, body: &'static str, conns: usize, secs: Duration) -> Outcome {
    closed_many(&[url.to_string()], body, conns, secs).await
}

/// Like [`closed`], the workers spread over several URLs (one per node).
pub async fn closed_many(urls: &[String], body: &'static str, conns: usize, secs: Duration) -> Outcome {
    let http = client(conns);
    let stop = Arc::new(AtomicBool::new(false));
    let all = Arc::new(Mutex::new(Outcome::default()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (http, stop, all, url) = (http.clone(), stop.clone(), all.clone(), urls[i % urls.len()].clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Outcome::default();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match one(&http, &url, body).await {
                    Ok(id) => {
                        mine.ok += 1;
                        mine.latencies.push(t.elapsed().as_micros() as u64);
                        if let Some(id) = id {
                            mine.sent.push((id, t));
                        }
                    }
                    Err(()) => mine.errors += 1,
                }
            }
            let mut a = all.lock().unwrap_or_else(|p| p.into_inner());
            a.ok += mine.ok;
            a.errors += mine.errors;
            a.latencies.extend(mine.latencies);
            a.sent.extend(mine.sent);
        }));
    }
    tokio::time::sleep(secs).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let mut out = std::mem::take(&mut *all.lock().unwrap_or_else(|p| p.into_inner()));
    out.elapsed = start.elapsed();
    out.latencies.sort_unstable();
    out
}

/// Requests the open loop keeps in flight at most (its connections): beyond that, a request
/// waits for a free connection, and its latency still counts from when it was due.
const OPEN_MAX_IN_FLIGHT: usize = 256;

/// Offer `rate` requests per second for `secs`, each on its own task, over at most
/// [`OPEN_MAX_IN_FLIGHT`] connections. Latency is measured from the time a request was due,
/// not from when a connection was free (no coordinated omission), so an overloaded server
/// shows growing latency instead of the load generator opening ever more connections.
pub async fn open(url: &str, body: &'static str, rate: f64, secs: Duration) -> Outcome {
    let http = client(OPEN_MAX_IN_FLIGHT);
    let slots = Arc::new(tokio::sync::Semaphore::new(OPEN_MAX_IN_FLIGHT));
    let all = Arc::new(Mutex::new(Outcome::default()));
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    while start.elapsed() < secs {
        let due = tick.tick().await.into_std();
        let (http, all, url, slots) = (http.clone(), all.clone(), url.to_string(), slots.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else { return };
            let t = due;
            let r = one(&http, &url, body).await;
            let mut a = all.lock().unwrap_or_else(|p| p.into_inner());
            match r {
                Ok(id) => {
                    a.ok += 1;
                    a.latencies.push(t.elapsed().as_micros() as u64);
                    if let Some(id) = id {
                        a.sent.push((id, t));
                    }
                }
                Err(()) => a.errors += 1,
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut out = std::mem::take(&mut *all.lock().unwrap_or_else(|p| p.into_inner()));
    out.elapsed = start.elapsed();
    out.latencies.sort_unstable();
    out
}
