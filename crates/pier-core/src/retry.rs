//! What happens after a delivery attempt: success, a retry at a given time, or giving up.
//! A pure function of the outcome, the retry policy, the attempt number and the time.

use crate::rules::{RetryStrategy, Rule};
use crate::Millis;

/// How a connection retries (its retry rule, or the project default).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub strategy: RetryStrategy,
    /// Delay before the first retry, ms (exponential doubles it each time).
    pub interval: i64,
    /// Automatic retries after the first attempt (0..=50).
    pub count: i64,
    /// Which response statuses are retried (empty: every failure).
    pub status_codes: Vec<StatusPattern>,
}

impl RetryPolicy {
    /// The default when a connection has no retry rule: exponential, 30 s, 8 retries.
    pub fn default_policy() -> RetryPolicy {
        RetryPolicy { strategy: RetryStrategy::Exponential, interval: 30_000, count: 8, status_codes: vec![] }
    }

    /// The policy of a connection's rules, or `default`.
    pub fn from_rules(rules: &[Rule], default: &RetryPolicy) -> RetryPolicy {
        for r in rules {
            if let Rule::Retry { strategy, count, interval, response_status_codes } = r {
                return RetryPolicy {
                    strategy: *strategy,
                    interval: interval.unwrap_or(default.interval).max(1),
                    count: count.unwrap_or(default.count).clamp(0, 50),
                    status_codes: response_status_codes
                        .iter()
                        .flatten()
                        .filter_map(|p| StatusPattern::parse(p))
                        .collect(),
                };
            }
        }
        default.clone()
    }

    /// The delay before automatic retry number `n` (1-based), without jitter.
    pub fn delay(&self, n: i64) -> i64 {
        match self.strategy {
            RetryStrategy::Linear => self.interval,
            RetryStrategy::Exponential => {
                let shift = (n - 1).clamp(0, 30) as u32;
                self.interval.saturating_mul(1i64 << shift).min(MAX_DELAY)
            }
        }
    }

    /// The longest delay this policy uses (the cap for `Retry-After`).
    pub fn max_delay(&self) -> i64 {
        self.delay(self.count.max(1))
    }

    /// Whether a failure with this status (None: no response) may be retried.
    pub fn retries_status(&self, status: Option<u16>) -> bool {
        let Some(status) = status else { return true };
        if self.status_codes.is_empty() {
            return true;
        }
        let negations: Vec<&StatusPattern> = self.status_codes.iter().filter(|p| p.is_negation()).collect();
        if negations.iter().any(|p| !p.matches(status)) {
            return false;
        }
        let positives: Vec<&StatusPattern> = self.status_codes.iter().filter(|p| !p.is_negation()).collect();
        positives.is_empty() || positives.iter().any(|p| p.matches(status))
    }
}

/// No retry is ever scheduled further out than this (one week).
pub const MAX_DELAY: i64 = 7 * 24 * 3600 * 1000;

/// `"500"`, `"500-599"`, `">400"`, `">=400"`, `"<300"`, `"<=300"`, `"!401"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    Exact(u16),
    Range(u16, u16),
    Gt(u16),
    Gte(u16),
    Lt(u16),
    Lte(u16),
    Not(u16),
}

impl StatusPattern {
    pub fn parse(s: &str) -> Option<StatusPattern> {
        if !crate::rules::status_code_pattern_is_valid(s) {
            return None;
        }
        let s = s.trim();
        let num = |x: &str| x.parse::<u16>().ok();
        if let Some((a, b)) = s.split_once('-') {
            return Some(StatusPattern::Range(num(a)?, num(b)?));
        }
        Some(if let Some(r) = s.strip_prefix(">=") {
            StatusPattern::Gte(num(r)?)
        } else if let Some(r) = s.strip_prefix("<=") {
            StatusPattern::Lte(num(r)?)
        } else if let Some(r) = s.strip_prefix('>') {
            StatusPattern::Gt(num(r)?)
        } else if let Some(r) = s.strip_prefix('<') {
            StatusPattern::Lt(num(r)?)
        } else if let Some(r) = s.strip_prefix('!') {
            StatusPattern::Not(num(r)?)
        } else {
            StatusPattern::Exact(num(s)?)
        })
    }

