//! Per-destination limits: a sliding window of send times (`rate_limit` per second, minute or
//! hour) and a cap on deliveries in flight (`concurrent`, or the lane default).

use pier_core::{Destination, RateLimitPeriod};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a destination allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At most `count` sends in any window of `period` (None: no rate limit).
    pub rate: Option<(u32, Duration)>,
    /// At most this many deliveries in flight.
    pub concurrency: usize,
}

impl Limits {
    pub fn of(d: &Destination, default_concurrency: usize) -> Limits {
        let n = d.rate_limit.filter(|n| *n > 0).map(|n| n.min(u32::MAX as i64) as u32);
        match (n, d.rate_limit_period) {
            (Some(n), RateLimitPeriod::Concurrent) => Limits { rate: None, concurrency: n as usize },
            (Some(n), period) => {
                let p = match period {
                    RateLimitPeriod::Minute => Duration::from_secs(60),
                    RateLimitPeriod::Hour => Duration::from_secs(3600),
                    _ => Duration::from_secs(1),
                };
                Limits { rate: Some((n, p)), concurrency: default_concurrency.min(n as usize).max(1) }
            }
            (None, _) => Limits { rate: None, concurrency: default_concurrency },
        }
    }
}

/// A sliding-window log of send times. The window is widened by a small margin so that
/// network jitter cannot squeeze more than `count` arrivals into one `period` at the receiver.
#[derive(Debug)]
pub struct Window {
    count: u32,
    period: Duration,
    sent: VecDeque<Instant>,
}

impl Window {
    pub fn new(count: u32, period: Duration) -> Window {
        Window { count, period: period + (period / 20).min(Duration::from_millis(100)), sent: VecDeque::new() }
    }

    fn trim(&mut self, now: Instant) {
        while let Some(t) = self.sent.front() {
            if now.duration_since(*t) >= self.period {
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }

    /// How many sends are allowed right now.
    pub fn available(&mut self, now: Instant) -> u32 {
        self.trim(now);
        self.count.saturating_sub(self.sent.len() as u32)
    }

    /// When the next send becomes allowed (now if one is).
    pub fn next_free(&mut self, now: Instant) -> Instant {
        self.trim(now);
        if (self.sent.len() as u32) < self.count {
            return now;
        }
        self.sent.front().map(|t| *t + self.period).unwrap_or(now)
    }

    pub fn record(&mut self, now: Instant) {
        self.sent.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_allows_count_per_period() {
        let t0 = Instant::now();
        let mut w = Window::new(5, Duration::from_secs(1));
        assert_eq!(w.available(t0), 5);
        for _ in 0..5 {
            w.record(t0);
        }
        assert_eq!(w.available(t0), 0);
        assert_eq!(w.available(t0 + Duration::from_millis(999)), 0);
        let free = w.next_free(t0);
        assert!(free >= t0 + Duration::from_secs(1), "margin keeps the window at least a period");
        assert_eq!(w.available(free), 5);
    }

    #[test]
    fn limits_from_destinations() {
        let mut d = Destination {
            id: "des_1".into(),
            project_id: "tm_1".into(),
            name: "d".into(),
            description: None,
            url: Some("http://x".into()),
            cli_path: None,
            path_forwarding_disabled: false,
            http_method: None,
            rate_limit: None,
            rate_limit_period: RateLimitPeriod::Second,
            auth_method: Default::default(),
            disabled_at: None,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(Limits::of(&d, 32), Limits { rate: None, concurrency: 32 });
        d.rate_limit = Some(5);
        assert_eq!(Limits::of(&d, 32), Limits { rate: Some((5, Duration::from_secs(1))), concurrency: 5 });
        d.rate_limit_period = RateLimitPeriod::Minute;
        assert_eq!(Limits::of(&d, 32).rate, Some((5, Duration::from_secs(60))));
        d.rate_limit_period = RateLimitPeriod::Concurrent;
        d.rate_limit = Some(3);
        assert_eq!(Limits::of(&d, 32), Limits { rate: None, concurrency: 3 });
    }
}
