//! Pagination cursors: opaque, URL-safe tokens that remember where a page ended.
//!
//! A cursor holds the direction, the sort value of the boundary row and its id (the tiebreak),
//! so pages stay stable while new rows arrive.

use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Rows after the boundary in the list's order.
    #[serde(rename = "n")]
    Next,
    /// Rows before the boundary.
    #[serde(rename = "p")]
    Prev,
}

/// The sort value of a boundary row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Text(String),
    Null,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "d")]
    pub direction: Direction,
    #[serde(rename = "v")]
    pub value: SortValue,
    #[serde(rename = "i")]
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the pagination cursor is not valid; use the next or prev value of a previous page")]
pub struct CursorError;

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(s: &str) -> Result<Cursor, CursorError> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| CursorError)?;
        serde_json::from_slice(&raw).map_err(|_| CursorError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for value in [SortValue::Int(1_700_000_000_000), SortValue::Text("abc".into()), SortValue::Null] {
            for direction in [Direction::Next, Direction::Prev] {
                let c = Cursor { direction, value: value.clone(), id: "evt_0123".into() };
                let s = c.encode();
                assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
                assert_eq!(Cursor::decode(&s), Ok(c));
            }
        }
    }

    #[test]
    fn garbage_cursors_are_errors_not_panics() {
        for bad in ["", "!!!", "eyJ4IjoxfQ", "bm90IGpzb24", "\u{1F600}"] {
            assert_eq!(Cursor::decode(bad), Err(CursorError), "{bad}");
        }
    }
}
