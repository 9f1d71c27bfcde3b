//! Group commit of ingest on PostgreSQL: requests waiting to be stored are inserted together
//! (one multi-row `INSERT … SELECT FROM UNNEST(…)`) in one transaction, with the events and
//! ignored events of those routed at ingest (one `UNNEST` insert each), and each caller is
//! answered only after that commit.

use crate::{map_err, pool_err, rows::to_json};
use deadpool_postgres::Pool;
use pier_core::Request;
use pier_store::{Routing, StoreError};
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 1000;

pub(crate) struct Pending {
    pub request: Request,
    /// Set when the request was routed at ingest (it is stored routed, with these rows).
    pub routing: Option<Routing>,
    pub done: oneshot::Sender<Result<(), StoreError>>,
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
            let result = insert(&pool, &batch).await;
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

async fn insert(pool: &Pool, batch: &[Pending]) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(map_err)?;
    let requests: Vec<&Request> = batch.iter().map(|p| &p.request).collect();
    insert_requests(&tx, &requests).await?;
    let routings: Vec<&Routing> = batch.iter().filter_map(|p| p.routing.as_ref()).collect();
    if !routings.is_empty() {
        insert_routings(&tx, &routings).await?;
    }
    tx.commit().await.map_err(map_err)
}

/// The events and ignored events of requests routed at ingest (filters and delays only: no
/// transformed data or executions), with one statement each; events of a paused connection
/// are held.
async fn insert_routings(tx: &deadpool_postgres::Transaction<'_>, routings: &[&Routing]) -> Result<(), StoreError> {
    let events: Vec<&pier_core::Event> = routings.iter().flat_map(|r| r.events.iter()).collect();
    if !events.is_empty() {
        let col = |f: fn(&pier_core::Event) -> &str| events.iter().map(|e| f(e)).collect::<Vec<&str>>();
        let (id, project, request) = (col(|e| &e.id), col(|e| &e.project_id), col(|e| &e.request_id));
        let (conn, source, dest) = (col(|e| &e.connection_id), col(|e| &e.source_id), col(|e| &e.destination_id));
        let status: Vec<&str> = events.iter().map(|e| e.status.as_str()).collect();
        let next: Vec<Option<i64>> = events.iter().map(|e| e.next_attempt_at).collect();
        let at: Vec<i64> = events.iter().map(|e| e.created_at).collect();
        let st = tx
            .prepare_cached(
                "INSERT INTO events (id, project_id, request_id, connection_id, source_id, destination_id, status, \
                 attempts, next_attempt_at, created_at, updated_at, next_trigger) \
                 SELECT x.i, x.p, x.r, x.c, x.s, x.d, \
                   CASE WHEN cn.paused_at IS NOT NULL THEN 'HOLD' WHEN x.st = 'HOLD' THEN 'QUEUED' ELSE x.st END, 0, \
                   CASE WHEN cn.paused_at IS NOT NULL THEN NULL WHEN x.st = 'HOLD' THEN x.t ELSE x.n END, \
                   x.t, x.t, 'INITIAL' \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                   $8::bigint[], $9::bigint[]) AS x(i, p, r, c, s, d, st, n, t) \
                 LEFT JOIN connections cn ON cn.id = x.c \
                 ON CONFLICT (request_id, connection_id) DO NOTHING",
            )
            .await
            .map_err(map_err)?;
        tx.execute(&st, &[&id, &project, &request, &conn, &source, &dest, &status, &next, &at])
            .await
            .map_err(map_err)?;
        let owned: Vec<pier_core::Event> = events.iter().map(|e| (*e).clone()).collect();
        crate::notify_due(tx, &crate::due_payloads(&owned)).await?;
    }
    let ignored: Vec<&pier_core::IgnoredEvent> = routings.iter().flat_map(|r| r.ignored.iter()).collect();
    if !ignored.is_empty() {
        let col = |f: fn(&pier_core::IgnoredEvent) -> &str| ignored.iter().map(|e| f(e)).collect::<Vec<&str>>();
        let (id, project, request, conn) =
            (col(|e| &e.id), col(|e| &e.project_id), col(|e| &e.request_id), col(|e| &e.connection_id));
        let cause: Vec<&str> = ignored.iter().map(|e| e.cause.as_str()).collect();
        let meta: Vec<Option<String>> =
            ignored.iter().map(|e| e.meta.as_ref().map(to_json).transpose()).collect::<Result<_, _>>()?;
        let at: Vec<i64> = ignored.iter().map(|e| e.created_at).collect();
        let st = tx
            .prepare_cached(
                "INSERT INTO ignored_events (id, project_id, request_id, connection_id, cause, meta, created_at, \
                 updated_at) SELECT i, p, r, c, ca, m, t, t FROM UNNEST($1::text[], $2::text[], $3::text[], \
                 $4::text[], $5::text[], $6::text[], $7::bigint[]) AS x(i, p, r, c, ca, m, t) \
                 ON CONFLICT (request_id, connection_id) DO NOTHING",
            )
            .await
            .map_err(map_err)?;
        tx.execute(&st, &[&id, &project, &request, &conn, &cause, &meta, &at]).await.map_err(map_err)?;
    }
    Ok(())
}

