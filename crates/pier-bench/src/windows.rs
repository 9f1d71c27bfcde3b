//! Latency by window of send time: tells a stall (one window far worse than the others) from a
//! steady tail (every window alike), which one p99 over the whole run cannot.

use crate::load::pct;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The width of a window.
pub const WIDTH: Duration = Duration::from_millis(100);

/// The p99 of each window of send time, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    /// The width of each window, ms.
    pub width_ms: u64,
    /// Windows with at least one sample.
    pub count: usize,
    /// The median of the windows' p99s, ms.
    pub p99_median_ms: f64,
    /// The worst window's p99, ms.
    pub p99_worst_ms: f64,
    /// When the worst window began, seconds after the first send.
    pub worst_at_s: f64,
}

impl Windows {
    pub fn json(&self) -> Value {
        json!({
            "width_ms": self.width_ms,
            "count": self.count,
            "p99_median_ms": self.p99_median_ms,
            "p99_worst_ms": self.p99_worst_ms,
            "worst_at_s": self.worst_at_s,
        })
    }
}

/// Group `samples` (send time, latency µs) by windows of `width` from the first send; `None`
/// without samples.
pub fn by_send_time(samples: &[(Instant, u64)], width: Duration) -> Option<Windows> {
    let first = samples.iter().map(|(t, _)| *t).min()?;
    let width_ms = width.as_millis() as u64;
    let width = width.as_micros().max(1);
    let mut windows: BTreeMap<u128, Vec<u64>> = BTreeMap::new();
    for (t, latency) in samples {
        windows.entry(t.duration_since(first).as_micros() / width).or_default().push(*latency);
    }
    let mut p99s: Vec<(u128, f64)> = windows
        .into_iter()
        .map(|(i, mut l)| {
            l.sort_unstable();
            (i, pct(&l, 99.0))
        })
        .collect();
    let &(worst_i, worst) = p99s.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    p99s.sort_by(|a, b| a.1.total_cmp(&b.1));
    Some(Windows {
        width_ms,
        count: p99s.len(),
        p99_median_ms: p99s[p99s.len() / 2].1,
        p99_worst_ms: worst,
        worst_at_s: (worst_i * width) as f64 / 1e6,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` samples a millisecond apart from `t0 + at_ms`, each `latency_us`.
    fn run(t0: Instant, at_ms: u64, n: u64, latency_us: u64) -> Vec<(Instant, u64)> {
        (0..n).map(|i| (t0 + Duration::from_millis(at_ms + i), latency_us)).collect()
    }

    #[test]
    fn one_stalled_window_stands_out_from_the_median() {
        let t0 = Instant::now();
        // Ten windows of 100 samples at 2 ms, but the fifth (400-499 ms) at 50 ms.
        let mut s = run(t0, 0, 400, 2_000);
        s.extend(run(t0, 400, 100, 50_000));
        s.extend(run(t0, 500, 500, 2_000));
        let w = by_send_time(&s, WIDTH).unwrap();
        assert_eq!((w.width_ms, w.count), (100, 10));
        assert_eq!(w.p99_median_ms, 2.0);
        assert_eq!(w.p99_worst_ms, 50.0);
        assert!((w.worst_at_s - 0.4).abs() < 1e-9, "{w:?}");
    }

    #[test]
    fn a_steady_tail_gives_the_same_p99_in_every_window() {
        let t0 = Instant::now();
        // Each window: 98 samples at 1 ms and 2 at 9 ms, the same in all five.
        let mut s = Vec::new();
        for w in 0..5 {
            s.extend(run(t0, w * 100, 98, 1_000));
            s.extend(run(t0, w * 100 + 98, 2, 9_000));
        }
        let w = by_send_time(&s, WIDTH).unwrap();
        assert_eq!((w.count, w.p99_median_ms, w.p99_worst_ms), (5, 9.0, 9.0));
    }

    #[test]
    fn no_samples_no_windows() {
        assert_eq!(by_send_time(&[], WIDTH), None);
    }
}
