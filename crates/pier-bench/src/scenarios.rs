//! The scenarios, the table and the JSON results.

use crate::load::{self, pct};
use crate::node::{self, KEY};
use crate::{receiver, windows, Args, Scenario};
use anyhow::Context;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

/// A ~300-byte JSON body, like a typical webhook.
const BODY: &str = r#"{"event_type":"mouse.click","click_x":"339","click_y":"318","timestamp":"2024-01-15T22:39:29.964Z","user":{"id":"u_12345","plan":"pro","tags":["a","b","c"]},"page":"/pricing","session":"s_0123456789abcdef","type":"click","ua":"Mozilla/5.0 (X11; Linux x86_64)","ref":"https://example.com/"}"#;

struct Row {
    name: String,
    rate: f64,
    unit: &'static str,
    p50: f64,
    p99: f64,
    p999: f64,
    rss: f64,
    /// CPU time of the server (all its nodes) per request or event, µs; 0 when not measured.
    cpu_us: f64,
    extra: Value,
}

/// `base` with the fields of `more` added (both JSON objects).
fn merged(mut base: Value, more: Value) -> Value {
    if let (Some(d), Value::Object(more)) = (base.as_object_mut(), more) {
        d.extend(more);
    }
    base
}

/// Server CPU µs per operation between two `cpu_seconds` readings.
fn cpu_per(before: f64, after: f64, ops: usize) -> f64 {
    if ops == 0 {
        return 0.0;
    }
    (after - before) * 1e6 / ops as f64
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    json!({"cores": cores, "cpu": cpu, "commit": commit})
}

async fn api(base: &str, method: reqwest::Method, path: &str, body: Value) -> anyhow::Result<Value> {
    let r = reqwest::Client::new()
        .request(method, format!("{base}/2024-03-01{path}"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "{path} answered {status}: {v}");
    Ok(v)
}

/// A connection; returns (source url, connection id).
async fn connection(base: &str, name: &str, url: &str, rules: Value) -> anyhow::Result<(String, String)> {
    let c = api(
        base,
        reqwest::Method::POST,
        "/connections",
        json!({"name": name, "source": {"name": "bench-in"}, "destination": {"name": format!("{name}-out"), "url": url}, "rules": rules}),
    )
    .await?;
    Ok((c["source"]["url"].as_str().unwrap_or_default().to_string(), c["id"].as_str().unwrap_or_default().to_string()))
}

/// Instructions `pier serve` ran (all threads, start to exit) when `n` requests were ingested
/// one after another: into a paused connection, as in the ingest scenario, or (`deliver`)
/// into a connection to a local receiver, each delivered before the next is sent.
async fn instructions(db: Option<&str>, n: usize, deliver: bool) -> anyhow::Result<u64> {
    let (mut p, out) = node::pier_under_callgrind(db).await?;
    let base = p.url();
    let (url, arrivals) = if deliver {
        let (url, arrivals) = receiver::start().await?;
        (url, Some(arrivals))
    } else {
        ("http://127.0.0.1:9/".to_string(), None)
    };
    // Its own name: on PostgreSQL every run shares the schema of this pier-bench run.
    let name = format!("bench-instructions-{n}-{}", if deliver { "delivered" } else { "paused" });
    let (src, cid) = connection(&base, &name, &url, json!([])).await?;
    if !deliver {
        api(&base, reqwest::Method::PUT, &format!("/connections/{cid}/pause"), json!({})).await?;
    }
    let http = reqwest::Client::new();
    for i in 0..n {
        let r = http
            .post(&src)
            .header("content-type", "application/json")
            .body(BODY)
            .timeout(Duration::from_secs(60))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "ingest answered {}", r.status());
        r.bytes().await?;
        if let Some(a) = &arrivals {
            // Under valgrind a delivery takes milliseconds: wait for it, so each is alone.
            wait_arrivals(a, i + 1, Duration::from_secs(60)).await;
            let got = a.count.load(std::sync::atomic::Ordering::Relaxed);
            anyhow::ensure!(got > i, "event {} was not delivered within 60 s", i + 1);
        }
    }
    node::terminate(&mut p, Duration::from_secs(300)).await?;
    let text = std::fs::read_to_string(&out).with_context(|| format!("callgrind wrote no {}", out.display()))?;
    callgrind_total(&text).with_context(|| format!("no instruction total in {}", out.display()))
}

