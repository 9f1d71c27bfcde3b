//! The bulk retry worker: processes a batch operation in batches of
//! [`BatchOperation::BATCH_SIZE`] events, oldest first, each batch requeued with trigger
//! `BULK_RETRY` in one write, progress and cursor saved after each batch — so a restart resumes
//! where it stopped (`resume`), and a cancel stops it before the next batch.

use crate::api::event_query_of;
use crate::clock::now_ms;
use crate::state::AppState;
use pier_core::cursor::Cursor;
use pier_core::{AttemptTrigger, BatchOperation};
use pier_store::{Cmp, Col, Cond, Val};

/// Run `op` in the background on this node.
pub fn spawn(st: AppState, op: BatchOperation) {
    tokio::spawn(async move {
        let id = op.id.clone();
        if let Err(e) = run(&st, op).await {
            tracing::warn!(batch = %id, error = %e, "bulk retry stopped; it resumes at the next start");
        }
    });
}

/// At start-up: resume the operations a previous run left unfinished.
pub async fn resume(st: &AppState) {
    match st.store.unfinished_batches().await {
        Ok(ops) => {
            for op in ops {
                tracing::info!(batch = %op.id, processed_batch = op.processed_batch, "resuming bulk retry");
                spawn(st.clone(), op);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot list unfinished bulk retries"),
    }
}

async fn run(st: &AppState, mut op: BatchOperation) -> anyhow::Result<()> {
    let query: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&op.query)?;
    let mut eq = event_query_of(&query).map_err(|e| anyhow::anyhow!(e.message))?;
    eq.q.order_by = Col::CreatedAt;
    eq.q.desc = false;
    eq.q.limit = BatchOperation::BATCH_SIZE as u32;
    // Events created after the operation are not part of it.
    eq.q.conds.push(Cond::Cmp(Col::CreatedAt, Cmp::Lte, Val::Int(op.created_at)));
    loop {
        match st.store.batch(&op.project_id, &op.id).await? {
            Some(now) if now.in_progress() => {}
            _ => return Ok(()),
        }
        eq.q.cursor = op.cursor.as_deref().map(Cursor::decode).transpose()?;
        let page = eq.page(st, &op.project_id).await.map_err(|e| anyhow::anyhow!(e.message))?;
        let ids: Vec<String> = page.models.iter().map(|e| e.id.clone()).collect();
        let now = now_ms();
        let dests = st.store.requeue_events(&op.project_id, &ids, AttemptTrigger::BulkRetry, now).await?;
        let mut distinct = dests.clone();
        distinct.sort();
        distinct.dedup();
        for d in &distinct {
            st.delivery.notify(&op.project_id, d, now);
        }
        op.processed_batch += 1;
        op.completed_count += dests.len() as i64;
        op.failed_count += (ids.len() - dests.len()) as i64;
        op.cursor = page.next.as_ref().map(Cursor::encode);
        op.updated_at = now;
        if page.next.is_none() {
            op.completed_at = Some(now);
            op.estimated_count = op.estimated_count.max(op.completed_count + op.failed_count);
        }
        st.store.put_batch(&op).await?;
        tracing::debug!(batch = %op.id, retried = dests.len(), skipped = ids.len() - dests.len(), "bulk retry batch");
        if op.completed_at.is_some() {
            tracing::info!(batch = %op.id, retried = op.completed_count, skipped = op.failed_count, "bulk retry done");
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}
