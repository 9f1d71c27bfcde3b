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

/// 62 to the 10th: the low ten digits of a suffix, which fit in a `u64`.
const LOW_DIGITS: u128 = 839_299_365_868_340_224;

/// The [`SUFFIX_LEN`] base62 digits of `value` (< 2^112), most significant first. One 128-bit
/// division splits it into two `u64` halves whose digits take 64-bit divisions, several times
/// cheaper than 19 divisions of a `u128`.
fn encode_base62(value: u128) -> String {
    let mut buf = [b'0'; SUFFIX_LEN];
    let high_part = value / LOW_DIGITS;
    let (mut high, mut low) = (high_part as u64, (value - high_part * LOW_DIGITS) as u64);
    let (high_slots, low_slots) = buf.split_at_mut(SUFFIX_LEN - 10);
    for slot in low_slots.iter_mut().rev() {
        *slot = ALPHABET[(low % 62) as usize];
        low /= 62;
    }
    for slot in high_slots.iter_mut().rev() {
        *slot = ALPHABET[(high % 62) as usize];
        high /= 62;
    }
    // Every byte comes from ALPHABET, which is ASCII.
    buf.iter().map(|&b| b as char).collect()
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

    /// The digits by the definition: 19 divisions of the whole value.
    fn base62_by_definition(mut value: u128) -> String {
        let mut digits = vec![b'0'; SUFFIX_LEN];
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(value % 62) as usize];
            value /= 62;
        }
        String::from_utf8(digits).unwrap()
    }

    #[test]
    fn suffixes_are_the_base62_digits_of_the_value() {
        let mut rng = StdRng::seed_from_u64(11);
        let edges = [0, 1, 61, 62, LOW_DIGITS - 1, LOW_DIGITS, LOW_DIGITS + 1, (1u128 << 64) - 1, (1u128 << 112) - 1];
        let random = (0..10_000).map(|_| ((rng.next_u64() as u128) << 48) ^ rng.next_u64() as u128);
        for v in edges.into_iter().chain(random) {
            assert_eq!(encode_base62(v), base62_by_definition(v), "{v}");
        }
        assert_eq!(encode_base62((1u128 << 112) - 1).len(), SUFFIX_LEN);
    }

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