/// Insert requests with one statement inside `tx`.
pub(crate) async fn insert_requests(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[&Request],
) -> Result<(), StoreError> {
    let n = batch.len();
    let mut id = Vec::with_capacity(n);
    let mut project = Vec::with_capacity(n);
    let mut source = Vec::with_capacity(n);
    let mut method = Vec::with_capacity(n);
    let mut path = Vec::with_capacity(n);
    let mut query = Vec::with_capacity(n);
    let mut headers = Vec::with_capacity(n);
    let mut body: Vec<Option<&[u8]>> = Vec::with_capacity(n);
    let mut size = Vec::with_capacity(n);
    let mut ip = Vec::with_capacity(n);
    let mut verified = Vec::with_capacity(n);
    let mut cause = Vec::with_capacity(n);
    let mut routed = Vec::with_capacity(n);
    let mut events_count = Vec::with_capacity(n);
    let mut ignored_count = Vec::with_capacity(n);
    let mut at = Vec::with_capacity(n);
    for r in batch {
        id.push(r.id.as_str());
        project.push(r.project_id.as_str());
        source.push(r.source_id.as_str());
        method.push(r.method.as_str());
        path.push(r.path.as_str());
        query.push(r.query.as_str());
        headers.push(to_json(&r.headers)?);
        body.push(r.body.as_deref());
        size.push(r.body_size);
        ip.push(r.original_ip.as_deref());
        verified.push(r.verified);
        cause.push(r.rejection_cause.map(|c| c.as_str()));
        routed.push(r.routed);
        events_count.push(r.events_count);
        ignored_count.push(r.ignored_count);
        at.push(r.ingested_at);
    }
    let st = tx
        .prepare_cached(
            "INSERT INTO requests (id, project_id, source_id, method, path, query, headers, body, body_size, original_ip, \
             verified, rejection_cause, routed, ingested_at, created_at, updated_at, events_count, ignored_count) \
             SELECT i, p, s, m, pa, q, h, b, sz, ip, v, c, r, t, t, t, ec, ic FROM UNNEST($1::text[], $2::text[], \
             $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bigint[], $10::text[], \
             $11::bool[], $12::text[], $13::bool[], $14::bigint[], $15::bigint[], $16::bigint[]) \
             AS x(i, p, s, m, pa, q, h, b, sz, ip, v, c, r, t, ec, ic)",
        )
        .await
        .map_err(map_err)?;
    tx.execute(
        &st,
        &[
            &id,
            &project,
            &source,
            &method,
            &path,
            &query,
            &headers,
            &body,
            &size,
            &ip,
            &verified,
            &cause,
            &routed,
            &at,
            &events_count,
            &ignored_count,
        ],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}