/// The total of a callgrind output file (its `summary:` line, or `totals:`).
fn callgrind_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Wait until `n` arrivals (bounded); returns when the last arrived.
async fn wait_arrivals(a: &receiver::Arrivals, n: usize, limit: Duration) -> Instant {
    let deadline = Instant::now() + limit;
    while a.count.load(std::sync::atomic::Ordering::Relaxed) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Instant::now()
}

/// What a load sent through Pier to one receiver came to.
struct Deliveries {
    load: load::Outcome,
    /// Events that arrived during this run.
    delivered: usize,
    /// `delivered` over the time from the first request to the last arrival.
    rate: f64,
    /// Ingest-to-receiver latencies (µs, sorted).
    latencies: Vec<u64>,
    /// The same latencies' p99 by window of send time (windows.rs).
    windows: Option<windows::Windows>,
    /// Server CPU µs per delivered event.
    cpu_us: f64,
    /// `pier-bench`'s own CPU per delivered event and the machine's idle share (cpu.rs).
    used: Value,
}

impl Deliveries {
    /// The table row, with `extra` added to the common details.
    fn row(&self, name: String, p: &node::Proc, extra: Value) -> Row {
        let mut detail = json!({"acked": self.load.ok, "delivered": self.delivered, "latency": "ingest to receiver"});
        if let Some(w) = &self.windows {
            detail = merged(detail, json!({ "windows": w.json() }));
        }
        let detail = merged(merged(detail, self.used.clone()), extra);
        Row {
            name,
            rate: self.rate,
            unit: "events/s",
            p50: pct(&self.latencies, 50.0),
            p99: pct(&self.latencies, 99.0),
            p999: pct(&self.latencies, 99.9),
            rss: p.memory_mib().0,
            cpu_us: self.cpu_us,
            extra: detail,
        }
    }
}

/// Run `load` against `p` (delivering to `arrivals`), then wait until every acknowledged
/// request arrived.
async fn deliveries(
    p: &node::Proc,
    arrivals: &receiver::Arrivals,
    load: impl std::future::Future<Output = load::Outcome>,
    limit: Duration,
) -> Deliveries {
    let count = || arrivals.count.load(std::sync::atomic::Ordering::Relaxed);
    let (before, c0, used) = (count(), p.cpu_seconds(), crate::cpu::Sample::now());
    let o = load.await;
    let start = Instant::now() - o.elapsed;
    let last = wait_arrivals(arrivals, before + o.ok, limit).await;
    let delivered = count() - before;
    let samples = e2e_samples(&o.sent, arrivals);
    Deliveries {
        used: used.since(delivered),
        delivered,
        rate: delivered as f64 / last.duration_since(start).as_secs_f64(),
        windows: windows::by_send_time(&samples, windows::WIDTH),
        latencies: sorted_latencies(&samples),
        cpu_us: cpu_per(c0, p.cpu_seconds(), delivered),
        load: o,
    }
}

/// Ingest-to-receiver latencies (µs, sorted) of the requests sent.
fn e2e_latencies(sent: &[(String, Instant)], a: &receiver::Arrivals) -> Vec<u64> {
    sorted_latencies(&e2e_samples(sent, a))
}

/// The latencies of `samples` (send time, latency µs), sorted.
fn sorted_latencies(samples: &[(Instant, u64)]) -> Vec<u64> {
    let mut l: Vec<u64> = samples.iter().map(|(_, l)| *l).collect();
    l.sort_unstable();
    l
}

/// Each request sent that arrived: when it was sent and its ingest-to-receiver latency (µs).
fn e2e_samples(sent: &[(String, Instant)], a: &receiver::Arrivals) -> Vec<(Instant, u64)> {
    let arrived = a.by_request.lock().unwrap_or_else(|p| p.into_inner());
    sent.iter().filter_map(|(id, t)| arrived.get(id).map(|at| (*t, at.duration_since(*t).as_micros() as u64))).collect()
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    // Each run gets a schema of its own on PostgreSQL, so runs never see each other's data; it
    // is dropped when the run ends, however it ends (a full run leaves hundreds of MB in it),
    // Ctrl-C included: the scenarios' servers are stopped first (dropping a node kills it).
    let Some(base) = args.database_url.clone() else { return run_in(args, None).await };
    let fresh = pier_store_postgres::testing::fresh_schema_url(&base).await.map_err(anyhow::Error::msg)?;
    let result = tokio::select! {
        r = run_in(args, Some(&fresh)) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted; this run's schema is dropped")),
    };
    if let Err(e) = pier_store_postgres::testing::drop_fresh_schema(&base, &fresh).await {
        eprintln!("warning: could not drop this run's schema: {e}");
    }
    result
}

