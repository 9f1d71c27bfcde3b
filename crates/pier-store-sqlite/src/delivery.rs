//! Delivery writes and reads on SQLite: leases on due events, attempts, pause and cancel.

use crate::hot::Hot;
use crate::map_err;
use crate::rows;
use pier_core::{Attempt, AttemptTrigger, Event};
use pier_store::{AttemptRecord, StoreError};
use rusqlite::{params, OptionalExtension, Row, Transaction};

/// The condition of a deliverable event (matches the partial index `events_due`).
pub(crate) const DELIVERABLE: &str = "next_attempt_at IS NOT NULL AND status <> 'HOLD'";

pub(crate) const DUE_DESTINATIONS: &str = "SELECT project_id, destination_id, MIN(next_attempt_at) FROM events \
     WHERE next_attempt_at IS NOT NULL AND status <> 'HOLD' AND (locked_until IS NULL OR locked_until < ?1) \
     GROUP BY project_id, destination_id";

pub(crate) const NEXT_DUE: &str = "SELECT MIN(next_attempt_at) FROM events \
     WHERE destination_id = ?1 AND next_attempt_at IS NOT NULL AND status <> 'HOLD' \
     AND (locked_until IS NULL OR locked_until < ?2)";

/// Lease due events of one destination; returns (event id, trigger).
///
/// The lease sets only columns outside the indexes; the rare scheduled event (a delay rule)
/// becomes queued in a second statement, so claiming rewrites no index entry. The claim stops
/// before the bodies of the events it holds pass `max_bytes`.
pub(crate) fn claim_due(
    tx: &Transaction<'_>,
    destination_id: &str,
    now: i64,
    limit: u32,
    max_bytes: i64,
    lease_until: i64,
    node: &str,
) -> Result<Vec<(String, AttemptTrigger)>, StoreError> {
    let mut st = tx
        .prepare_cached(
            "UPDATE events SET locked_until = ?4, locked_by = ?5 \
             WHERE id IN (SELECT id FROM (SELECT e.id, \
                     SUM(r.body_size) OVER (ORDER BY e.next_attempt_at, e.id ROWS UNBOUNDED PRECEDING) AS total \
                 FROM (SELECT id, request_id, next_attempt_at FROM events WHERE destination_id = ?1 \
                     AND next_attempt_at IS NOT NULL AND status <> 'HOLD' \
                     AND next_attempt_at <= ?2 AND (locked_until IS NULL OR locked_until < ?2) \
                     ORDER BY next_attempt_at LIMIT ?3) e \
                 JOIN requests r ON r.id = e.request_id) WHERE total <= ?6) \
             RETURNING id, next_trigger, status = 'SCHEDULED'",
        )
        .map_err(map_err)?;
    let rows = st
        .query_map(params![destination_id, now, limit, lease_until, node, max_bytes], |r| {
            let trigger: Option<String> = r.get(1)?;
            Ok((
                r.get::<_, String>(0)?,
                trigger.and_then(|t| AttemptTrigger::parse(&t)).unwrap_or(AttemptTrigger::Initial),
                r.get::<_, bool>(2)?,
            ))
        })
        .map_err(map_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(map_err)?;
    let mut queue = tx.prepare_cached("UPDATE events SET status = 'QUEUED' WHERE id = ?1").map_err(map_err)?;
    for (id, _, _) in rows.iter().filter(|(_, _, scheduled)| *scheduled) {
        queue.execute([id]).map_err(map_err)?;
    }
    Ok(rows.into_iter().map(|(id, trigger, _)| (id, trigger)).collect())
}

/// Lease one event for a manual retry. `Ok(None)`: not in the project.
pub(crate) fn claim_one(
    tx: &Transaction<'_>,
    project_id: &str,
    event_id: &str,
    trigger: AttemptTrigger,
    now: i64,
    lease_until: i64,
    node: &str,
) -> Result<Option<String>, StoreError> {
    let lock: Option<Option<i64>> = tx
        .query_row(
            "SELECT locked_until FROM events WHERE project_id = ?1 AND id = ?2",
            params![project_id, event_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    match lock {
        None => Ok(None),
        Some(Some(until)) if until >= now => {
            Err(StoreError::Conflict("this event is being delivered right now; retry when the attempt finishes".into()))
        }
        Some(_) => {
            tx.execute(
                "UPDATE events SET locked_until = ?1, locked_by = ?2, next_trigger = ?3 WHERE id = ?4",
                params![lease_until, node, trigger.as_str(), event_id],
            )
            .map_err(map_err)?;
            Ok(Some(event_id.to_string()))
        }
    }
}

/// Store an attempt and the event's new state. The event is updated first, so a missing event
/// fails (`NotFound`) before anything is written (the writer runs this without a savepoint).
pub(crate) fn record_attempt(hot: &mut Hot<'_>, rec: &AttemptRecord) -> Result<Event, StoreError> {
    let a = &rec.attempt;
    // Not `UPDATE … RETURNING`: SQLite keeps a RETURNING statement's rows in a temporary table,
    // which costs more than reading the row back (in the writer's page cache).
    let changed = hot
        .stmt(
            "UPDATE events SET attempts = attempts + 1, last_attempt_at = ?2, response_status = ?3, error_code = ?4, \
             status = CASE WHEN ?5 = 'SUCCESSFUL' THEN 'SUCCESSFUL' WHEN status IN ('CANCELLED', 'HOLD') THEN status ELSE ?5 END, \
             next_attempt_at = CASE WHEN ?5 = 'SUCCESSFUL' OR status IN ('CANCELLED', 'HOLD') THEN NULL ELSE ?6 END, \
             successful_at = CASE WHEN ?5 = 'SUCCESSFUL' THEN ?2 ELSE successful_at END, \
             next_trigger = CASE WHEN ?6 IS NOT NULL THEN 'AUTOMATIC' ELSE next_trigger END, \
             locked_until = NULL, locked_by = NULL, updated_at = ?2 \
             WHERE id = ?1",
        )?
        .execute(params![a.event_id, rec.now, a.response_status, a.error_code, rec.status.as_str(), rec.next_attempt_at])
        .map_err(map_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    let event = hot.stmt(rows::EVENT_BY_ID_ONLY)?.query_row([&a.event_id], rows::event).map_err(map_err)?;
    hot.stmt(
        "INSERT INTO attempts (id, project_id, event_id, destination_id, attempt_number, trigger, successful, \
         response_status, error_code, body, requested_url, http_method, delivered_at, responded_at, delivery_latency, \
         response_latency, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
    )?
    .execute(params![
        a.id,
        a.project_id,
        a.event_id,
        a.destination_id,
        a.attempt_number,
        a.trigger.as_str(),
        a.successful,
        a.response_status,
        a.error_code,
        a.body,
        a.requested_url,
        a.http_method,
        a.delivered_at,
        a.responded_at,
        a.delivery_latency,
        a.response_latency,
        a.created_at,
        a.updated_at
    ])
    .map_err(map_err)?;
    Ok(event)
}

/// Rows changed per write by [`hold`] and [`release_held`].
pub(crate) const CHUNK: u64 = 5_000;

/// Hold up to `limit` deliverable events of a connection; returns how many.
pub(crate) fn hold(
    tx: &Transaction<'_>,
    project_id: &str,
    connection_id: &str,
    now: i64,
    limit: u64,
) -> Result<u64, StoreError> {
    let n = tx
        .prepare_cached(&format!(
            "UPDATE events SET status = 'HOLD', next_attempt_at = NULL, updated_at = ?3 WHERE rowid IN \
             (SELECT rowid FROM events WHERE project_id = ?1 AND connection_id = ?2 AND {DELIVERABLE} LIMIT ?4)"
        ))
        .map_err(map_err)?
        .execute(params![project_id, connection_id, now, limit as i64])
        .map_err(map_err)?;
    Ok(n as u64)
}

/// Make up to `limit` held events of a connection due now (trigger `UNPAUSE`); returns how many
/// and their distinct destinations.
pub(crate) fn release_held(
    tx: &Transaction<'_>,
    project_id: &str,
    connection_id: &str,
    now: i64,
    limit: u64,
) -> Result<(u64, Vec<String>), StoreError> {
    let dests = tx
        .prepare_cached(
            "SELECT DISTINCT destination_id FROM (SELECT destination_id FROM events WHERE project_id = ?1 \
             AND connection_id = ?2 AND status = 'HOLD' LIMIT ?3)",
        )
        .map_err(map_err)?
        .query_map(params![project_id, connection_id, limit as i64], |r| r.get::<_, String>(0))
        .map_err(map_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(map_err)?;
    let n = tx
        .prepare_cached(
            "UPDATE events SET status = 'QUEUED', next_attempt_at = ?3, next_trigger = 'UNPAUSE', updated_at = ?3 \
             WHERE rowid IN (SELECT rowid FROM events WHERE project_id = ?1 AND connection_id = ?2 \
             AND status = 'HOLD' LIMIT ?4)",
        )
        .map_err(map_err)?
        .execute(params![project_id, connection_id, now, limit as i64])
        .map_err(map_err)?;
    Ok((n as u64, dests))
}

pub(crate) fn cancel(
    tx: &Transaction<'_>,
    project_id: &str,
    event_id: &str,
    now: i64,
) -> Result<Option<Event>, StoreError> {
    let sql = format!(
        "UPDATE events SET status = CASE WHEN status = 'SUCCESSFUL' THEN status ELSE 'CANCELLED' END, \
         next_attempt_at = CASE WHEN status = 'SUCCESSFUL' THEN next_attempt_at ELSE NULL END, updated_at = ?3 \
         WHERE project_id = ?1 AND id = ?2 RETURNING {}",
        rows::EVENT_COLUMNS
    );
    tx.prepare_cached(&sql)
        .map_err(map_err)?
        .query_row(params![project_id, event_id, now], rows::event)
        .optional()
        .map_err(map_err)
}

pub(crate) const ATTEMPT_COLUMNS: &str =
    "id, project_id, event_id, destination_id, attempt_number, trigger, successful, \
     response_status, error_code, body, requested_url, http_method, delivered_at, responded_at, delivery_latency, \
     response_latency, created_at, updated_at";

pub(crate) fn attempt(r: &Row<'_>) -> rusqlite::Result<Attempt> {
    let trigger: String = r.get(5)?;
    Ok(Attempt {
        id: r.get(0)?,
        project_id: r.get(1)?,
        event_id: r.get(2)?,
        destination_id: r.get(3)?,
        attempt_number: r.get(4)?,
        trigger: AttemptTrigger::parse(&trigger).unwrap_or(AttemptTrigger::Initial),
        successful: r.get(6)?,
        response_status: r.get(7)?,
        error_code: r.get(8)?,
        body: r.get(9)?,
        requested_url: r.get(10)?,
        http_method: r.get(11)?,
        delivered_at: r.get(12)?,
        responded_at: r.get(13)?,
        delivery_latency: r.get(14)?,
        response_latency: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
    })
}
