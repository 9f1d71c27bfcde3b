//! The seam between delivery and the CLI tunnel: a CLI destination's events are handed to a
//! [`Tunnel`] (the server's websocket sessions) instead of being sent over HTTP.

use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;

/// One attempt sent through a CLI session.
#[derive(Debug, Clone)]
pub struct TunnelAttempt {
    pub event_id: String,
    pub attempt_id: String,
    pub webhook_id: String,
    pub cli_path: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub timeout_ms: u64,
}

/// What the developer's local app answered, as the CLI reported it.
#[derive(Debug, Clone)]
pub struct TunnelAnswer {
    pub status: u16,
    pub body: String,
}

pub type TunnelFuture = Pin<Box<dyn Future<Output = Result<TunnelAnswer, String>> + Send>>;

/// CLI sessions held by this node.
pub trait Tunnel: Send + Sync + 'static {
    /// Whether a session on this node receives events for this destination.
    fn serves_destination(&self, destination_id: &str) -> bool;
    /// Send an attempt through a session receiving `webhook_id`; resolves with the answer, or
    /// an error when no session could deliver it (disconnected, local app unreachable).
    fn send(&self, attempt: TunnelAttempt) -> TunnelFuture;
}
