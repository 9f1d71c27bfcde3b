//! Group commit of ingest on PostgreSQL: requests waiting to be stored are inserted together,
//! with the events and ignored events of those routed at ingest, by one statement (one
//! `UNNEST` insert per table, one round trip, its own transaction), and each caller is answered
//! only after that commit.

use crate::batching::{gather, next_first, OwnConnection};
use crate::{map_err, rows::to_json};
use deadpool_postgres::Pool;
use pier_core::Request;
use pier_store::{Routing, StoreError};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;

const MAX_BATCH: usize = 1000;
/// The most body bytes one batch carries: PostgreSQL refuses a value (the `bytea[]` of the
/// bodies) or a message over 1 GB, and the client copies every body into the statement — so a
/// burst of large bodies is stored in several batches rather than failing together.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// The requests' insert (`$1`…`$16`), shared by the batch statements and [`insert_requests`].
macro_rules! insert_requests_sql {
    () => {
        "INSERT INTO requests (id, project_id, source_id, method, path, query, headers, body, body_size, \
         original_ip, verified, rejection_cause, routed, ingested_at, created_at, updated_at, events_count, \
         ignored_count) \
         SELECT i, p, s, m, pa, q, h, b, sz, ip, v, c, r, t, t, t, ec, ic FROM UNNEST($1::text[], $2::text[], \
         $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bigint[], $10::text[], \
         $11::bool[], $12::text[], $13::bool[], $14::bigint[], $15::bigint[], $16::bigint[]) \
         AS x(i, p, s, m, pa, q, h, b, sz, ip, v, c, r, t, ec, ic)"
    };
}

/// The events' insert (`$17`…`$25`): held when their connection is paused by the time of the commit.
macro_rules! insert_events_sql {
    () => {
        "INSERT INTO events (id, project_id, request_id, connection_id, source_id, destination_id, status, \
         attempts, next_attempt_at, created_at, updated_at, next_trigger) \
         SELECT x.i, x.p, x.r, x.c, x.s, x.d, \
           CASE WHEN cn.paused_at IS NOT NULL THEN 'HOLD' WHEN x.st = 'HOLD' THEN 'QUEUED' ELSE x.st END, 0, \
           CASE WHEN cn.paused_at IS NOT NULL THEN NULL WHEN x.st = 'HOLD' THEN x.t ELSE x.n END, \
           x.t, x.t, 'INITIAL' \
         FROM UNNEST($17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], \
           $24::bigint[], $25::bigint[]) AS x(i, p, r, c, s, d, st, n, t) \
         LEFT JOIN connections cn ON cn.id = x.c"
    };
}

pub(crate) struct Pending {
    pub request: Request,
    /// Set when the request was routed at ingest (it is stored routed, with these rows).
    pub routing: Option<Routing>,
    pub done: oneshot::Sender<Result<(), StoreError>>,
}

impl Pending {
    fn body_len(&self) -> usize {
        self.request.body_len()
    }
}

pub(crate) fn start(pool: Pool) -> mpsc::UnboundedSender<Pending> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Pending>();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut carried: Option<Pending> = None;
        let mut conn = OwnConnection::new(pool);
        while let Some(first) = next_first(&mut carried, &mut rx).await {
            carried = gather_bodies(first, &mut rx, &mut batch, MAX_BATCH, MAX_BATCH_BYTES);
            let result = match conn.get().await {
                Ok(client) => insert(client, &batch).await,
                Err(e) => Err(e),
            };
            if result.is_err() {
                conn.give_up();
            }
            for p in batch.drain(..) {
                let r = match &result {
                    Ok(()) => Ok(()),
                    Err(StoreError::Unavailable(m)) => Err(StoreError::Unavailable(m.clone())),
                    Err(e) => Err(StoreError::Internal(e.to_string())),
                };
                let _ = p.done.send(r);
            }
        }
    });
    tx
}

/// Fill `batch` with `first` and what already waits, up to `max` requests and `max_bytes` of
/// bodies (`first` always goes in, however large). The request that would pass the byte limit
/// is returned: it starts the next batch.
fn gather_bodies(
    first: Pending,
    rx: &mut mpsc::UnboundedReceiver<Pending>,
    batch: &mut Vec<Pending>,
    max: usize,
    max_bytes: usize,
) -> Option<Pending> {
    let mut bytes = 0;
    gather(first, rx, batch, max, |p| {
        bytes += p.body_len();
        bytes <= max_bytes
    })
}

