//! Append-only migrations, applied at start-up under an advisory lock so that several nodes
//! starting at once apply each migration exactly once.

use crate::map_err;
use pier_store::StoreError;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_routing_owner.sql")),
    (3, include_str!("migrations/0003_rules.sql")),
    (4, include_str!("migrations/0004_cli_sessions.sql")),
    (5, include_str!("migrations/0005_held_events.sql")),
    (6, include_str!("migrations/0006_bookmarks_batches.sql")),
    (7, include_str!("migrations/0007_batch_kind.sql")),
    (8, include_str!("migrations/0008_retention.sql")),
];
/// An arbitrary constant naming Pier's migration lock.
const LOCK: i64 = 0x0070_6965_726d_6967; // "piermig"

pub(crate) async fn run(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&LOCK]).await.map_err(map_err)?;
    let result = apply(client).await;
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK]).await;
    result
}

async fn apply(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await
        .map_err(map_err)?;
    for (version, sql) in MIGRATIONS {
        let tx = client.transaction().await.map_err(map_err)?;
        let done =
            tx.query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version]).await.map_err(map_err)?;
        if done.is_none() {
            tx.batch_execute(sql).await.map_err(map_err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, (extract(epoch from now()) * 1000)::bigint)",
                &[version],
            )
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
    }
    Ok(())
}
