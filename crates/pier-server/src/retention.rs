//! Retention: a background job deletes requests older than `retention_days` (with their
//! events, attempts, ignored events, transformed data and transformation runs) once nothing is
//! pending for them and no bookmark keeps them — in batches of [`BATCH`] with a pause between
//! them, so ingest and delivery are never stalled behind a large deletion.

use crate::clock::now_ms;
use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;

/// Requests deleted per write.
const BATCH: u32 = 500;
/// Pause between two batches.
const PAUSE: Duration = Duration::from_millis(50);
/// The first pass runs this long after start-up, then one every [`EVERY`].
const FIRST: Duration = Duration::from_secs(30);
const EVERY: Duration = Duration::from_secs(300);

const DAY_MS: i64 = 86_400_000;

/// Run until `shutdown` turns true (does nothing when retention is 0 days: keep everything).
pub async fn run(st: AppState, mut shutdown: watch::Receiver<bool>) {
    let days = st.config.retention_days;
    if days == 0 {
        return;
    }
    let mut wait = FIRST;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = EVERY;
        let before = now_ms() - days as i64 * DAY_MS;
        match purge_before(&st, before, &shutdown).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted_requests = n, retention_days = days, "retention pass"),
            Err(e) => tracing::warn!(error = %e, "retention pass failed; trying again later"),
        }
    }
}

/// Delete, project by project, everything retention allows created before `before`.
pub async fn purge_before(
    st: &AppState,
    before: i64,
    shutdown: &watch::Receiver<bool>,
) -> Result<u64, pier_store::StoreError> {
    let mut total = 0;
    for project in st.store.list_projects().await? {
        loop {
            if *shutdown.borrow() {
                return Ok(total);
            }
            let n = st.store.purge(&project.id, before, BATCH).await?;
            total += n;
            if n < BATCH as u64 {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    Ok(total)
}
