//! The dashboard: static assets embedded in the binary, served at `/` (being written).

use crate::state::AppState;
use axum::Router;

/// The dashboard's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
