//! Where the machine's CPU went during a measurement: `pier-bench`'s own share (load generator
//! and receivers), how much of the machine stayed idle — whether a closed loop was bound by
//! CPU or by latency — and how much the hypervisor gave to other machines (steal), which tells a
//! run on a busy host from a slow build.

use serde_json::{json, Value};

/// The counters at the start of a measurement.
pub struct Sample {
    own_secs: f64,
    machine: Ticks,
}

impl Sample {
    pub fn now() -> Sample {
        Sample { own_secs: own_cpu_secs(), machine: machine_ticks() }
    }

    /// `bench_cpu_us_per_op` (this process's CPU per operation), `machine_idle_pct` (idle and
    /// waiting for I/O, all cores) and `machine_steal_pct` (time the hypervisor ran another
    /// machine while this one had work) since the sample, as JSON fields for a row's detail.
    pub fn since(&self, ops: usize) -> Value {
        let own = own_cpu_secs() - self.own_secs;
        let now = machine_ticks();
        let dt = now.total.saturating_sub(self.machine.total);
        let pct = |now: u64, then: u64| if dt == 0 { 0.0 } else { now.saturating_sub(then) as f64 * 100.0 / dt as f64 };
        let idle_pct = pct(now.idle, self.machine.idle);
        let steal_pct = pct(now.steal, self.machine.steal);
        let per_op = if ops == 0 { 0.0 } else { own * 1e6 / ops as f64 };
        json!({
            "bench_cpu_us_per_op": (per_op * 10.0).round() / 10.0,
            "machine_idle_pct": idle_pct.round(),
            "machine_steal_pct": (steal_pct * 10.0).round() / 10.0,
        })
    }
}

/// User + system CPU seconds of this process (all threads).
fn own_cpu_secs() -> f64 {
    process_cpu_secs("self")
}

/// User + system CPU seconds of process `pid` (all threads; a number, or `self`); 0 when gone.
pub fn process_cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |x| x.1).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The machine's CPU ticks, all cores, from `/proc/stat`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Ticks {
    total: u64,
    /// Idle and waiting for I/O.
    idle: u64,
    /// Given by the hypervisor to another machine while this one had work.
    steal: u64,
}

/// The machine's ticks now; zeros where unreadable.
fn machine_ticks() -> Ticks {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().next().and_then(parse_cpu_line))
        .unwrap_or_default()
}

/// The first line of `/proc/stat`: `cpu user nice system idle iowait irq softirq steal guest
/// guest_nice`. Guest time is already counted in user time, so the total is the first eight.
fn parse_cpu_line(line: &str) -> Option<Ticks> {
    let mut parts = line.split_whitespace();
    if parts.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = parts.take(8).map(|x| x.parse().ok()).collect::<Option<Vec<u64>>>()?;
    if v.len() < 5 {
        return None;
    }
    Some(Ticks { total: v.iter().sum(), idle: v[3] + v[4], steal: v.get(7).copied().unwrap_or(0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_line_gives_total_idle_and_steal() {
        let line = "cpu  100 5 50 800 40 3 2 10 7 0";
        assert_eq!(parse_cpu_line(line), Some(Ticks { total: 1010, idle: 840, steal: 10 }));
        let old = "cpu  100 5 50 800 40";
        assert_eq!(parse_cpu_line(old), Some(Ticks { total: 995, idle: 840, steal: 0 }), "a kernel without steal");
        assert_eq!(parse_cpu_line("cpu0 1 2 3 4 5 6 7 8"), None, "a single core's line is not the machine");
        assert_eq!(parse_cpu_line("cpu 1 2 x 4 5"), None);
        assert_eq!(parse_cpu_line("cpu 1 2 3"), None);
    }

    #[test]
    fn a_busy_loop_counts_as_own_cpu() {
        let s = Sample::now();
        let (start, deadline) = (own_cpu_secs(), std::time::Instant::now() + std::time::Duration::from_secs(20));
        let mut x = 0u64;
        // Spin until the kernel has counted 50 ms of this process's CPU (10 ms ticks).
        while own_cpu_secs() - start < 0.05 {
            assert!(std::time::Instant::now() < deadline, "no CPU time counted");
            for _ in 0..10_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
        let v = s.since(2);
        let us = v["bench_cpu_us_per_op"].as_f64().unwrap();
        assert!(us >= 25_000.0, "50 ms over two operations: {v}");
        let idle = v["machine_idle_pct"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&idle), "{v}");
        let steal = v["machine_steal_pct"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&steal), "{v}");
    }
}
