//! The storage conformance story on PostgreSQL (the same story SQLite passes), in a schema of
//! its own. Runs when `PIER_TEST_DATABASE_URL` is set (CI sets it).

use pier_store_postgres::testing::{fresh_schema_url, test_database_url};
use pier_store_postgres::PostgresStore;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn conformance_story_on_postgres() {
    let Some(base) = test_database_url() else {
        eprintln!("PIER_TEST_DATABASE_URL is not set: skipping the PostgreSQL conformance story");
        return;
    };
    tokio::time::timeout(Duration::from_secs(120), async {
        let url = fresh_schema_url(&base).await.expect("a fresh schema");
        let store = PostgresStore::open(&url).await.expect("open");
        pier_store::conformance::run(Arc::new(store)).await;
    })
    .await
    .expect("timed out");
}

#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    let Some(base) = test_database_url() else { return };
    tokio::time::timeout(Duration::from_secs(60), async {
        let url = fresh_schema_url(&base).await.expect("a fresh schema");
        let opens = (0..4).map(|_| PostgresStore::open(&url));
        for r in futures::future::join_all(opens).await {
            r.expect("every node opens the store");
        }
    })
    .await
    .expect("timed out");
}
