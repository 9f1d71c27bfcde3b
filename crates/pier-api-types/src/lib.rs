//! Pier's REST wire format: the JSON shapes of every API version Pier speaks (2023-07-01,
//! 2024-03-01 and later), converted explicitly from `pier-core`'s domain types, and the JSON
//! bodies the API accepts, validated into domain values.
//!
//! The only crate that knows field names on the wire. Depends on `pier-core` only; no HTTP
//! framework, no storage.

pub mod error;
pub mod input;
pub mod output;
pub mod time;
pub mod version;

pub use error::ErrorBody;
pub use version::ApiVersion;
