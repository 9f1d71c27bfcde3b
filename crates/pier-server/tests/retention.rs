//! Retention end to end on a real store (SQLite, or PostgreSQL with PIER_TEST_STORE=postgres):
//! the job deletes old finished requests of every project, keeps recent ones, pending ones and
//! bookmarked ones.

use pier_core::{Bookmark, IdKind, Request};
use pier_server::state::AppState;
use pier_store::Store;
use std::sync::Arc;
use std::time::Duration;

fn request(project_id: &str, created_at: i64) -> Request {
    Request {
        id: pier_store::clock::new_id(IdKind::Request, created_at),
        project_id: project_id.into(),
        source_id: "src_gone".into(),
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Some(bytes::Bytes::from_static(b"{}")),
        body_size: 2,
        original_ip: None,
        verified: false,
        rejection_cause: None,
        events_count: 0,
        ignored_count: 0,
        cli_events_count: 0,
        routed: true,
        ingested_at: created_at,
        created_at,
        updated_at: created_at,
    }
}

#[tokio::test]
async fn the_retention_job_deletes_old_finished_requests_of_every_project() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = pier_server::Config::for_tests(tmp.path().to_path_buf());
        config.database_url = pier_testkit::test_database().await.unwrap();
        config.retention_days = 30;
        let store: Arc<dyn Store> = pier_server::open_store(&config).await.unwrap();
        pier_server::bootstrap::ensure_default_project(store.as_ref(), &config).await.unwrap();
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let delivery = pier_delivery::Delivery::start(
            store.clone(),
            pier_delivery::DeliveryConfig::new("http://127.0.0.1:0"),
            stopped.clone(),
            None,
        );
        let st = AppState::new(store.clone(), config, delivery, Arc::new(pier_server::tunnel::Tunnels::default()));
        let project = store.list_projects().await.unwrap().remove(0);

        let now = pier_store::clock::now_ms();
        let old = now - 40 * 86_400_000;
        let (gone, kept, recent) =
            (request(&project.id, old), request(&project.id, old + 1), request(&project.id, now));
        for r in [&gone, &kept, &recent] {
            store.ingest(r.clone()).await.unwrap();
        }
        let bookmark = Bookmark {
            id: pier_store::clock::new_id(IdKind::Bookmark, now),
            project_id: project.id.clone(),
            connection_id: "web_any".into(),
            request_id: kept.id.clone(),
            label: "keep".into(),
            name: None,
            last_used_at: None,
            created_at: now,
            updated_at: now,
        };
        store.put_bookmark(&bookmark).await.unwrap();

        let deleted = pier_server::retention::purge_before(&st, now - 30 * 86_400_000, &stopped).await.unwrap();
        assert_eq!(deleted, 1);
        assert_eq!(store.request(&project.id, &gone.id).await.unwrap(), None);
        assert!(store.request(&project.id, &kept.id).await.unwrap().is_some(), "a bookmark keeps its request");
        assert!(store.request(&project.id, &recent.id).await.unwrap().is_some());
        assert_eq!(pier_server::retention::purge_before(&st, now - 30 * 86_400_000, &stopped).await.unwrap(), 0);
    })
    .await
    .expect("test timed out")
}
