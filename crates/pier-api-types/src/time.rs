//! Timestamps on the wire: RFC 3339 UTC with milliseconds (`2024-01-15T16:35:30.667Z`).

use pier_core::Millis;

pub fn format(ms: Millis) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => "1970-01-01T00:00:00.000Z".into(),
    }
}

pub fn format_opt(ms: Option<Millis>) -> Option<String> {
    ms.map(format)
}

/// Parse an RFC 3339 date-time (or a plain date, read as midnight UTC) into milliseconds.
pub fn parse(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_hookdeck() {
        assert_eq!(format(1_705_336_530_667), "2024-01-15T16:35:30.667Z");
        assert_eq!(parse("2024-01-15T16:35:30.667Z"), Some(1_705_336_530_667));
        assert_eq!(parse("2024-01-15T17:35:30.667+01:00"), Some(1_705_336_530_667));
        assert_eq!(parse("2024-01-15"), Some(1_705_276_800_000));
        assert_eq!(parse("yesterday"), None);
    }
}
