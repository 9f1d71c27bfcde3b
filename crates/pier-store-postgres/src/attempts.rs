//! Group commit of delivery attempts on PostgreSQL: attempts waiting to be recorded (of
//! distinct events) are written together by one statement (the events updated, the attempts
//! inserted; its own transaction), so a busy destination costs one commit per batch of attempts
//! instead of one per attempt. Retries that became due are announced to the other nodes by a
//! second statement, after the commit.

use crate::batching::{gather, next_first};
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
        let mut carried: Option<Pending> = None;
        while let Some(first) = next_first(&mut carried, &mut rx).await {
            carried = gather_distinct(first, &mut rx, &mut batch, MAX_BATCH);
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

/// Fill `batch` with `first` and what already waits, up to `max` attempts of distinct events
/// (an `UPDATE … FROM` would apply only one of two attempts of one event): a second attempt of
/// an event in the batch is returned, to start the next batch.
fn gather_distinct(
    first: Pending,
    rx: &mut mpsc::UnboundedReceiver<Pending>,
    batch: &mut Vec<Pending>,
    max: usize,
) -> Option<Pending> {
    let mut events = std::collections::HashSet::with_capacity(max);
    gather(first, rx, batch, max, |p| events.insert(p.record.attempt.event_id.clone()))
}

/// The whole batch in one statement (its own transaction): the events are
/// updated first, and an attempt row is inserted only for an event that was updated (a missing
/// event gets none and is reported `NotFound`); the updated events come back.
const WRITE: &str = "WITH x AS (SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], \
       $5::text[], $6::bigint[]) AS x(eid, at, rs, ec, st, nx)), \
     u AS (UPDATE events SET attempts = attempts + 1, last_attempt_at = x.at, response_status = x.rs, \
       error_code = x.ec, \
       status = CASE WHEN x.st = 'SUCCESSFUL' THEN 'SUCCESSFUL' WHEN status IN ('CANCELLED', 'HOLD') THEN status \
         ELSE x.st END, \
       next_attempt_at = CASE WHEN x.st = 'SUCCESSFUL' OR status IN ('CANCELLED', 'HOLD') THEN NULL ELSE x.nx END, \
       successful_at = CASE WHEN x.st = 'SUCCESSFUL' THEN x.at ELSE successful_at END, \
       next_trigger = CASE WHEN x.nx IS NOT NULL THEN 'AUTOMATIC' ELSE next_trigger END, \
       locked_until = NULL, locked_by = NULL, updated_at = x.at \
       FROM x WHERE events.id = x.eid RETURNING events.*), \
     i AS (INSERT INTO attempts (id, project_id, event_id, destination_id, attempt_number, trigger, \
       successful, response_status, error_code, body, requested_url, http_method, delivered_at, responded_at, \
       delivery_latency, response_latency, created_at, updated_at) \
       SELECT * FROM UNNEST($7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], \
         $13::bool[], $14::bigint[], $15::text[], $16::text[], $17::text[], $18::text[], $19::bigint[], \
         $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[]) \
       AS a(id, p, e, d, n, t, ok, rs, ec, b, url, m, da, ra, dl, rl, ca, ua) \
       WHERE a.e IN (SELECT id FROM u)) \
     SELECT ";

/// [`WRITE`] returning the updated events' columns, as `rows::event` reads them.
static WRITE_RETURNING: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{WRITE}{} FROM u", rows::EVENT));

/// Update the events and insert the attempts of those found, with one statement; then tell the
/// other nodes about retries that became due (after the commit).
async fn write(pool: &Pool, records: &[&AttemptRecord]) -> Result<Vec<Option<Event>>, StoreError> {
    let client = pool.get().await.map_err(pool_err)?;
    let attempts: Vec<&pier_core::Attempt> = records.iter().map(|r| &r.attempt).collect();
    let col = |f: fn(&pier_core::Attempt) -> &str| attempts.iter().map(|a| f(a)).collect::<Vec<&str>>();
    let (id, project, event) = (col(|a| &a.id), col(|a| &a.project_id), col(|a| &a.event_id));
    let destination = col(|a| &a.destination_id);
    let at: Vec<i64> = records.iter().map(|r| r.now).collect();
    let status: Vec<&str> = records.iter().map(|r| r.status.as_str()).collect();
    let next: Vec<Option<i64>> = records.iter().map(|r| r.next_attempt_at).collect();
    let opt = |f: fn(&pier_core::Attempt) -> Option<&str>| attempts.iter().map(|a| f(a)).collect::<Vec<_>>();
    let (error_code, body) = (opt(|a| a.error_code.as_deref()), opt(|a| a.body.as_deref()));
    let (url, method) = (opt(|a| a.requested_url.as_deref()), opt(|a| a.http_method.as_deref()));
    let num = |f: fn(&pier_core::Attempt) -> Option<i64>| attempts.iter().map(|a| f(a)).collect::<Vec<_>>();
    let response_status = num(|a| a.response_status);
    let (delivered, responded) = (num(|a| a.delivered_at), num(|a| a.responded_at));
    let (delivery_latency, response_latency) = (num(|a| a.delivery_latency), num(|a| a.response_latency));
    let number: Vec<i64> = attempts.iter().map(|a| a.attempt_number).collect();
    let trigger: Vec<&str> = attempts.iter().map(|a| a.trigger.as_str()).collect();
    let successful: Vec<bool> = attempts.iter().map(|a| a.successful).collect();
    let (created, updated): (Vec<i64>, Vec<i64>) = attempts.iter().map(|a| (a.created_at, a.updated_at)).unzip();
    let st = client.prepare_cached(&WRITE_RETURNING).await.map_err(map_err)?;
    let rows = client
        .query(
            &st,
            &[
                &event,
                &at,
                &response_status,
                &error_code,
                &status,
                &next,
                &id,
                &project,
                &event,
                &destination,
                &number,
                &trigger,
                &successful,
                &response_status,
                &error_code,
                &body,
                &url,
                &method,
                &delivered,
                &responded,
                &delivery_latency,
                &response_latency,
                &created,
                &updated,
            ],
        )
        .await
        .map_err(map_err)?;
    let mut updated: std::collections::HashMap<String, Event> =
        rows.iter().map(|r| rows::event(r).map(|e| (e.id.clone(), e))).collect::<Result<_, _>>()?;
    let events = records.iter().map(|r| updated.remove(&r.attempt.event_id)).collect();
    Ok(notified(&client, events).await)
}

/// Send the due-work notices of the events a retry made due; a lost notice only delays the
/// retry until the next periodic scan, so a failure here is logged, not returned.
async fn notified(client: &deadpool_postgres::Client, events: Vec<Option<Event>>) -> Vec<Option<Event>> {
    if let Err(e) = notify_due(client, &due_payloads(events.iter().flatten())).await {
        tracing::warn!(error = %e, "cannot send the due-work notices; other nodes find the retries by scanning");
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use pier_core::{Attempt, AttemptTrigger, EventStatus};

    fn pending(event: &str) -> Pending {
        let attempt = Attempt {
            id: format!("atm_{event}"),
            project_id: "tm_1".into(),
            event_id: event.into(),
            destination_id: "des_1".into(),
            attempt_number: 1,
            trigger: AttemptTrigger::Initial,
            successful: true,
            response_status: Some(200),
            error_code: None,
            body: None,
            requested_url: None,
            http_method: None,
            delivered_at: None,
            responded_at: None,
            delivery_latency: None,
            response_latency: None,
            created_at: 0,
            updated_at: 0,
        };
        let record = AttemptRecord { attempt, status: EventStatus::Successful, next_attempt_at: None, now: 0 };
        Pending { record, done: oneshot::channel().0 }
    }

    /// The events of the batches `gather` makes of attempts of these events.
    fn batches(events: &[&str], max: usize) -> Vec<Vec<String>> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for e in events {
            tx.send(pending(e)).unwrap();
        }
        let (mut out, mut carried) = (Vec::new(), None);
        while let Some(first) = carried.take().or_else(|| rx.try_recv().ok()) {
            let mut batch = Vec::new();
            carried = gather_distinct(first, &mut rx, &mut batch, max);
            out.push(batch.iter().map(|p| p.record.attempt.event_id.clone()).collect());
        }
        out
    }

    #[test]
    fn a_second_attempt_of_an_event_starts_the_next_batch() {
        let v = |s: &[&str]| s.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert_eq!(batches(&["a", "b", "c"], 256), vec![v(&["a", "b", "c"])]);
        assert_eq!(batches(&["a", "b", "a", "c"], 256), vec![v(&["a", "b"]), v(&["a", "c"])]);
        assert_eq!(batches(&["a", "a", "a"], 256), vec![v(&["a"]), v(&["a"]), v(&["a"])]);
        assert_eq!(batches(&["a", "b", "c"], 2), vec![v(&["a", "b"]), v(&["c"])]);
    }
}
