//! The bulk retry worker: processes a batch operation in batches of
//! [`BatchOperation::BATCH_SIZE`] objects, oldest first — events requeued with trigger
//! `BULK_RETRY` in one write; requests routed again through their source's connections; the
//! requests of ignored events routed again through their connection — progress and cursor saved
//! after each batch, so a restart resumes where it stopped (`resume`), and a cancel stops it
//! before the next batch.

use crate::api::BulkQuery;
use crate::clock::now_ms;
use crate::state::AppState;
use pier_core::cursor::Cursor;
use pier_core::{AttemptTrigger, BatchKind, BatchOperation};
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
    let mut bq = BulkQuery::parse(op.kind, &query).map_err(|e| anyhow::anyhow!(e.message))?;
    {
        let q = bq.list_mut();
        q.order_by = Col::CreatedAt;
        q.desc = false;
        q.limit = BatchOperation::BATCH_SIZE as u32;
        // Objects created after the operation are not part of it.
        q.conds.push(Cond::Cmp(Col::CreatedAt, Cmp::Lte, Val::Int(op.created_at)));
    }
    loop {
        match st.store.batch(&op.project_id, &op.id).await? {
            Some(now) if now.in_progress() => {}
            _ => return Ok(()),
        }
        bq.list_mut().cursor = op.cursor.as_deref().map(Cursor::decode).transpose()?;
        let (seen, retried, next) = step(st, &op, &bq).await?;
        let now = now_ms();
        op.processed_batch += 1;
        op.completed_count += retried as i64;
        op.failed_count += (seen - retried) as i64;
        op.cursor = next.as_ref().map(Cursor::encode);
        op.updated_at = now;
        if next.is_none() {
            op.completed_at = Some(now);
            op.estimated_count = op.estimated_count.max(op.completed_count + op.failed_count);
        }
        st.store.put_batch(&op).await?;
        tracing::debug!(batch = %op.id, retried, skipped = seen - retried, "bulk retry batch");
        if op.completed_at.is_some() {
            tracing::info!(batch = %op.id, retried = op.completed_count, skipped = op.failed_count, "bulk retry done");
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}

/// One batch: returns how many objects were looked at, how many retried, and where to go on.
async fn step(st: &AppState, op: &BatchOperation, bq: &BulkQuery) -> anyhow::Result<(usize, usize, Option<Cursor>)> {
    let project = op.project_id.as_str();
    let err = |e: crate::error::ApiError| anyhow::anyhow!(e.message);
    match (op.kind, bq) {
        (BatchKind::EventsRetry, BulkQuery::Events(eq)) => {
            let page = eq.page(st, project).await.map_err(err)?;
            let ids: Vec<String> = page.models.iter().map(|e| e.id.clone()).collect();
            let now = now_ms();
            let dests = st.store.requeue_events(project, &ids, AttemptTrigger::BulkRetry, now).await?;
            let mut distinct = dests.clone();
            distinct.sort();
            distinct.dedup();
            for d in &distinct {
                st.delivery.notify(project, d, now);
            }
            Ok((ids.len(), dests.len(), page.next))
        }
        (BatchKind::RequestsRetry, BulkQuery::Requests(rq)) => {
            let page = rq.page(st, project, true).await.map_err(err)?;
            let mut retried = 0;
            for r in &page.models {
                let refused = r.rejection_cause.is_some_and(|c| c != pier_core::RejectionCause::NoConnection);
                if refused {
                    continue;
                }
                let connections = crate::routing::connections_for_routing(st, &r.source_id).await?;
                if connections.is_empty() {
                    continue;
                }
                crate::routing::reroute(st, r, &connections).await?;
                retried += 1;
            }
            Ok((page.models.len(), retried, page.next))
        }
        (BatchKind::IgnoredEventsRetry, BulkQuery::IgnoredEvents(q)) => {
            let page = st.store.list_ignored_events(project, q).await?;
            let mut retried = 0;
            for ig in &page.models {
                let Some(r) = st.store.request(project, &ig.request_id).await? else { continue };
                let connections = crate::routing::connections_for_routing(st, &r.source_id).await?;
                let chosen: Vec<_> = connections.into_iter().filter(|c| c.id == ig.connection_id).collect();
                if chosen.is_empty() {
                    continue;
                }
                crate::routing::reroute(st, &r, &chosen).await?;
                retried += 1;
            }
            Ok((page.models.len(), retried, page.next))
        }
        _ => anyhow::bail!("the query does not fit the operation's kind"),
    }
}
