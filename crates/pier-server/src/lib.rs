//! Pier's server: the axum application (ingest, management API), the routing worker that
//! turns committed requests into events, configuration, start-up and graceful shutdown.
//!
//! The only crate that picks a concrete storage backend (see [`open_store`]). Knows HTTP; keeps
//! domain decisions in `pier-core` and wire shapes in `pier-api-types`.

pub mod api;
pub mod app;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod ingest;
pub mod routing;
pub mod state;

pub use app::{serve, Server};
pub use config::Config;

use std::sync::Arc;

/// Open the store that `database_url` names (`sqlite://path`), or the SQLite file in
/// `data_dir` when none is given.
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn pier_store::Store>> {
    use anyhow::Context;
    let url = config.database_url.clone();
    match url.as_deref() {
        None => {
            let path = config.data_dir.join("pier.db");
            let store = pier_store_sqlite::SqliteStore::open(&path)
                .with_context(|| format!("cannot open the database at {}", path.display()))?;
            Ok(Arc::new(store))
        }
        Some(u) if u.starts_with("sqlite:") => {
            let path = u.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let store = pier_store_sqlite::SqliteStore::open(path)
                .with_context(|| format!("cannot open the database at {path}"))?;
            Ok(Arc::new(store))
        }
        Some(u) if u.starts_with("postgres:") || u.starts_with("postgresql:") => {
            anyhow::bail!("postgresql support is not built into this version of pier yet; use sqlite://PATH or leave --database-url unset")
        }
        Some(u) => anyhow::bail!("unsupported --database-url '{u}': use sqlite://PATH"),
    }
}