/// The whole batch in one statement, so one round trip: data-modifying `WITH` clauses insert
/// the requests, the events (held when their connection is paused) and the ignored events, and
/// the outer `SELECT` sends the due-work notices. Outside a transaction block the statement is
/// its own transaction, committed before PostgreSQL answers (tokio-postgres waits for
/// `ReadyForQuery`, which follows the commit), so every caller is answered after its commit.
///
/// The events and ignored events are plain inserts, not `ON CONFLICT DO NOTHING` as where the
/// routing worker routes a stored request: these belong to requests inserted by the same
/// statement, so none can exist yet, and an arbiter would cost every row a pre-check of the
/// unique index, a speculative insertion and a second WAL record to confirm it. Measured with
/// the batcher's connection prepared by `RAISE_TRIM_THRESHOLD`, against arbiters on every
/// insert: with three nodes, PostgreSQL's CPU per request 10-17 % lower and the nodes 2-11 %
/// faster; one node within the noise (docs/BENCHMARKS.md, fourteenth session).
const INSERT_BATCH: &str = concat!(
    "WITH r AS (",
    insert_requests_sql!(),
    "), e AS (",
    insert_events_sql!(),
    "), g AS (INSERT INTO ignored_events (id, project_id, request_id, connection_id, cause, meta, created_at, \
     updated_at) SELECT i, p, r, c, ca, m, t, t FROM UNNEST($26::text[], $27::text[], $28::text[], \
     $29::text[], $30::text[], $31::text[], $32::bigint[]) AS x(i, p, r, c, ca, m, t)) \
     SELECT pg_notify('pier_due', n) FROM UNNEST($33::text[]) AS n"
);

/// [`INSERT_BATCH`] for a batch without ignored events (the usual one): a statement touches
/// fewer tables and indexes, each opened and locked every time it runs.
const INSERT_BATCH_NO_IGNORED: &str = concat!(
    "WITH r AS (",
    insert_requests_sql!(),
    "), e AS (",
    insert_events_sql!(),
    ") SELECT pg_notify('pier_due', n) FROM UNNEST($26::text[]) AS n"
);

async fn insert(client: &deadpool_postgres::Object, batch: &[Pending]) -> Result<(), StoreError> {
    let requests: Vec<&Request> = batch.iter().map(|p| &p.request).collect();
    let requests = RequestColumns::of(&requests)?;
    let routings: Vec<&Routing> = batch.iter().filter_map(|p| p.routing.as_ref()).collect();
    let events: Vec<&pier_core::Event> = routings.iter().flat_map(|r| r.events.iter()).collect();
    let notices = crate::due_payloads(events.iter().copied());
    let events = EventColumns::of(&events);
    let ignored: Vec<&pier_core::IgnoredEvent> = routings.iter().flat_map(|r| r.ignored.iter()).collect();
    let ignored = IgnoredColumns::of(&ignored)?;
    let mut params = requests.params();
    params.extend(events.params());
    let sql = if ignored.id.is_empty() {
        INSERT_BATCH_NO_IGNORED
    } else {
        params.extend(ignored.params());
        INSERT_BATCH
    };
    params.push(&notices);
    let st = client.prepare_cached(sql).await.map_err(map_err)?;
    client.query(&st, &params).await.map_err(map_err)?;
    Ok(())
}

type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;

/// Requests as one array per column, for an `UNNEST` insert.
struct RequestColumns<'a> {
    id: Vec<&'a str>,
    project: Vec<&'a str>,
    source: Vec<&'a str>,
    method: Vec<&'a str>,
    path: Vec<&'a str>,
    query: Vec<&'a str>,
    headers: Vec<String>,
    body: Vec<Option<&'a [u8]>>,
    size: Vec<i64>,
    ip: Vec<Option<&'a str>>,
    verified: Vec<bool>,
    cause: Vec<Option<&'static str>>,
    routed: Vec<bool>,
    at: Vec<i64>,
    events_count: Vec<i64>,
    ignored_count: Vec<i64>,
}

impl<'a> RequestColumns<'a> {
    fn of(batch: &[&'a Request]) -> Result<Self, StoreError> {
        Ok(RequestColumns {
            id: batch.iter().map(|r| r.id.as_str()).collect(),
            project: batch.iter().map(|r| r.project_id.as_str()).collect(),
            source: batch.iter().map(|r| r.source_id.as_str()).collect(),
            method: batch.iter().map(|r| r.method.as_str()).collect(),
            path: batch.iter().map(|r| r.path.as_str()).collect(),
            query: batch.iter().map(|r| r.query.as_str()).collect(),
            headers: batch.iter().map(|r| to_json(&r.headers)).collect::<Result<_, _>>()?,
            body: batch.iter().map(|r| r.body.as_deref()).collect(),
            size: batch.iter().map(|r| r.body_size).collect(),
            ip: batch.iter().map(|r| r.original_ip.as_deref()).collect(),
            verified: batch.iter().map(|r| r.verified).collect(),
            cause: batch.iter().map(|r| r.rejection_cause.map(|c| c.as_str())).collect(),
            routed: batch.iter().map(|r| r.routed).collect(),
            at: batch.iter().map(|r| r.ingested_at).collect(),
            events_count: batch.iter().map(|r| r.events_count).collect(),
            ignored_count: batch.iter().map(|r| r.ignored_count).collect(),
        })
    }
    /// In the order of `$1`…`$16` above and in `insert_requests`.
    fn params(&self) -> Params<'_> {
        vec![
            &self.id,
            &self.project,
            &self.source,
            &self.method,
            &self.path,
            &self.query,
            &self.headers,
            &self.body,
            &self.size,
            &self.ip,
            &self.verified,
            &self.cause,
            &self.routed,
            &self.at,
            &self.events_count,
            &self.ignored_count,
        ]
    }
}

