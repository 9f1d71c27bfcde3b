//! Pier's delivery engine. A dispatcher keeps an in-memory schedule of which destination has
//! work due when (fed by routing, by retries, and by a periodic scan of the store, so an idle
//! database is never polled in a tight loop). Each destination with due work gets its own
//! *lane*: it claims due events from the store under a lease, as many as its limits allow
//! (rate window, concurrency, the global in-flight cap), sends them, records each attempt and
//! schedules retries. A slow or failing destination only ever occupies its own lane.
//!
//! Depends on `pier-core` (decisions: retry policy, signatures) and `pier-store` (the queue).
//! Knows nothing of the API wire format or of axum.

pub mod auth;
mod cache;
pub mod client;
mod engine;
pub mod limit;
pub mod send;
pub mod ssrf;
pub mod tunnel;

pub use engine::{Delivery, DeliveryConfig, RetryError};
pub use tunnel::{Tunnel, TunnelAnswer, TunnelAttempt};
