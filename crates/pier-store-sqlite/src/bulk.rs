//! Bookmarks and batch operations on SQLite: rows, upserts, bookmark replay and bulk requeue.

use crate::hot::Hot;
use crate::{map_err, placeholders, rows};
use pier_core::{AttemptTrigger, BatchKind, BatchOperation, Bookmark, Event, Request};
use pier_store::{Routing, StoreError};
use rusqlite::{params, params_from_iter, Row, Transaction};

pub(crate) const BOOKMARK: &str =
    "id, project_id, connection_id, request_id, label, name, last_used_at, created_at, updated_at";
pub(crate) const BATCH: &str = "id, project_id, query, cursor, estimated_count, processed_batch, completed_count, \
     failed_count, cancelled_at, completed_at, created_at, updated_at, kind";

pub(crate) fn bookmark(r: &Row<'_>) -> rusqlite::Result<Bookmark> {
    Ok(Bookmark {
        id: r.get(0)?,
        project_id: r.get(1)?,
        connection_id: r.get(2)?,
        request_id: r.get(3)?,
        label: r.get(4)?,
        name: r.get(5)?,
        last_used_at: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

pub(crate) fn batch(r: &Row<'_>) -> rusqlite::Result<BatchOperation> {
    Ok(BatchOperation {
        id: r.get(0)?,
        project_id: r.get(1)?,
        query: r.get(2)?,
        cursor: r.get(3)?,
        estimated_count: r.get(4)?,
        processed_batch: r.get(5)?,
        completed_count: r.get(6)?,
        failed_count: r.get(7)?,
        cancelled_at: r.get(8)?,
        completed_at: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        kind: {
            let k: String = r.get(12)?;
            BatchKind::parse(&k).unwrap_or(BatchKind::EventsRetry)
        },
    })
}

pub(crate) fn put_bookmark(tx: &Transaction<'_>, b: &Bookmark) -> Result<(), StoreError> {
    tx.prepare_cached(&format!(
        "INSERT INTO bookmarks ({BOOKMARK}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(id) DO UPDATE SET \
         connection_id = excluded.connection_id, request_id = excluded.request_id, label = excluded.label, \
         name = excluded.name, last_used_at = excluded.last_used_at, updated_at = excluded.updated_at"
    ))
    .map_err(map_err)?
    .execute(params![
        b.id,
        b.project_id,
        b.connection_id,
        b.request_id,
        b.label,
        b.name,
        b.last_used_at,
        b.created_at,
        b.updated_at
    ])
    .map_err(map_err)?;
    Ok(())
}

pub(crate) fn trigger_bookmark(
    tx: &Transaction<'_>,
    hot: &mut Hot<'_>,
    bookmark_id: &str,
    request: &Request,
    event: Event,
) -> Result<(), StoreError> {
    let now = event.created_at;
    let n = tx
        .execute(
            "UPDATE bookmarks SET last_used_at = ?2, updated_at = ?2 WHERE id = ?1 AND project_id = ?3",
            params![bookmark_id, now, request.project_id],
        )
        .map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    rows::insert_request(hot, request, &rows::to_json(&request.headers)?)?;
    let routing = Routing { request_id: request.id.clone(), events: vec![event], now, ..Routing::default() };
    rows::complete_routing(tx, hot, &routing)
}

pub(crate) fn put_batch(tx: &Transaction<'_>, b: &BatchOperation) -> Result<(), StoreError> {
    tx.prepare_cached(&format!(
        "INSERT INTO batch_operations ({BATCH}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13) \
         ON CONFLICT(id) DO UPDATE SET cursor = excluded.cursor, estimated_count = excluded.estimated_count, \
         processed_batch = excluded.processed_batch, completed_count = excluded.completed_count, \
         failed_count = excluded.failed_count, cancelled_at = COALESCE(batch_operations.cancelled_at, excluded.cancelled_at), \
         completed_at = excluded.completed_at, updated_at = excluded.updated_at"
    ))
    .map_err(map_err)?
    .execute(params![
        b.id,
        b.project_id,
        b.query,
        b.cursor,
        b.estimated_count,
        b.processed_batch,
        b.completed_count,
        b.failed_count,
        b.cancelled_at,
        b.completed_at,
        b.created_at,
        b.updated_at,
        b.kind.as_str()
    ])
    .map_err(map_err)?;
    Ok(())
}

pub(crate) fn requeue(
    tx: &Transaction<'_>,
    project_id: &str,
    ids: &[String],
    trigger: AttemptTrigger,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE events SET status = 'QUEUED', next_attempt_at = ?2, next_trigger = ?3, updated_at = ?2 \
         WHERE project_id = ?1 AND status <> 'HOLD' AND (locked_until IS NULL OR locked_until < ?2) \
         AND id IN ({}) RETURNING destination_id",
        placeholders(ids.len(), 4)
    );
    let mut args: Vec<rusqlite::types::Value> =
        vec![project_id.to_string().into(), now.into(), trigger.as_str().to_string().into()];
    args.extend(ids.iter().map(|i| i.clone().into()));
    let mut st = tx.prepare(&sql).map_err(map_err)?;
    let dests = st
        .query_map(params_from_iter(args), |r| r.get::<_, String>(0))
        .map_err(map_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(map_err)?;
    Ok(dests)
}

/// Retention: delete up to `limit` old requests with nothing pending, and what hangs off them.
pub(crate) fn purge(tx: &Transaction<'_>, project_id: &str, before: i64, limit: u32) -> Result<u64, StoreError> {
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT r.id FROM requests r WHERE r.project_id = ?1 AND r.created_at < ?2 \
             AND NOT EXISTS (SELECT 1 FROM events e WHERE e.request_id = r.id \
                 AND (e.next_attempt_at IS NOT NULL OR e.status = 'HOLD' OR e.locked_until IS NOT NULL)) \
             AND NOT EXISTS (SELECT 1 FROM bookmarks b WHERE b.request_id = r.id) \
             ORDER BY r.created_at LIMIT ?3",
        )
        .map_err(map_err)?
        .query_map(params![project_id, before, limit], |r| r.get(0))
        .map_err(map_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(map_err)?;
    tx.prepare_cached(
        "DELETE FROM dedup_keys WHERE expires_at < ?2 AND connection_id IN \
         (SELECT id FROM connections WHERE project_id = ?1)",
    )
    .map_err(map_err)?
    .execute(params![project_id, before])
    .map_err(map_err)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let marks = placeholders(ids.len(), 1);
    let events = format!("SELECT id FROM events WHERE request_id IN ({marks})");
    for sql in [
        format!("DELETE FROM attempts WHERE event_id IN ({events})"),
        format!("DELETE FROM event_data WHERE event_id IN ({events})"),
        format!("DELETE FROM events WHERE request_id IN ({marks})"),
        format!("DELETE FROM ignored_events WHERE request_id IN ({marks})"),
        format!("DELETE FROM transformation_executions WHERE request_id IN ({marks})"),
        format!("DELETE FROM requests WHERE id IN ({marks})"),
    ] {
        tx.execute(&sql, params_from_iter(ids.iter())).map_err(map_err)?;
    }
    Ok(ids.len() as u64)
}