/// Events routed at ingest as one array per column (`$17`…`$25`).
struct EventColumns<'a> {
    id: Vec<&'a str>,
    project: Vec<&'a str>,
    request: Vec<&'a str>,
    connection: Vec<&'a str>,
    source: Vec<&'a str>,
    destination: Vec<&'a str>,
    status: Vec<&'static str>,
    next: Vec<Option<i64>>,
    at: Vec<i64>,
}

impl<'a> EventColumns<'a> {
    fn of(events: &[&'a pier_core::Event]) -> Self {
        EventColumns {
            id: events.iter().map(|e| e.id.as_str()).collect(),
            project: events.iter().map(|e| e.project_id.as_str()).collect(),
            request: events.iter().map(|e| e.request_id.as_str()).collect(),
            connection: events.iter().map(|e| e.connection_id.as_str()).collect(),
            source: events.iter().map(|e| e.source_id.as_str()).collect(),
            destination: events.iter().map(|e| e.destination_id.as_str()).collect(),
            status: events.iter().map(|e| e.status.as_str()).collect(),
            next: events.iter().map(|e| e.next_attempt_at).collect(),
            at: events.iter().map(|e| e.created_at).collect(),
        }
    }
    fn params(&self) -> Params<'_> {
        vec![
            &self.id,
            &self.project,
            &self.request,
            &self.connection,
            &self.source,
            &self.destination,
            &self.status,
            &self.next,
            &self.at,
        ]
    }
}

/// Ignored events routed at ingest as one array per column (`$26`…`$32`).
struct IgnoredColumns<'a> {
    id: Vec<&'a str>,
    project: Vec<&'a str>,
    request: Vec<&'a str>,
    connection: Vec<&'a str>,
    cause: Vec<&'static str>,
    meta: Vec<Option<String>>,
    at: Vec<i64>,
}

impl<'a> IgnoredColumns<'a> {
    fn of(ignored: &[&'a pier_core::IgnoredEvent]) -> Result<Self, StoreError> {
        Ok(IgnoredColumns {
            id: ignored.iter().map(|e| e.id.as_str()).collect(),
            project: ignored.iter().map(|e| e.project_id.as_str()).collect(),
            request: ignored.iter().map(|e| e.request_id.as_str()).collect(),
            connection: ignored.iter().map(|e| e.connection_id.as_str()).collect(),
            cause: ignored.iter().map(|e| e.cause.as_str()).collect(),
            meta: ignored.iter().map(|e| e.meta.as_ref().map(to_json).transpose()).collect::<Result<_, _>>()?,
            at: ignored.iter().map(|e| e.created_at).collect(),
        })
    }
    fn params(&self) -> Params<'_> {
        vec![&self.id, &self.project, &self.request, &self.connection, &self.cause, &self.meta, &self.at]
    }
}

/// Insert requests with one statement inside `tx` (a bookmark's trigger).
pub(crate) async fn insert_requests(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[&Request],
) -> Result<(), StoreError> {
    let columns = RequestColumns::of(batch)?;
    let st = tx.prepare_cached(insert_requests_sql!()).await.map_err(map_err)?;
    tx.execute(&st, &columns.params()).await.map_err(map_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(body: usize) -> Pending {
        let request = Request {
            id: format!("req_{body}"),
            project_id: "tm_1".into(),
            source_id: "src_1".into(),
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers: vec![],
            body: Some(bytes::Bytes::from(vec![b'x'; body])),
            body_size: body as i64,
            original_ip: None,
            verified: false,
            rejection_cause: None,
            events_count: 0,
            ignored_count: 0,
            cli_events_count: 0,
            routed: false,
            ingested_at: 0,
            created_at: 0,
            updated_at: 0,
        };
        Pending { request, routing: None, done: oneshot::channel().0 }
    }

    /// The sizes of the batches `gather` makes of requests with these body sizes.
    fn batches(bodies: &[usize], max: usize, max_bytes: usize) -> Vec<Vec<usize>> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for &b in bodies {
            tx.send(pending(b)).unwrap();
        }
        let (mut out, mut carried) = (Vec::new(), None);
        while let Some(first) = carried.take().or_else(|| rx.try_recv().ok()) {
            let mut batch = Vec::new();
            carried = gather_bodies(first, &mut rx, &mut batch, max, max_bytes);
            out.push(batch.iter().map(Pending::body_len).collect());
        }
        out
    }

    #[test]
    fn batches_stop_at_the_byte_limit_and_the_next_starts_with_the_request_left_over() {
        assert_eq!(batches(&[40, 40, 40, 40, 40], 1000, 100), vec![vec![40, 40], vec![40, 40], vec![40]]);
        // A body larger than the limit still goes, alone.
        assert_eq!(batches(&[10, 500, 10, 10], 1000, 100), vec![vec![10], vec![500], vec![10, 10]]);
        assert_eq!(batches(&[1, 1, 1, 1, 1], 2, 100), vec![vec![1, 1], vec![1, 1], vec![1]]);
        assert_eq!(batches(&[50, 50, 0, 0], 1000, 100), vec![vec![50, 50, 0, 0]]);
    }
}