/// The scenarios, on `db` (a URL from `fresh_schema_url`) or on SQLite.
async fn run_in(args: Args, db: Option<&str>) -> anyhow::Result<()> {
    let secs = Duration::from_secs(args.seconds.unwrap_or(if args.quick { 2 } else { 10 }));
    let which = |s: Scenario| args.scenario == Scenario::All || args.scenario == s;
    let machine = machine();
    eprintln!(
        "pier-bench on {} cores ({}), commit {}, store {}",
        machine["cores"],
        machine["cpu"],
        machine["commit"],
        db.map_or("sqlite", |_| "postgres")
    );
    let mut rows: Vec<Row> = Vec::new();
    let mut baseline_rate = None;

    if which(Scenario::Baseline) || which(Scenario::Ingest) || which(Scenario::E2e) {
        let b = node::baseline().await?;
        let (c0, used) = (b.cpu_seconds(), crate::cpu::Sample::now());
        let o = load::closed(&format!("{}/hook", b.url()), BODY, args.connections, secs).await;
        let cpu_us = cpu_per(c0, b.cpu_seconds(), o.ok);
        let used = used.since(o.ok);
        baseline_rate = Some(o.rate());
        rows.push(Row {
            name: "baseline".into(),
            rate: o.rate(),
            unit: "req/s",
            p50: o.pct(50.0),
            p99: o.pct(99.0),
            p999: o.pct(99.9),
            rss: b.memory_mib().0,
            cpu_us,
            extra: merged(json!({"errors": o.errors}), used),
        });
    }

    if which(Scenario::Ingest) {
        anyhow::ensure!(
            args.nodes == 1 || db.is_some(),
            "--nodes needs --database-url (several nodes share one database)"
        );
        let p = node::pier(db, &[]).await?;
        let mut others = Vec::new();
        for _ in 1..args.nodes {
            others.push(node::pier(db, &[]).await?);
        }
        let (src, cid) = connection(&p.url(), "ingest", &format!("{}/mock", p.url()), json!([])).await?;
        api(&p.url(), reqwest::Method::PUT, &format!("/connections/{cid}/pause"), json!({})).await?;
        let path = src.trim_start_matches(&p.url()).to_string();
        let urls: Vec<String> =
            std::iter::once(&p).chain(others.iter()).map(|n| format!("{}{path}", n.url())).collect();
        let cpu = || std::iter::once(&p).chain(others.iter()).map(|n| n.cpu_seconds()).sum::<f64>();
        let (c0, used) = (cpu(), crate::cpu::Sample::now());
        let o = load::closed_many(&urls, BODY, args.connections, secs).await;
        let cpu_us = cpu_per(c0, cpu(), o.ok);
        let used = used.since(o.ok);
        let max = o.rate();
        rows.push(Row {
            name: format!("ingest (closed loop, {} node(s))", args.nodes),
            rate: max,
            unit: "req/s",
            p50: o.pct(50.0),
            p99: o.pct(99.0),
            p999: o.pct(99.9),
            rss: p.memory_mib().0,
            cpu_us,
            extra: merged(json!({"errors": o.errors, "connections": args.connections}), used),
        });
        let (c0, used) = (p.cpu_seconds(), crate::cpu::Sample::now());
        let half = load::open(&src, BODY, (max / 2.0).max(10.0), secs).await;
        let cpu_us = cpu_per(c0, p.cpu_seconds(), half.ok);
        let used = used.since(half.ok);
        rows.push(Row {
            name: "ingest (open loop, 50%)".into(),
            rate: half.rate(),
            unit: "req/s",
            p50: half.pct(50.0),
            p99: half.pct(99.0),
            p999: half.pct(99.9),
            rss: p.memory_mib().0,
            cpu_us,
            extra: merged(json!({"offered": max / 2.0, "errors": half.errors}), used),
        });
    }

    let e2e_rate = args.rate.unwrap_or(if args.quick { 200.0 } else { 1000.0 });
    if which(Scenario::E2e) {
        let p = node::pier(db, &[]).await?;
        let (rx, arrivals) = receiver::start().await?;
        let (src, _) = connection(&p.url(), "e2e", &rx, json!([])).await?;
        // The maximum: a closed loop ingesting as fast as it is answered; the rate is every
        // event delivered over the time from the first request to the last arrival.
        let d =
            deliveries(&p, &arrivals, load::closed(&src, BODY, args.connections, secs), Duration::from_secs(120)).await;
        let max = d.rate;
        rows.push(d.row(
            format!("e2e max (closed loop, {} conns)", args.connections),
            &p,
            json!({"ingest_rate": d.load.rate()}),
        ));
        // Then a fixed offered rate: --rate, or half the maximum just measured.
        let rate = args.rate.unwrap_or((max / 2.0).max(10.0).round());
        let d = deliveries(&p, &arrivals, load::open(&src, BODY, rate, secs), Duration::from_secs(120)).await;
        rows.push(d.row(format!("e2e (offered {rate}/s)"), &p, json!({"of_max": rate / max})));
    }
    if which(Scenario::Transform) {
        let p = node::pier(db, &[]).await?;
        let (rx, arrivals) = receiver::start().await?;
        let rules = json!([{"type": "transform", "transformation": {"name": "bench-t", "code": "addHandler('transform', (r, c) => { r.body.seen = true; r.headers['x-bench'] = '1'; return r; })"}}]);
        let (src, _) = connection(&p.url(), "transform", &rx, rules).await?;
        let d = deliveries(&p, &arrivals, load::open(&src, BODY, e2e_rate, secs), Duration::from_secs(60)).await;
        rows.push(d.row(format!("transform (offered {e2e_rate}/s)"), &p, json!({})));
    }

    if which(Scenario::Fanout) {
        let p = node::pier(db, &[]).await?;
        let mut all = Vec::new();
        let mut src = String::new();
        for i in 0..10 {
            let (rx, a) = receiver::start().await?;
            let rules = json!([{"type": "filter", "body": {"type": {"$in": ["click", "view"]}, "user": {"plan": {"$startsWith": "p"}}}}]);
            src = connection(&p.url(), &format!("fan{i}"), &rx, rules).await?.0;
            all.push(a);
        }
        let rate = e2e_rate / 5.0;
        let o = load::open(&src, BODY, rate, secs).await;
        let start = Instant::now() - o.elapsed;
        let mut last = Instant::now();
        for a in &all {
            last = wait_arrivals(a, o.ok, Duration::from_secs(60)).await;
        }
        let delivered: usize = all.iter().map(|a| a.count.load(std::sync::atomic::Ordering::Relaxed)).sum();
        let samples: Vec<(Instant, u64)> = all.iter().flat_map(|a| e2e_samples(&o.sent, a)).collect();
        let l = sorted_latencies(&samples);
        rows.push(Row {
            name: format!("fanout x10 (offered {rate}/s)"),
            rate: delivered as f64 / last.duration_since(start).as_secs_f64(),
            unit: "events/s",
            p50: pct(&l, 50.0),
            p99: pct(&l, 99.0),
            p999: pct(&l, 99.9),
            rss: p.memory_mib().0,
            cpu_us: 0.0,
            extra: json!({"acked": o.ok, "delivered": delivered}),
        });
    }

    if which(Scenario::Backlog) {
        let n = args.backlog.unwrap_or(if args.quick { 5_000 } else { 1_000_000 });
        let p = node::pier(db, &[]).await?;
        let (rx, arrivals) = receiver::start().await?;
        let (src, cid) = connection(&p.url(), "backlog", &rx, json!([])).await?;
        api(&p.url(), reqwest::Method::PUT, &format!("/connections/{cid}/pause"), json!({})).await?;
        let t = Instant::now();
        let mut acked = 0;
        while acked < n {
            let o = load::closed(&src, BODY, args.connections, Duration::from_millis(500)).await;
            acked += o.ok;
        }
        let queue_time = t.elapsed();
        let (queued_rss, _) = p.memory_mib();
        let disk = p.disk_mib();
        let t = Instant::now();
        let c0 = p.cpu_seconds();
        api(&p.url(), reqwest::Method::PUT, &format!("/connections/{cid}/unpause"), json!({})).await?;
        wait_arrivals(&arrivals, acked, Duration::from_secs(3600)).await;
        let drain = t.elapsed();
        let delivered = arrivals.count.load(std::sync::atomic::Ordering::Relaxed);
        let cpu_us = cpu_per(c0, p.cpu_seconds(), delivered);
        rows.push(Row {
            name: format!("backlog {acked} queued, then drained"),
            rate: delivered as f64 / drain.as_secs_f64(),
            unit: "events/s",
            p50: 0.0,
            p99: 0.0,
            p999: 0.0,
            rss: p.memory_mib().0,
            cpu_us,
            extra: json!({"queued": acked, "queue_seconds": queue_time.as_secs_f64(), "rss_while_queued_mib": queued_rss, "disk_mib": disk, "drain_seconds": drain.as_secs_f64(), "delivered": delivered}),
        });
    }

    if which(Scenario::Tunnel) {
        let p = node::pier(db, &[]).await?;
        let (app, arrivals) = receiver::start().await?;
        let port = app.rsplit(':').next().unwrap_or_default().to_string();
        let mut listen = node::listen(&p.url(), &port, "bench-cli").await?;
        let src = node::source_url(&p.url(), "bench-cli").await?;
        let n = if args.quick { 20 } else { 100 };
        let rate = 50.0;
        let o = load::open(&src, BODY, rate, Duration::from_secs_f64(n as f64 / rate)).await;
        wait_arrivals(&arrivals, o.ok, Duration::from_secs(60)).await;
        let l = e2e_latencies(&o.sent, &arrivals);
        let _ = listen.kill();
        let _ = listen.wait();
        rows.push(Row {
            name: format!("tunnel ({} events via pier listen)", o.ok),
            rate: arrivals.count.load(std::sync::atomic::Ordering::Relaxed) as f64 / o.elapsed.as_secs_f64(),
            unit: "events/s",
            p50: pct(&l, 50.0),
            p99: pct(&l, 99.0),
            p999: pct(&l, 99.9),
            rss: p.memory_mib().0,
            cpu_us: 0.0,
            extra: json!({"offered": rate, "latency": "ingest to local app"}),
        });
    }

    if which(Scenario::Engines) {
        let filter = pier_core::filter::compile(&json!({
            "event_type": {"$in": ["mouse.click", "mouse.move"]}, "click_x": {"$startsWith": "3"},
            "user": {"plan": "pro", "tags": "b", "id": {"$exist": true}}, "page": {"$neq": "/"},
            "type": {"$nin": ["view"]}, "session": {"$endsWith": "def"}, "ref": {"$startsWith": "https"},
            "timestamp": {"$gte": "2024-01-01"}
        }))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let input: Value = serde_json::from_str(BODY)?;
        let t = Instant::now();
        let mut n = 0u64;
        let mut matched = 0u64;
        while t.elapsed() < secs.min(Duration::from_secs(3)) {
            for _ in 0..1000 {
                matched += filter.matches(&input) as u64;
            }
            n += 1000;
        }
        rows.push(Row {
            name: "filter, 10 clauses, 1 core".into(),
            rate: n as f64 / t.elapsed().as_secs_f64(),
            unit: "evals/s",
            p50: 0.0,
            p99: 0.0,
            p999: 0.0,
            rss: 0.0,
            cpu_us: 0.0,
            extra: json!({"matched": matched == n}),
        });
        let sandbox = pier_transform::Sandbox::new(1, pier_transform::Limits::default());
        let code =
            "addHandler('transform', (r, c) => { r.body.seen = true; r.headers['x-env'] = process.env.K; return r; })";
        let env = json!({"K": "v"}).as_object().cloned().unwrap_or_default();
        let sample = pier_transform::TransformInput {
            headers: Default::default(),
            body: input.clone(),
            query: String::new(),
            parsed_query: json!({}),
            path: "/".into(),
        };
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < secs.min(Duration::from_secs(3)) {
            sandbox.run(code, &env, sample.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
            n += 1;
        }
        rows.push(Row {
            name: "transform (JS), 1 worker".into(),
            rate: n as f64 / t.elapsed().as_secs_f64(),
            unit: "runs/s",
            p50: 0.0,
            p99: 0.0,
            p999: 0.0,
            rss: 0.0,
            cpu_us: 0.0,
            extra: json!({}),
        });
    }

    // Only when asked for by name: Pier runs under valgrind, some fifty times slower.
    if args.scenario == Scenario::Instructions {
        let n = if args.quick { 100 } else { 2000 };
        // Start-up and shutdown counted alone, then with `n` requests: the difference is theirs.
        let idle = instructions(db, 0, false).await?;
        let kinds = [
            (
                false,
                "instructions per durable ingest",
                "Ir/req",
                "one connection, requests one after another (one commit each), connection paused",
            ),
            // Ingest, the HTTP request to a receiver, the attempt's write.
            (
                true,
                "instructions per delivered event",
                "Ir/event",
                "one connection, requests one after another, each delivered to a local receiver before the next",
            ),
        ];
        for (deliver, name, unit, load) in kinds {
            let loaded = instructions(db, n, deliver).await?;
            rows.push(Row {
                name: name.into(),
                rate: loaded.saturating_sub(idle) as f64 / n as f64,
                unit,
                p50: 0.0,
                p99: 0.0,
                p999: 0.0,
                rss: 0.0,
                cpu_us: 0.0,
                extra: json!({
                    "requests": n, "instructions_idle": idle, "instructions_with_requests": loaded,
                    "tool": "valgrind --tool=callgrind", "load": load,
                }),
            });
        }
    }

    print_table(&rows, baseline_rate);
    let mut out = std::fs::OpenOptions::new().create(true).append(true).open(&args.out)?;
    for r in &rows {
        let line = json!({
            "scenario": r.name, "rate": r.rate, "unit": r.unit, "ratio_to_baseline": baseline_rate.map(|b| r.rate / b),
            "p50_ms": r.p50, "p99_ms": r.p99, "p999_ms": r.p999, "peak_rss_mib": r.rss,
            "server_cpu_us_per_op": (r.cpu_us > 0.0).then_some(r.cpu_us), "detail": r.extra,
            "machine": machine, "store": db.map_or("sqlite", |_| "postgres"), "quick": args.quick,
            "seconds": secs.as_secs(),
        });
        writeln!(out, "{line}")?;
        println!("{line}");
    }
    eprintln!("results appended to {}", args.out.display());
    Ok(())
}

fn print_table(rows: &[Row], baseline: Option<f64>) {
    eprintln!();
    eprintln!(
        "{:<38} {:>12} {:<9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "scenario", "rate", "unit", "×base", "p50 ms", "p99 ms", "p99.9 ms", "RSS MiB", "CPU µs/op"
    );
    for r in rows {
        let ratio = match (baseline, r.unit) {
            (Some(b), "req/s" | "events/s") if b > 0.0 => format!("{:.2}", r.rate / b),
            _ => "-".into(),
        };
        let cpu = if r.cpu_us > 0.0 { format!("{:.0}", r.cpu_us) } else { "-".into() };
        eprintln!(
            "{:<38} {:>12.0} {:<9} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>10}",
            r.name, r.rate, r.unit, ratio, r.p50, r.p99, r.p999, r.rss, cpu
        );
    }
    eprintln!();
    // A stall shows as one window far worse than the median window; a steady tail does not.
    for r in rows {
        if let Some(w) = r.extra.get("windows") {
            eprintln!(
                "{}: p99 by {} ms window of send time: median {} ms, worst {} ms ({} s in)",
                r.name, w["width_ms"], w["p99_median_ms"], w["p99_worst_ms"], w["worst_at_s"]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::callgrind_total;

    #[test]
    fn the_callgrind_total_is_read_from_its_summary_line() {
        let out = "# callgrind format\nversion: 1\ncmd: pier serve\nevents: Ir\nfl=(1) a.c\nfn=(1) main\n3 10\nsummary: 224339511\ntotals: 224339511\n";
        assert_eq!(callgrind_total(out), Some(224_339_511));
        assert_eq!(callgrind_total("events: Ir\ntotals: 42\n"), Some(42));
        assert_eq!(callgrind_total("events: Ir\nfn=(1) main\n"), None);
    }
}