    pub fn is_negation(self) -> bool {
        matches!(self, StatusPattern::Not(_))
    }

    /// For a negation: true when the status is NOT the negated one.
    pub fn matches(self, s: u16) -> bool {
        match self {
            StatusPattern::Exact(c) => s == c,
            StatusPattern::Range(a, b) => (a..=b).contains(&s),
            StatusPattern::Gt(c) => s > c,
            StatusPattern::Gte(c) => s >= c,
            StatusPattern::Lt(c) => s < c,
            StatusPattern::Lte(c) => s <= c,
            StatusPattern::Not(c) => s != c,
        }
    }
}

/// What one attempt produced.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    /// A response arrived (`retry_after`: the `Retry-After` delay it asked for, ms).
    Response { status: u16, retry_after: Option<i64> },
    /// No response: a transport error (`error_code` in Hookdeck's names) or a timeout.
    NoResponse { error_code: &'static str },
}

impl AttemptResult {
    pub fn is_success(&self) -> bool {
        matches!(self, AttemptResult::Response { status, .. } if (200..300).contains(status))
    }
}

/// The decision after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Succeeded,
    /// Try again automatically at this time.
    RetryAt(Millis),
    /// No automatic retry left (or this failure is not retried).
    GiveUp,
}

/// Decide what follows attempt number `attempt` (1-based; automatic retries so far are
/// `attempt - 1`). `jitter` in `[0, 1)` spreads retries by up to +10 %.
pub fn decide(policy: &RetryPolicy, result: &AttemptResult, attempt: i64, now: Millis, jitter: f64) -> Next {
    if result.is_success() {
        return Next::Succeeded;
    }
    let status = match result {
        AttemptResult::Response { status, .. } => Some(*status),
        AttemptResult::NoResponse { .. } => None,
    };
    let retry_number = attempt; // the retry that would follow attempt n is retry n
    if retry_number > policy.count || !policy.retries_status(status) {
        return Next::GiveUp;
    }
    let base = policy.delay(retry_number);
    let jittered = base + (base as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as i64;
    let delay = match result {
        AttemptResult::Response { retry_after: Some(ra), .. } if matches!(status, Some(429) | Some(503)) => {
            (*ra).clamp(0, policy.max_delay()).max(jittered.min(policy.max_delay()))
        }
        _ => jittered,
    };
    Next::RetryAt(now.saturating_add(delay))
}

/// Parse a `Retry-After` header (delay-seconds or an HTTP date) into ms from `now`.
pub fn parse_retry_after(value: &str, now: Millis) -> Option<i64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return Some(secs.max(0).saturating_mul(1000));
    }
    http_date_ms(v).map(|at| (at - now).max(0))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to ms since the epoch.
