//! Pier's domain: identifiers, the objects of a project (sources, destinations, connections,
//! requests, events), source verification, API keys and pagination cursors.
//!
//! Pure code: no I/O, no clock, no async runtime. Time and randomness are passed in.
//! Must not depend on any other Pier crate, on tokio, on a database or an HTTP stack.

pub mod cursor;
pub mod dedup;
pub mod filter;
pub mod id;
pub mod keys;
pub mod model;
pub mod providers;
pub mod retry;
pub mod routing;
pub mod rules;
pub mod signing;
pub mod verification;

/// Milliseconds since the Unix epoch, UTC. Every timestamp in Pier's domain.
pub type Millis = i64;

pub use id::{Id, IdKind};
pub use model::*;
