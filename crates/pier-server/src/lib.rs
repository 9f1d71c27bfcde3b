//! Pier's server: the axum application (ingest, management API), the routing worker that
//! turns committed requests into events, configuration, start-up and graceful shutdown.
//!
//! The only crate that picks a concrete storage backend (see [`open_store`]). Knows HTTP; keeps
//! domain decisions in `pier-core` and wire shapes in `pier-api-types`.

pub mod api;
pub mod app;
pub mod bootstrap;
pub mod bulk;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod ingest;
pub mod prometheus;
pub mod retention;
pub mod routing;
pub mod rules;
pub mod state;
pub mod tunnel;

pub use app::{serve, Server};
pub use config::Config;

use std::sync::Arc;

/// Open the store that `database_url` names (`sqlite://path` or `postgres://…`), or the
/// SQLite file in `data_dir` when none is given.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn pier_store::Store>> {
    use anyhow::Context;
    match config.database_url.as_deref() {
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
            let store = pier_store_postgres::PostgresStore::open(u)
                .await
                .context("cannot open the PostgreSQL database (is it running and is the URL right?)")?;
            Ok(Arc::new(store))
        }
        Some(u) => anyhow::bail!("unsupported --database-url '{u}': use sqlite://PATH or postgres://USER@HOST/DB"),
    }
}
