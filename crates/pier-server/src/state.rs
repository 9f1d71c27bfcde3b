//! State shared by every handler and worker.

use crate::config::Config;
use pier_store::Store;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    /// Woken when a request is stored, so the routing worker picks it up at once.
    pub routing_wake: Arc<Notify>,
}
