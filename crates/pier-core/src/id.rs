//! Prefixed, URL-safe, time-sortable identifiers (`src_…`, `evt_…`).
//!
//! The suffix is 19 base62 characters: 48 bits of milliseconds followed by 64 random bits, so
//! ids of one kind sort by creation time as plain strings.

use rand::RngCore;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of the suffix after the prefix: ceil(112 bits / log2(62)).
pub const SUFFIX_LEN: usize = 19;

/// The kinds of object that have an id, with their prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    Project,
    Source,
    Destination,
    Connection,
    Request,
    Event,
    Attempt,
    IgnoredEvent,
    Transformation,
    Execution,
    CliSession,
    Bookmark,
    BatchOperation,
}

impl IdKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Project => "tm_",
            IdKind::Source => "src_",
            IdKind::Destination => "des_",
            IdKind::Connection => "web_",
            IdKind::Request => "req_",
            IdKind::Event => "evt_",
            IdKind::Attempt => "atm_",
            IdKind::IgnoredEvent => "ign_",
            IdKind::Transformation => "trs_",
            IdKind::Execution => "exc_",
            IdKind::CliSession => "cls_",
            IdKind::Bookmark => "bmk_",
            IdKind::BatchOperation => "bch_",
        }
    }
}

/// Helper namespace for making and checking ids.
pub struct Id;

impl Id {
    /// A new id of `kind` made at `now_ms` with randomness from `rng`.
    pub fn make(kind: IdKind, now_ms: i64, rng: &mut impl RngCore) -> String {
        let time = (now_ms.max(0) as u128) & ((1u128 << 48) - 1);
        let value = (time << 64) | rng.next_u64() as u128;
        let mut out = String::with_capacity(kind.prefix().len() + SUFFIX_LEN);
        out.push_str(kind.prefix());
        out.push_str(&encode_base62(value));
        out
    }

    /// True when `s` is a well-formed id of `kind` (prefix, length, alphabet).
    pub fn is_valid(kind: IdKind, s: &str) -> bool {
        match s.strip_prefix(kind.prefix()) {
            Some(rest) => rest.len() == SUFFIX_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
            None => false,
        }
    }
}

fn encode_base62(mut value: u128) -> String {
    let mut buf = [b'0'; SUFFIX_LEN];
    for slot in buf.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    // SAFETY of from_utf8: every byte comes from ALPHABET, which is ASCII.
    String::from_utf8(buf.to_vec()).unwrap_or_default()
}

/// Makes ids that also sort in creation order within one process: an id made in the same
/// millisecond as the previous one is the previous one plus one.
#[derive(Debug, Default)]
pub struct IdGen {
    last: u128,
}

impl IdGen {
    pub const fn new() -> IdGen {
        IdGen { last: 0 }
    }

    pub fn next(&mut self, kind: IdKind, now_ms: i64, rng: &mut impl RngCore) -> String {
        let time = (now_ms.max(0) as u128) & ((1u128 << 48) - 1);
        // Leave headroom in the random half so increments stay within the millisecond.
        let candidate = (time << 64) | (rng.next_u64() >> 1) as u128;
        let value = if candidate <= self.last { self.last + 1 } else { candidate };
        self.last = value;
        let mut out = String::with_capacity(kind.prefix().len() + SUFFIX_LEN);
        out.push_str(kind.prefix());
        out.push_str(&encode_base62(value));
        out
    }
}

/// Make a random base62 token of `len` characters (API keys, source keys, secrets).
pub fn random_token(len: usize, rng: &mut impl RngCore) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        // Rejection sampling keeps the distribution uniform.
        let b = (rng.next_u32() & 0xff) as u8;
        if b < 248 {
            out.push(ALPHABET[(b % 62) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn ids_have_prefix_and_fixed_length() {
        let mut rng = StdRng::seed_from_u64(1);
        let id = Id::make(IdKind::Source, 1_700_000_000_000, &mut rng);
        assert!(id.starts_with("src_"));
        assert_eq!(id.len(), 4 + SUFFIX_LEN);
        assert!(Id::is_valid(IdKind::Source, &id));
        assert!(!Id::is_valid(IdKind::Destination, &id));
        assert!(!Id::is_valid(IdKind::Source, "src_short"));
        assert!(!Id::is_valid(IdKind::Source, &format!("{}!", &id[..id.len() - 1])));
    }

    #[test]
    fn ids_sort_by_time() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut prev = Id::make(IdKind::Event, 0, &mut rng);
        for t in [1, 2, 999, 1_000, 1_700_000_000_000, 1_700_000_000_001, 4_000_000_000_000] {
            let next = Id::make(IdKind::Event, t, &mut rng);
            assert!(next > prev, "{next} should sort after {prev}");
            prev = next;
        }
    }

    #[test]
    fn ids_are_unique_within_a_millisecond() {
        let mut rng = StdRng::seed_from_u64(3);
        let set: std::collections::HashSet<_> = (0..10_000).map(|_| Id::make(IdKind::Request, 42, &mut rng)).collect();
        assert_eq!(set.len(), 10_000);
    }

    #[test]
    fn generated_ids_are_strictly_increasing_within_a_millisecond() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut g = IdGen::new();
        let mut prev = g.next(IdKind::Request, 7, &mut rng);
        for i in 0..10_000 {
            let now = 7 + i / 1000; // many ids per millisecond
            let next = g.next(IdKind::Request, now, &mut rng);
            assert!(next > prev, "{next} should sort after {prev}");
            assert!(Id::is_valid(IdKind::Request, &next));
            prev = next;
        }
        // A clock that steps back still yields increasing ids.
        let back = g.next(IdKind::Request, 1, &mut rng);
        assert!(back > prev);
    }

    #[test]
    fn tokens_are_alphanumeric_of_requested_length() {
        let mut rng = StdRng::seed_from_u64(4);
        let t = random_token(40, &mut rng);
        assert_eq!(t.len(), 40);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