fn http_date_ms(v: &str) -> Option<Millis> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: i64 = parts[1].parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| *m == parts[2])? as i64
        + 1;
    let year: i64 = parts[3].parse().ok()?;
    let hms: Vec<i64> = parts[4].split(':').filter_map(|x| x.parse().ok()).collect();
    if hms.len() != 3 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hms[0] * 3600 + hms[1] * 60 + hms[2]) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(strategy: RetryStrategy, interval: i64, count: i64, codes: &[&str]) -> RetryPolicy {
        RetryPolicy {
            strategy,
            interval,
            count,
            status_codes: codes.iter().filter_map(|c| StatusPattern::parse(c)).collect(),
        }
    }
    fn resp(status: u16) -> AttemptResult {
        AttemptResult::Response { status, retry_after: None }
    }

    #[test]
    fn table_of_decisions() {
        let lin = policy(RetryStrategy::Linear, 1000, 2, &[]);
        let exp = policy(RetryStrategy::Exponential, 1000, 5, &[]);
        let only5xx = policy(RetryStrategy::Linear, 1000, 3, &["500-599"]);
        let not401 = policy(RetryStrategy::Linear, 1000, 3, &["!401"]);
        let gt400 = policy(RetryStrategy::Linear, 1000, 3, &[">400", "!404"]);
        let none = policy(RetryStrategy::Linear, 1000, 0, &[]);
        let cases: Vec<(&RetryPolicy, AttemptResult, i64, Next)> = vec![
            (&lin, resp(200), 1, Next::Succeeded),
            (&lin, resp(204), 3, Next::Succeeded),
            (&lin, resp(500), 1, Next::RetryAt(1000)),
            (&lin, resp(500), 2, Next::RetryAt(1000)),
            (&lin, resp(500), 3, Next::GiveUp),
            (&lin, resp(302), 1, Next::RetryAt(1000)),
            (&lin, AttemptResult::NoResponse { error_code: "TIMEOUT" }, 1, Next::RetryAt(1000)),
            (&exp, resp(500), 1, Next::RetryAt(1000)),
            (&exp, resp(500), 2, Next::RetryAt(2000)),
            (&exp, resp(500), 3, Next::RetryAt(4000)),
            (&exp, resp(500), 5, Next::RetryAt(16000)),
            (&exp, resp(500), 6, Next::GiveUp),
            (&only5xx, resp(503), 1, Next::RetryAt(1000)),
            (&only5xx, resp(404), 1, Next::GiveUp),
            (&only5xx, AttemptResult::NoResponse { error_code: "CONNECTION_REFUSED" }, 1, Next::RetryAt(1000)),
            (&not401, resp(401), 1, Next::GiveUp),
            (&not401, resp(500), 1, Next::RetryAt(1000)),
            (&not401, resp(404), 1, Next::RetryAt(1000)),
            (&gt400, resp(404), 1, Next::GiveUp),
            (&gt400, resp(400), 1, Next::GiveUp),
            (&gt400, resp(429), 1, Next::RetryAt(1000)),
            (&none, resp(500), 1, Next::GiveUp),
        ];
        for (i, (p, r, n, want)) in cases.into_iter().enumerate() {
            assert_eq!(decide(p, &r, n, 0, 0.0), want, "case {i}: {r:?} attempt {n}");
        }
    }

    #[test]
    fn jitter_adds_at_most_ten_percent() {
        let p = policy(RetryStrategy::Linear, 1000, 3, &[]);
        assert_eq!(decide(&p, &resp(500), 1, 0, 0.5), Next::RetryAt(1050));
        assert_eq!(decide(&p, &resp(500), 1, 0, 0.999), Next::RetryAt(1099));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = policy(RetryStrategy::Exponential, 1000, 3, &[]); // max delay 4000
        let r = |status, ra| AttemptResult::Response { status, retry_after: Some(ra) };
        assert_eq!(decide(&p, &r(429, 3000), 1, 0, 0.0), Next::RetryAt(3000));
        assert_eq!(decide(&p, &r(503, 60_000), 1, 0, 0.0), Next::RetryAt(4000));
        assert_eq!(decide(&p, &r(429, 10), 2, 0, 0.0), Next::RetryAt(2000), "never sooner than the policy");
        assert_eq!(decide(&p, &r(500, 3000), 1, 0, 0.0), Next::RetryAt(1000), "only for 429 and 503");
    }

    #[test]
    fn policies_from_rules_and_defaults() {
        let d = RetryPolicy::default_policy();
        assert_eq!(RetryPolicy::from_rules(&[], &d), d);
        let rules = vec![Rule::Retry {
            strategy: RetryStrategy::Linear,
            count: Some(99),
            interval: None,
            response_status_codes: Some(vec!["500-599".into()]),
        }];
        let p = RetryPolicy::from_rules(&rules, &d);
        assert_eq!((p.count, p.interval, p.status_codes.len()), (50, 30_000, 1));
        assert_eq!(d.delay(9), 30_000 * 256);
        assert!(d.delay(40) <= MAX_DELAY);
    }

    #[test]
    fn retry_after_headers_parse() {
        assert_eq!(parse_retry_after("120", 0), Some(120_000));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770_000), Some(7_000));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_780_000), Some(0));
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-5", 0), Some(0));
    }
}
