//! The storage conformance story on PostgreSQL (the same story SQLite passes), in a schema of
//! its own. Runs when `PIER_TEST_DATABASE_URL` is set (CI sets it).

use pier_store_postgres::testing::{drop_fresh_schema, fresh_schema_url, test_database_url};
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

#[tokio::test]
async fn a_fresh_schema_is_dropped_with_its_tables_and_other_urls_are_refused() {
    let Some(base) = test_database_url() else { return };
    tokio::time::timeout(Duration::from_secs(60), async {
        let url = fresh_schema_url(&base).await.expect("a fresh schema");
        let store = PostgresStore::open(&url).await.expect("open");
        drop(store);
        let schema = url.rsplit_once("search_path%3D").expect("the schema in the URL").1.to_string();
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        let count = "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1";
        let before: i64 = client.query_one(count, &[&schema]).await.expect("count").get(0);
        assert!(before > 5, "the store's tables are in the schema ({before})");

        drop_fresh_schema(&base, &url).await.expect("dropped");
        let after: i64 = client.query_one(count, &[&schema]).await.expect("count").get(0);
        assert_eq!(after, 0);
        let left: i64 = client
            .query_one("SELECT count(*) FROM pg_namespace WHERE nspname = $1", &[&schema])
            .await
            .expect("count")
            .get(0);
        assert_eq!(left, 0, "the schema itself is gone");

        // A URL naming no fresh schema (here, the base URL, or one naming `public`) is refused.
        assert!(drop_fresh_schema(&base, &base).await.is_err());
        let public = format!("{base}?options=-csearch_path%3Dpublic");
        assert!(drop_fresh_schema(&base, &public).await.is_err());
    })
    .await
    .expect("timed out");
}
