//! Group commit of delivery attempts on PostgreSQL: attempts waiting to be recorded are written
//! together in one transaction (their statements pipelined on one connection), so a busy
//! destination costs one commit per batch of attempts instead of one per attempt.

use crate::{due_payloads, map_err, notify_due, pool_err, rows};
use deadpool_postgres::Pool;
use pier_core::Event;
use pier_store::{AttemptRecord, StoreError};
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 256;

pub(crate) struct Pending {
    pub record: AttemptRecord,
    pub done: oneshot::Sender<Result<Event, StoreError>>,
}

pub(crate) fn start(pool: Pool) -> mpsc::UnboundedSender<Pending> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Pending>();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            let records: Vec<&AttemptRecord> = batch.iter().map(|p| &p.record).collect();
            match write(&pool, &records).await {
                Ok(events) => {
                    for (p, e) in batch.drain(..).zip(events) {
                        let _ = p.done.send(e.ok_or(StoreError::NotFound));
                    }
                }
                Err(e) => {
                    for p in batch.drain(..) {
                        let r = match &e {
                            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
                            other => StoreError::Internal(other.to_string()),
                        };
                        let _ = p.done.send(Err(r));
                    }
                }
            }
        }
    });
    tx
}

const UPDATE: &str = "UPDATE events SET attempts = attempts + 1, last_attempt_at = $2, response_status = $3, \
     error_code = $4, \
     status = CASE WHEN $5 = 'SUCCESSFUL' THEN 'SUCCESSFUL' WHEN status IN ('CANCELLED', 'HOLD') THEN status ELSE $5 END, \
     next_attempt_at = CASE WHEN $5 = 'SUCCESSFUL' OR status IN ('CANCELLED', 'HOLD') THEN NULL ELSE $6::BIGINT END, \
     successful_at = CASE WHEN $5 = 'SUCCESSFUL' THEN $2 ELSE successful_at END, \
     next_trigger = CASE WHEN $6::BIGINT IS NOT NULL THEN 'AUTOMATIC' ELSE next_trigger END, \
     locked_until = NULL, locked_by = NULL, updated_at = $2 WHERE id = $1 RETURNING ";

const INSERT: &str = "INSERT INTO attempts (id, project_id, event_id, destination_id, attempt_number, trigger, \
     successful, response_status, error_code, body, requested_url, http_method, delivered_at, responded_at, \
     delivery_latency, response_latency, created_at, updated_at) \
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)";

/// Update the events first (a missing one is `None` and gets no attempt row), then insert the
/// attempts of the others; one commit. Statements are pipelined.
async fn write(pool: &Pool, records: &[&AttemptRecord]) -> Result<Vec<Option<Event>>, StoreError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(map_err)?;
    let update = tx.prepare_cached(&format!("{UPDATE}{}", rows::EVENT)).await.map_err(map_err)?;
    let insert = tx.prepare_cached(INSERT).await.map_err(map_err)?;
    let updates = records.iter().map(|rec| {
        let a = &rec.attempt;
        let status = rec.status.as_str();
        let (tx, update) = (&tx, &update);
        async move {
            tx.query_opt(
                update,
                &[&a.event_id, &rec.now, &a.response_status, &a.error_code, &status, &rec.next_attempt_at],
            )
            .await
        }
    });
    let rows_back = futures::future::try_join_all(updates).await.map_err(map_err)?;
    let events: Vec<Option<Event>> =
        rows_back.iter().map(|r| r.as_ref().map(rows::event).transpose()).collect::<Result<_, _>>()?;
    let inserts = records.iter().zip(&events).filter(|(_, e)| e.is_some()).map(|(rec, _)| {
        let a = &rec.attempt;
        let (tx, insert) = (&tx, &insert);
        async move {
            tx.execute(
                insert,
                &[
                    &a.id,
                    &a.project_id,
                    &a.event_id,
                    &a.destination_id,
                    &a.attempt_number,
                    &a.trigger.as_str(),
                    &a.successful,
                    &a.response_status,
                    &a.error_code,
                    &a.body,
                    &a.requested_url,
                    &a.http_method,
                    &a.delivered_at,
                    &a.responded_at,
                    &a.delivery_latency,
                    &a.response_latency,
                    &a.created_at,
                    &a.updated_at,
                ],
            )
            .await
        }
    });
    futures::future::try_join_all(inserts).await.map_err(map_err)?;
    let due: Vec<Event> = events.iter().flatten().cloned().collect();
    notify_due(&tx, &due_payloads(&due)).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(events)
}
