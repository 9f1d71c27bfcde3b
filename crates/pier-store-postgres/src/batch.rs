//! Group commit of ingest on PostgreSQL: requests waiting to be stored are inserted together
//! (one multi-row `INSERT … SELECT FROM UNNEST(…)`) in one transaction, and each caller is
//! answered only after that commit.

use crate::{map_err, pool_err, rows::to_json};
use deadpool_postgres::Pool;
use pier_core::Request;
use pier_store::StoreError;
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 1000;

pub(crate) struct Pending {
    pub request: Request,
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
    tx.commit().await.map_err(map_err)
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
        at.push(r.ingested_at);
    }
    let st = tx
        .prepare_cached(
            "INSERT INTO requests (id, project_id, source_id, method, path, query, headers, body, body_size, original_ip, \
             verified, rejection_cause, routed, ingested_at, created_at, updated_at) \
             SELECT i, p, s, m, pa, q, h, b, sz, ip, v, c, r, t, t, t FROM UNNEST($1::text[], $2::text[], $3::text[], \
             $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bigint[], $10::text[], $11::bool[], \
             $12::text[], $13::bool[], $14::bigint[]) AS x(i, p, s, m, pa, q, h, b, sz, ip, v, c, r, t)",
        )
        .await
        .map_err(map_err)?;
    tx.execute(
        &st,
        &[&id, &project, &source, &method, &path, &query, &headers, &body, &size, &ip, &verified, &cause, &routed, &at],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}
