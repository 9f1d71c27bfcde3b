//! Append-only schema migrations, applied in order at open; each in its own transaction.

use rusqlite::Connection;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_delivery.sql")),
    (3, include_str!("migrations/0003_rules.sql")),
    (4, include_str!("migrations/0004_cli_sessions.sql")),
    (5, include_str!("migrations/0005_bookmarks_batches.sql")),
    (6, include_str!("migrations/0006_batch_kind.sql")),
    (7, include_str!("migrations/0007_retention.sql")),
    (8, include_str!("migrations/0008_pending_index.sql")),
];

pub(crate) fn run(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        // IMMEDIATE takes the write lock first, so two processes opening one file at once
        // cannot both apply a migration.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: bool =
            tx.query_row("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| r.get(0))?;
        if !done {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now') * 1000)",
                [version],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}
