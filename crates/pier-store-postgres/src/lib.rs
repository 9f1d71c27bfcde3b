//! The PostgreSQL backend of Pier's [`Store`]: several `pier serve` processes on one database
//! form one gateway. Ingest is group-committed (a batcher inserts waiting requests with one
//! multi-row `INSERT … UNNEST` per transaction); due events are claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease; nodes wake each other with `LISTEN/NOTIFY` on
//! `pier_due`; a destination is delivered by one node at a time (`destination_owners`), so its
//! rate limit holds gateway-wide.
//!
//! Depends on `pier-core` and `pier-store` only (plus tokio-postgres); knows nothing of HTTP.

mod attempts;
mod batch;
mod batching;
mod bulk;
mod list;
mod migrate;
mod notify;
mod rows;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use pier_core::{
    Attempt, AttemptTrigger, BatchOperation, Bookmark, CliSession, Connection, Destination, Event, IgnoredEvent,
    Millis, Project, Request, Source, Transformation, TransformationExecution, TransformedRequest,
};
use pier_store::{
    AttemptRecord, Change, Claimed, Cond, ListQuery, Listed, Page, Result, Routing, Store, StoreError, Table,
};
use rows::{to_json, Get};
use std::sync::{LazyLock, Mutex};
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

/// Pier's store on a PostgreSQL database.
pub struct PostgresStore {
    pool: Pool,
    ingest: mpsc::UnboundedSender<batch::Pending>,
    attempts: mpsc::UnboundedSender<attempts::Pending>,
    due: Mutex<Option<mpsc::UnboundedReceiver<(String, String, Millis)>>>,
}

pub(crate) fn map_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        use tokio_postgres::error::SqlState;
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            let m = match db.constraint() {
                Some("sources_name") => "a source with this name already exists",
                Some("destinations_name") => "a destination with this name already exists",
                Some("connections_name") => "a connection with this name already exists on this source",
                Some("projects_name_key") => "a project with this name already exists",
                Some("bookmarks_name") => "a bookmark with this name already exists",
                _ => "an object with these values already exists",
            };
            return StoreError::Conflict(m.into());
        }
        if *code == SqlState::FOREIGN_KEY_VIOLATION {
            return StoreError::InvalidReference("a referenced object does not exist".into());
        }
        if code.code().starts_with("08") || code.code().starts_with("57") || code.code().starts_with("53") {
            return StoreError::Unavailable(db.to_string());
        }
        return StoreError::Internal(db.to_string());
    }
    StoreError::Unavailable(e.to_string())
}

pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {e}"))
}

type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;

impl PostgresStore {
    /// Connect to `url` (`postgres://…`), bring the schema up to date (safe when several nodes
    /// start at once), and start the ingest batcher and the notification listener.
    pub async fn open(url: &str) -> Result<PostgresStore> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Unavailable(format!("invalid database url: {e}")))?;
        let mgr =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr)
            .max_size(16)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        {
            let mut client = pool.get().await.map_err(pool_err)?;
            migrate::run(&mut client).await?;
        }
        let ingest = batch::start(pool.clone());
        let attempts = attempts::start(pool.clone());
        let due = notify::listen(config);
        Ok(PostgresStore { pool, ingest, attempts, due: Mutex::new(Some(due)) })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }

    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let c = self.client().await?;
        let st = c.prepare_cached(sql).await.map_err(map_err)?;
        c.query(&st, params).await.map_err(map_err)
    }

    async fn one<T>(&self, sql: &str, params: &[&(dyn ToSql + Sync)], f: fn(&Row) -> Result<T>) -> Result<Option<T>> {
        self.query(sql, params).await?.first().map(f).transpose()
    }

    async fn list<T: Listed>(
        &self,
        table: Table,
        project_id: &str,
        q: &ListQuery,
        columns: &str,
        f: fn(&Row) -> Result<T>,
    ) -> Result<Page<T>> {
        q.check(table)?;
        let (sql, args) = list::select(table, columns, project_id, q);
        let params: Params = args.iter().map(|a| a.as_sql()).collect();
        let rows = self.query(&sql, &params).await?;
        let models = rows.iter().map(f).collect::<Result<Vec<T>>>()?;
        Ok(Page::from_rows(q, models))
    }

    /// Delete one row of the project from `table`; `NotFound` when there is none.
    async fn delete_by_id(&self, table: &'static str, project_id: &str, id: &str) -> Result<()> {
        let c = self.client().await?;
        let sql = format!("DELETE FROM {table} WHERE project_id = $1 AND id = $2");
        let n = c.execute(sql.as_str(), &[&project_id, &id]).await.map_err(map_err)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn load_claimed(&self, rows: Vec<(String, AttemptTrigger)>) -> Result<Vec<Claimed>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
        let got = self.query(&LOAD_CLAIMED, &[&ids]).await?;
        let mut out = Vec::with_capacity(got.len());
        for row in &got {
            let id: String = row.g(0)?;
            let trigger = rows.iter().find(|(i, _)| *i == id).map(|(_, t)| *t).unwrap_or(AttemptTrigger::Initial);
            out.push(claimed(row, trigger)?);
        }
        out.sort_by_key(|c| c.event.next_attempt_at);
        Ok(out)
    }
}

/// `cols` (a column list) with each column qualified by `alias`.
fn qualified(cols: &str, alias: &str) -> String {
    cols.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

/// Events by id with their requests and transformed data, in the columns [`claimed`] reads.
static LOAD_CLAIMED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, d.data FROM events e JOIN requests r ON r.id = e.request_id \
         LEFT JOIN event_data d ON d.event_id = e.id WHERE e.id = ANY($1)",
        qualified(rows::EVENT, "e"),
        qualified(rows::REQUEST, "r"),
    )
});

/// Lease a destination's due events (while their bodies' running total stays within `$6`) and
/// read them as [`LOAD_CLAIMED`] does, plus their trigger (column 36), in one statement. The lease is committed without waiting for the WAL flush
/// (`synchronous_commit` off for this transaction only): a lease lost in a database crash only
/// makes the event claimable again (at-least-once), and the attempt's own commit flushes it
/// anyway.
static CLAIM_DUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)), \
         c AS (UPDATE events SET locked_until = $4, locked_by = $5, \
             status = CASE WHEN status = 'SCHEDULED' THEN 'QUEUED' ELSE status END \
             WHERE id IN (SELECT id FROM (SELECT e.id, \
                     CAST(SUM(q.body_size) OVER (ORDER BY e.next_attempt_at, e.id ROWS UNBOUNDED PRECEDING) \
                         AS BIGINT) AS total \
                 FROM (SELECT id, request_id, next_attempt_at FROM events WHERE destination_id = $1 \
                     AND next_attempt_at IS NOT NULL AND status <> 'HOLD' \
                     AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until < $2) \
                     ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) e \
                 JOIN requests q ON q.id = e.request_id) w WHERE total <= $6) \
             RETURNING events.*) \
         SELECT {}, {}, d.data, c.next_trigger FROM c CROSS JOIN s JOIN requests r ON r.id = c.request_id \
         LEFT JOIN event_data d ON d.event_id = c.id",
        qualified(rows::EVENT, "c"),
        qualified(rows::REQUEST, "r"),
    )
});

/// A claimed event from a row of its columns, its request's from column 16, and its
/// transformed data (column 35).
fn claimed(row: &Row, trigger: AttemptTrigger) -> Result<Claimed> {
    let data: Option<String> = row.g(35)?;
    Ok(Claimed {
        event: rows::event(row)?,
        request: rows::request_at(row, 16)?,
        trigger,
        data: data.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

/// `NOTIFY pier_due` payloads: `project|destination|due`.
pub(crate) fn due_payloads<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<String> {
    let mut earliest: std::collections::HashMap<(&str, &str), i64> = Default::default();
    for e in events {
        if let Some(at) = e.next_attempt_at {
            let k = (e.project_id.as_str(), e.destination_id.as_str());
            let v = earliest.entry(k).or_insert(at);
            *v = (*v).min(at);
        }
    }
    earliest.into_iter().map(|((p, d), at)| format!("{p}|{d}|{at}")).collect()
}

/// Send `payloads` as `pier_due` notices (on commit, inside a transaction), in one statement.
pub(crate) async fn notify_due(c: &impl deadpool_postgres::GenericClient, payloads: &[String]) -> Result<()> {
    if !payloads.is_empty() {
        c.execute("SELECT pg_notify('pier_due', p) FROM UNNEST($1::text[]) AS p", &[&payloads])
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

async fn cancel_pending(tx: &deadpool_postgres::Transaction<'_>, column: &str, id: &str) -> Result<()> {
    let sql = format!(
        "UPDATE events SET status = 'CANCELLED', next_attempt_at = NULL \
         WHERE {column} = $1 AND (next_attempt_at IS NOT NULL OR status = 'HOLD')"
    );
    tx.execute(&sql, &[&id]).await.map_err(map_err)?;
    Ok(())
}

async fn delete(tx: &deadpool_postgres::Transaction<'_>, table: &str, project_id: &str, id: &str) -> Result<()> {
    let n = tx
        .execute(&format!("DELETE FROM {table} WHERE project_id = $1 AND id = $2"), &[&project_id, &id])
        .await
        .map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Record one transformation run (alone, or inside a routing's transaction).
async fn insert_execution(c: &impl deadpool_postgres::GenericClient, e: &TransformationExecution) -> Result<()> {
    c.execute(
        "INSERT INTO transformation_executions (id, project_id, transformation_id, connection_id, request_id, log_level, \
         logs, error, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        &[
            &e.id,
            &e.project_id,
            &e.transformation_id,
            &e.connection_id,
            &e.request_id,
            &e.log_level,
            &to_json(&e.logs)?,
            &e.error,
            &e.created_at,
            &e.updated_at,
        ],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Write one routing inside `tx`.
async fn write_routing(tx: &deadpool_postgres::Transaction<'_>, r: &Routing) -> Result<()> {
    for conn in &r.replace_ignored {
        tx.execute("DELETE FROM ignored_events WHERE request_id = $1 AND connection_id = $2", &[&r.request_id, conn])
            .await
            .map_err(map_err)?;
    }
    for e in &r.events {
        tx.execute(
            "INSERT INTO events (id, project_id, request_id, connection_id, source_id, destination_id, status, attempts, \
             last_attempt_at, next_attempt_at, response_status, error_code, successful_at, cli_id, created_at, updated_at, \
             next_trigger) \
             SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, \
               CASE WHEN p.paused_at IS NOT NULL THEN 'HOLD' \
                    WHEN p.paused_at IS NULL AND $7::text = 'HOLD' THEN 'QUEUED' ELSE $7::text END, \
               $8::bigint, $9::bigint, \
               CASE WHEN p.paused_at IS NOT NULL THEN NULL WHEN $7::text = 'HOLD' THEN $15::bigint ELSE $10::bigint END, \
               $11::bigint, $12::text, $13::bigint, $14::text, $15::bigint, $16::bigint, 'INITIAL' \
             FROM (SELECT (SELECT paused_at FROM connections WHERE id = $4::text) AS paused_at) p \
             ON CONFLICT (request_id, connection_id) DO NOTHING",
            &[
                &e.id,
                &e.project_id,
                &e.request_id,
                &e.connection_id,
                &e.source_id,
                &e.destination_id,
                &e.status.as_str(),
                &e.attempts,
                &e.last_attempt_at,
                &e.next_attempt_at,
                &e.response_status,
                &e.error_code,
                &e.successful_at,
                &e.cli_id,
                &e.created_at,
                &e.updated_at,
            ],
        )
        .await
        .map_err(map_err)?;
    }
    for i in &r.ignored {
        tx.execute(
            "INSERT INTO ignored_events (id, project_id, request_id, connection_id, cause, meta, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (request_id, connection_id) DO NOTHING",
            &[
                &i.id,
                &i.project_id,
                &i.request_id,
                &i.connection_id,
                &i.cause.as_str(),
                &i.meta.as_ref().map(to_json).transpose()?,
                &i.created_at,
                &i.updated_at,
            ],
        )
        .await
        .map_err(map_err)?;
    }
    let n = tx
        .execute(
            "UPDATE requests SET routed = TRUE, routing_lease = NULL, updated_at = $2, \
             rejection_cause = COALESCE(rejection_cause, $3), \
             events_count = (SELECT COUNT(*) FROM events e JOIN destinations d ON d.id = e.destination_id \
                             WHERE e.request_id = $1 AND d.cli_path IS NULL), \
             cli_events_count = (SELECT COUNT(*) FROM events e JOIN destinations d ON d.id = e.destination_id \
                             WHERE e.request_id = $1 AND d.cli_path IS NOT NULL), \
             ignored_count = (SELECT COUNT(*) FROM ignored_events WHERE request_id = $1) WHERE id = $1",
            &[&r.request_id, &r.now, &r.rejection.map(|c| c.as_str())],
        )
        .await
        .map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    for e in &r.executions {
        insert_execution(tx, e).await?;
    }
    for (event_id, data) in &r.event_data {
        tx.execute(
            "INSERT INTO event_data (event_id, data) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
            &[event_id, &to_json(data)?],
        )
        .await
        .map_err(map_err)?;
    }
    notify_due(tx, &due_payloads(&r.events)).await?;
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        self.query("SELECT 1", &[]).await.map(|_| ())
    }

    async fn create_project(&self, p: &Project, key_hash: &str) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO projects (id, name, signing_secret, created_at) VALUES ($1, $2, $3, $4)",
            &[&p.id, &p.name, &p.signing_secret, &p.created_at],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "INSERT INTO api_keys (key_hash, project_id, created_at) VALUES ($1, $2, $3)",
            &[&key_hash, &p.id, &p.created_at],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        let rows = self.query(&format!("SELECT {} FROM projects ORDER BY created_at, id", rows::PROJECT), &[]).await?;
        rows.iter().map(rows::project).collect()
    }

    async fn project(&self, id: &str) -> Result<Option<Project>> {
        self.one(&format!("SELECT {} FROM projects WHERE id = $1", rows::PROJECT), &[&id], rows::project).await
    }

    async fn project_by_key_hash(&self, key_hash: &str) -> Result<Option<Project>> {
        let cols = rows::PROJECT.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT {cols} FROM projects p JOIN api_keys k ON k.project_id = p.id WHERE k.key_hash = $1");
        self.one(&sql, &[&key_hash], rows::project).await
    }

    async fn replace_api_keys(&self, project_id: &str, key_hash: &str, now: Millis) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        if tx.query_opt("SELECT 1 FROM projects WHERE id = $1", &[&project_id]).await.map_err(map_err)?.is_none() {
            return Err(StoreError::NotFound);
        }
        tx.execute("DELETE FROM api_keys WHERE project_id = $1", &[&project_id]).await.map_err(map_err)?;
        tx.execute(
            "INSERT INTO api_keys (key_hash, project_id, created_at) VALUES ($1, $2, $3)",
            &[&key_hash, &project_id, &now],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn add_api_key(&self, project_id: &str, key_hash: &str, now: Millis) -> Result<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "INSERT INTO api_keys (key_hash, project_id, created_at) SELECT $1, id, $3 FROM projects WHERE id = $2",
                &[&key_hash, &project_id, &now],
            )
            .await
            .map_err(map_err)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_signing_secret(&self, project_id: &str, secret: &str) -> Result<()> {
        let c = self.client().await?;
        let n = c
            .execute("UPDATE projects SET signing_secret = $1 WHERE id = $2", &[&secret, &project_id])
            .await
            .map_err(map_err)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn apply(&self, project_id: &str, changes: Vec<Change>) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let foreign = || StoreError::InvalidReference("the object belongs to another project".into());
        for change in changes {
            match change {
                Change::PutSource(s) => {
                    if s.project_id != project_id {
                        return Err(foreign());
                    }
                    let n = tx
                        .execute(
                            "INSERT INTO sources (id, project_id, name, key, description, allowed_http_methods, custom_response, \
                             verification, disabled_at, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) \
                             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, \
                             allowed_http_methods = EXCLUDED.allowed_http_methods, custom_response = EXCLUDED.custom_response, \
                             verification = EXCLUDED.verification, disabled_at = EXCLUDED.disabled_at, \
                             updated_at = EXCLUDED.updated_at WHERE sources.project_id = EXCLUDED.project_id",
                            &[
                                &s.id,
                                &s.project_id,
                                &s.name,
                                &s.key,
                                &s.description,
                                &to_json(&s.allowed_http_methods)?,
                                &s.custom_response.as_ref().map(to_json).transpose()?,
                                &s.verification.as_ref().map(to_json).transpose()?,
                                &s.disabled_at,
                                &s.created_at,
                                &s.updated_at,
                            ],
                        )
                        .await
                        .map_err(map_err)?;
                    if n == 0 {
                        return Err(foreign());
                    }
                }
                Change::PutDestination(d) => {
                    if d.project_id != project_id {
                        return Err(foreign());
                    }
                    let n = tx
                        .execute(
                            "INSERT INTO destinations (id, project_id, name, description, url, cli_path, \
                             path_forwarding_disabled, http_method, rate_limit, rate_limit_period, auth_method, disabled_at, \
                             created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) \
                             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, \
                             url = EXCLUDED.url, cli_path = EXCLUDED.cli_path, \
                             path_forwarding_disabled = EXCLUDED.path_forwarding_disabled, http_method = EXCLUDED.http_method, \
                             rate_limit = EXCLUDED.rate_limit, rate_limit_period = EXCLUDED.rate_limit_period, \
                             auth_method = EXCLUDED.auth_method, disabled_at = EXCLUDED.disabled_at, \
                             updated_at = EXCLUDED.updated_at WHERE destinations.project_id = EXCLUDED.project_id",
                            &[
                                &d.id,
                                &d.project_id,
                                &d.name,
                                &d.description,
                                &d.url,
                                &d.cli_path,
                                &d.path_forwarding_disabled,
                                &d.http_method,
                                &d.rate_limit,
                                &d.rate_limit_period.as_str(),
                                &to_json(&d.auth_method)?,
                                &d.disabled_at,
                                &d.created_at,
                                &d.updated_at,
                            ],
                        )
                        .await
                        .map_err(map_err)?;
                    if n == 0 {
                        return Err(foreign());
                    }
                }
                Change::PutConnection(cn) => {
                    if cn.project_id != project_id {
                        return Err(foreign());
                    }
                    let ok: bool = tx
                        .query_one(
                            "SELECT EXISTS(SELECT 1 FROM sources WHERE id = $1 AND project_id = $3) \
                             AND EXISTS(SELECT 1 FROM destinations WHERE id = $2 AND project_id = $3)",
                            &[&cn.source_id, &cn.destination_id, &project_id],
                        )
                        .await
                        .map_err(map_err)?
                        .g(0)?;
                    if !ok {
                        return Err(StoreError::InvalidReference("the source or destination does not exist".into()));
                    }
                    let n = tx
                        .execute(
                            "INSERT INTO connections (id, project_id, name, description, source_id, destination_id, rules, \
                             paused_at, disabled_at, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) \
                             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, \
                             source_id = EXCLUDED.source_id, destination_id = EXCLUDED.destination_id, rules = EXCLUDED.rules, \
                             paused_at = EXCLUDED.paused_at, disabled_at = EXCLUDED.disabled_at, \
                             updated_at = EXCLUDED.updated_at WHERE connections.project_id = EXCLUDED.project_id",
                            &[
                                &cn.id,
                                &cn.project_id,
                                &cn.name,
                                &cn.description,
                                &cn.source_id,
                                &cn.destination_id,
                                &to_json(&cn.rules)?,
                                &cn.paused_at,
                                &cn.disabled_at,
                                &cn.created_at,
                                &cn.updated_at,
                            ],
                        )
                        .await
                        .map_err(map_err)?;
                    if n == 0 {
                        return Err(foreign());
                    }
                }
                Change::DeleteSource(id) => {
                    cancel_pending(&tx, "source_id", &id).await?;
                    delete(&tx, "sources", project_id, &id).await?;
                }
                Change::DeleteDestination(id) => {
                    cancel_pending(&tx, "destination_id", &id).await?;
                    delete(&tx, "destinations", project_id, &id).await?;
                }
                Change::DeleteConnection(id) => {
                    cancel_pending(&tx, "connection_id", &id).await?;
                    delete(&tx, "connections", project_id, &id).await?;
                }
            }
        }
        tx.commit().await.map_err(map_err)
    }

    async fn source(&self, project_id: &str, id: &str) -> Result<Option<Source>> {
        let sql = format!("SELECT {} FROM sources WHERE project_id = $1 AND id = $2", rows::SOURCE);
        self.one(&sql, &[&project_id, &id], rows::source).await
    }
    async fn source_by_name(&self, project_id: &str, name: &str) -> Result<Option<Source>> {
        let sql = format!("SELECT {} FROM sources WHERE project_id = $1 AND name = $2", rows::SOURCE);
        self.one(&sql, &[&project_id, &name], rows::source).await
    }
    async fn source_by_key(&self, key: &str) -> Result<Option<Source>> {
        self.one(&format!("SELECT {} FROM sources WHERE key = $1", rows::SOURCE), &[&key], rows::source).await
    }
    async fn list_sources(&self, project_id: &str, q: &ListQuery) -> Result<Page<Source>> {
        self.list(Table::Sources, project_id, q, rows::SOURCE, rows::source).await
    }
    async fn destination(&self, project_id: &str, id: &str) -> Result<Option<Destination>> {
        let sql = format!("SELECT {} FROM destinations WHERE project_id = $1 AND id = $2", rows::DESTINATION);
        self.one(&sql, &[&project_id, &id], rows::destination).await
    }
    async fn destination_by_name(&self, project_id: &str, name: &str) -> Result<Option<Destination>> {
        let sql = format!("SELECT {} FROM destinations WHERE project_id = $1 AND name = $2", rows::DESTINATION);
        self.one(&sql, &[&project_id, &name], rows::destination).await
    }
    async fn list_destinations(&self, project_id: &str, q: &ListQuery) -> Result<Page<Destination>> {
        self.list(Table::Destinations, project_id, q, rows::DESTINATION, rows::destination).await
    }
    async fn connection(&self, project_id: &str, id: &str) -> Result<Option<Connection>> {
        let sql = format!("SELECT {} FROM connections WHERE project_id = $1 AND id = $2", rows::CONNECTION);
        self.one(&sql, &[&project_id, &id], rows::connection).await
    }
    async fn connection_by_name(&self, project_id: &str, source_id: &str, name: &str) -> Result<Option<Connection>> {
        let sql = format!(
            "SELECT {} FROM connections WHERE project_id = $1 AND source_id = $2 AND name = $3",
            rows::CONNECTION
        );
        self.one(&sql, &[&project_id, &source_id, &name], rows::connection).await
    }
    async fn list_connections(&self, project_id: &str, q: &ListQuery) -> Result<Page<Connection>> {
        self.list(Table::Connections, project_id, q, rows::CONNECTION, rows::connection).await
    }
    async fn count(&self, project_id: &str, table: Table, conds: &[Cond]) -> Result<i64> {
        let q = ListQuery { conds: conds.to_vec(), ..ListQuery::default() };
        q.check(table)?;
        let (sql, args) = list::count(table, project_id, &q.conds);
        let params: Params = args.iter().map(|a| a.as_sql()).collect();
        self.query(&sql, &params).await?.first().map(|r| r.g(0)).unwrap_or(Ok(0))
    }
    async fn connections_of_source(&self, source_id: &str) -> Result<Vec<Connection>> {
        let sql = format!("SELECT {} FROM connections WHERE source_id = $1 ORDER BY created_at, id", rows::CONNECTION);
        self.query(&sql, &[&source_id]).await?.iter().map(rows::connection).collect()
    }

    async fn ingest(&self, request: Request) -> Result<()> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.ingest
            .send(batch::Pending { request, routing: None, done })
            .map_err(|_| StoreError::Unavailable("the ingest batcher has stopped".into()))?;
        wait.await.map_err(|_| StoreError::Unavailable("the ingest batcher has stopped".into()))?
    }
    fn routes_at_ingest(&self) -> bool {
        true
    }
    /// Leases at ingest are not taken here (`leases_at_ingest` is false): on a shared database
    /// any node's lane may claim the events.
    async fn ingest_routed(&self, request: Request, routing: Routing) -> Result<Vec<String>> {
        if !routing.event_data.is_empty() || !routing.executions.is_empty() || !routing.replace_ignored.is_empty() {
            // Not a routing made at ingest: store it the general way.
            return pier_store::ingest_then_route(self, request, routing).await.map(|()| Vec::new());
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        self.ingest
            .send(batch::Pending { request, routing: Some(routing), done })
            .map_err(|_| StoreError::Unavailable("the ingest batcher has stopped".into()))?;
        wait.await.map_err(|_| StoreError::Unavailable("the ingest batcher has stopped".into()))?.map(|()| Vec::new())
    }
    async fn request(&self, project_id: &str, id: &str) -> Result<Option<Request>> {
        let sql = format!("SELECT {} FROM requests WHERE project_id = $1 AND id = $2", rows::REQUEST);
        self.one(&sql, &[&project_id, &id], rows::request).await
    }
    async fn list_requests(&self, project_id: &str, q: &ListQuery, with_bodies: bool) -> Result<Page<Request>> {
        let cols = if with_bodies { rows::REQUEST } else { rows::REQUEST_NO_BODY };
        self.list(Table::Requests, project_id, q, cols, rows::request).await
    }
    async fn unrouted_requests(&self, limit: u32, node: &str) -> Result<Vec<Request>> {
        // Lease them for 30 s so another node does not route the same requests meanwhile.
        let now = pier_store::clock::now_ms();
        let sql = format!(
            "UPDATE requests SET routing_lease = $2, routing_by = $4 WHERE id IN (SELECT id FROM requests \
             WHERE NOT routed AND (routing_lease IS NULL OR routing_lease < $1) ORDER BY id LIMIT $3 \
             FOR UPDATE SKIP LOCKED) RETURNING {}",
            rows::REQUEST
        );
        let mut out: Vec<Request> = self
            .query(&sql, &[&now, &(now + 30_000), &(limit as i64), &node])
            .await?
            .iter()
            .map(rows::request)
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
    async fn complete_routing(&self, r: Routing) -> Result<()> {
        self.complete_routings(vec![r]).await
    }
    async fn complete_routings(&self, routings: Vec<Routing>) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        for r in &routings {
            write_routing(&tx, r).await?;
        }
        tx.commit().await.map_err(map_err)
    }
    async fn event(&self, project_id: &str, id: &str) -> Result<Option<Event>> {
        let sql = format!("SELECT {} FROM events WHERE project_id = $1 AND id = $2", rows::EVENT);
        self.one(&sql, &[&project_id, &id], rows::event).await
    }
    async fn list_events(&self, project_id: &str, q: &ListQuery) -> Result<Page<Event>> {
        self.list(Table::Events, project_id, q, rows::EVENT, rows::event).await
    }
    async fn list_ignored_events(&self, project_id: &str, q: &ListQuery) -> Result<Page<IgnoredEvent>> {
        self.list(Table::IgnoredEvents, project_id, q, rows::IGNORED, rows::ignored).await
    }

    async fn due_destinations(&self, now: Millis) -> Result<Vec<(String, String, Millis)>> {
        // A routing that committed a held event just after its connection was unpaused (on
        // another node) would leave it held: release such events here.
        let c = self.client().await?;
        c.execute(
            "UPDATE events SET status = 'QUEUED', next_attempt_at = $1, next_trigger = 'UNPAUSE', updated_at = $1 \
             WHERE status = 'HOLD' AND connection_id IN (SELECT id FROM connections WHERE paused_at IS NULL)",
            &[&now],
        )
        .await
        .map_err(map_err)?;
        drop(c);
        let rows = self
            .query(
                "SELECT project_id, destination_id, MIN(next_attempt_at) FROM events \
                 WHERE next_attempt_at IS NOT NULL AND status <> 'HOLD' AND (locked_until IS NULL OR locked_until < $1) \
                 GROUP BY project_id, destination_id",
                &[&now],
            )
            .await?;
        rows.iter().map(|r| Ok((r.g(0)?, r.g(1)?, r.g(2)?))).collect()
    }
    async fn next_due(&self, destination_id: &str, now: Millis) -> Result<Option<Millis>> {
        let rows = self
            .query(
                "SELECT MIN(next_attempt_at) FROM events WHERE destination_id = $1 AND next_attempt_at IS NOT NULL \
                 AND status <> 'HOLD' AND (locked_until IS NULL OR locked_until < $2)",
                &[&destination_id, &now],
            )
            .await?;
        rows.first().map(|r| r.g(0)).unwrap_or(Ok(None))
    }
    #[allow(clippy::too_many_arguments)]
    async fn claim_due(
        &self,
        destination_id: &str,
        now: Millis,
        limit: u32,
        max_bytes: u64,
        lease_until: Millis,
        node: &str,
    ) -> Result<Vec<Claimed>> {
        let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        let got =
            self.query(&CLAIM_DUE, &[&destination_id, &now, &(limit as i64), &lease_until, &node, &max_bytes]).await?;
        let mut out = Vec::with_capacity(got.len());
        for row in &got {
            let trigger: Option<String> = row.g(36)?;
            let trigger = trigger.and_then(|t| AttemptTrigger::parse(&t)).unwrap_or(AttemptTrigger::Initial);
            out.push(claimed(row, trigger)?);
        }
        out.sort_by_key(|c| c.event.next_attempt_at);
        Ok(out)
    }
    async fn claim_event(
        &self,
        project_id: &str,
        event_id: &str,
        trigger: AttemptTrigger,
        now: Millis,
        lease_until: Millis,
        node: &str,
    ) -> Result<Option<Claimed>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let row = tx
            .query_opt(
                "SELECT locked_until FROM events WHERE project_id = $1 AND id = $2 FOR UPDATE",
                &[&project_id, &event_id],
            )
            .await
            .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let locked: Option<i64> = row.g(0)?;
        if locked.is_some_and(|u| u >= now) {
            return Err(StoreError::Conflict(
                "this event is being delivered right now; retry when the attempt finishes".into(),
            ));
        }
        tx.execute(
            "UPDATE events SET locked_until = $1, locked_by = $2, next_trigger = $3 WHERE id = $4",
            &[&lease_until, &node, &trigger.as_str(), &event_id],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(self.load_claimed(vec![(event_id.to_string(), trigger)]).await?.pop())
    }
    async fn record_attempt(&self, record: AttemptRecord) -> Result<Event> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.attempts
            .send(attempts::Pending { record, done })
            .map_err(|_| StoreError::Unavailable("the attempt writer has stopped".into()))?;
        wait.await.map_err(|_| StoreError::Unavailable("the attempt writer has stopped".into()))?
    }
    async fn release_leases_of(&self, node: &str) -> Result<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let n = tx
            .execute("UPDATE events SET locked_until = NULL, locked_by = NULL WHERE locked_by = $1", &[&node])
            .await
            .map_err(map_err)?;
        tx.execute("DELETE FROM destination_owners WHERE node = $1", &[&node]).await.map_err(map_err)?;
        tx.execute("UPDATE requests SET routing_lease = NULL WHERE routing_by = $1 AND NOT routed", &[&node])
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }
    async fn hold_events(&self, project_id: &str, connection_id: &str, now: Millis) -> Result<u64> {
        let c = self.client().await?;
        c.execute(
            "UPDATE events SET status = 'HOLD', next_attempt_at = NULL, updated_at = $3 \
             WHERE project_id = $1 AND connection_id = $2 AND next_attempt_at IS NOT NULL AND status <> 'HOLD'",
            &[&project_id, &connection_id, &now],
        )
        .await
        .map_err(map_err)
    }
    async fn release_held_events(&self, project_id: &str, connection_id: &str, now: Millis) -> Result<Vec<String>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let rows = tx
            .query(
                "WITH released AS (UPDATE events SET status = 'QUEUED', next_attempt_at = $3, next_trigger = 'UNPAUSE', \
                 updated_at = $3 WHERE project_id = $1 AND connection_id = $2 AND status = 'HOLD' \
                 RETURNING destination_id) SELECT DISTINCT destination_id FROM released",
                &[&project_id, &connection_id, &now],
            )
            .await
            .map_err(map_err)?;
        let mut dests = rows.iter().map(|r| r.g(0)).collect::<Result<Vec<String>>>()?;
        dests.sort();
        dests.dedup();
        let payloads: Vec<String> = dests.iter().map(|d| format!("{project_id}|{d}|{now}")).collect();
        notify_due(&tx, &payloads).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(dests)
    }
    async fn cancel_event(&self, project_id: &str, event_id: &str, now: Millis) -> Result<Option<Event>> {
        let sql = format!(
            "UPDATE events SET status = CASE WHEN status = 'SUCCESSFUL' THEN status ELSE 'CANCELLED' END, \
             next_attempt_at = CASE WHEN status = 'SUCCESSFUL' THEN next_attempt_at ELSE NULL END, updated_at = $3 \
             WHERE project_id = $1 AND id = $2 RETURNING {}",
            rows::EVENT
        );
        self.one(&sql, &[&project_id, &event_id, &now], rows::event).await
    }
    async fn attempt(&self, project_id: &str, id: &str) -> Result<Option<Attempt>> {
        let sql = format!("SELECT {} FROM attempts WHERE project_id = $1 AND id = $2", rows::ATTEMPT);
        self.one(&sql, &[&project_id, &id], rows::attempt).await
    }
    async fn list_attempts(&self, project_id: &str, q: &ListQuery) -> Result<Page<Attempt>> {
        self.list(Table::Attempts, project_id, q, rows::ATTEMPT, rows::attempt).await
    }
    async fn own_destination(&self, destination_id: &str, node: &str, until: Millis, now: Millis) -> Result<bool> {
        let rows = self
            .query(
                "INSERT INTO destination_owners (destination_id, node, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (destination_id) DO UPDATE SET node = EXCLUDED.node, until = EXCLUDED.until \
                 WHERE destination_owners.node = EXCLUDED.node OR destination_owners.until < $4 RETURNING node",
                &[&destination_id, &node, &until, &now],
            )
            .await?;
        Ok(!rows.is_empty())
    }
    async fn release_destination(&self, destination_id: &str, node: &str) -> Result<()> {
        let c = self.client().await?;
        c.execute("DELETE FROM destination_owners WHERE destination_id = $1 AND node = $2", &[&destination_id, &node])
            .await
            .map_err(map_err)?;
        Ok(())
    }
    async fn put_transformation(&self, t: &Transformation) -> Result<()> {
        let c = self.client().await?;
        let env = to_json(&t.env)?;
        let n = c
            .execute(
                "INSERT INTO transformations (id, project_id, name, code, env, created_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, code = EXCLUDED.code, \
                 env = EXCLUDED.env, updated_at = EXCLUDED.updated_at WHERE transformations.project_id = EXCLUDED.project_id",
                &[&t.id, &t.project_id, &t.name, &t.code, &env, &t.created_at, &t.updated_at],
            )
            .await
            .map_err(|e| match map_err(e) {
                StoreError::Conflict(_) => StoreError::Conflict("a transformation with this name already exists".into()),
                other => other,
            })?;
        if n == 0 {
            return Err(StoreError::InvalidReference("the transformation belongs to another project".into()));
        }
        Ok(())
    }
    async fn transformation(&self, project_id: &str, id: &str) -> Result<Option<Transformation>> {
        let sql = format!("SELECT {} FROM transformations WHERE project_id = $1 AND id = $2", rows::TRANSFORMATION);
        self.one(&sql, &[&project_id, &id], rows::transformation).await
    }
    async fn transformation_by_name(&self, project_id: &str, name: &str) -> Result<Option<Transformation>> {
        let sql = format!("SELECT {} FROM transformations WHERE project_id = $1 AND name = $2", rows::TRANSFORMATION);
        self.one(&sql, &[&project_id, &name], rows::transformation).await
    }
    async fn list_transformations(&self, project_id: &str, q: &ListQuery) -> Result<Page<Transformation>> {
        self.list(Table::Transformations, project_id, q, rows::TRANSFORMATION, rows::transformation).await
    }
    async fn delete_transformation(&self, project_id: &str, id: &str) -> Result<()> {
        self.delete_by_id("transformations", project_id, id).await
    }
    async fn insert_execution(&self, e: &TransformationExecution) -> Result<()> {
        let c = self.client().await?;
        insert_execution(&c, e).await
    }
    async fn execution(&self, project_id: &str, id: &str) -> Result<Option<TransformationExecution>> {
        let sql =
            format!("SELECT {} FROM transformation_executions WHERE project_id = $1 AND id = $2", rows::EXECUTION);
        self.one(&sql, &[&project_id, &id], rows::execution).await
    }
    async fn list_executions(&self, project_id: &str, q: &ListQuery) -> Result<Page<TransformationExecution>> {
        self.list(Table::TransformationExecutions, project_id, q, rows::EXECUTION, rows::execution).await
    }
    async fn dedup_seen(
        &self,
        connection_id: &str,
        key: &str,
        request_id: &str,
        now: Millis,
        window: i64,
    ) -> Result<bool> {
        // Insert, or take over an expired key (or this very request's: routing replayed);
        // nothing returned means a live key of another request: a duplicate.
        let rows = self
            .query(
                "INSERT INTO dedup_keys (connection_id, key, request_id, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (connection_id, key) DO UPDATE SET request_id = EXCLUDED.request_id, \
                 expires_at = EXCLUDED.expires_at WHERE dedup_keys.expires_at <= $5 OR dedup_keys.request_id = $3 \
                 RETURNING request_id",
                &[&connection_id, &key, &request_id, &(now + window), &now],
            )
            .await?;
        Ok(rows.is_empty())
    }
    async fn event_data(&self, event_id: &str) -> Result<Option<TransformedRequest>> {
        let rows = self.query("SELECT data FROM event_data WHERE event_id = $1", &[&event_id]).await?;
        match rows.first() {
            Some(r) => {
                let d: String = r.g(0)?;
                serde_json::from_str(&d).map(Some).map_err(|e| StoreError::Internal(e.to_string()))
            }
            None => Ok(None),
        }
    }
    async fn put_cli_session(&self, cs: &CliSession) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO cli_sessions (id, project_id, webhook_ids, node, seen_at, created_at) VALUES ($1,$2,$3,$4,$5,$6) \
             ON CONFLICT (id) DO UPDATE SET webhook_ids = EXCLUDED.webhook_ids, node = EXCLUDED.node, seen_at = EXCLUDED.seen_at",
            &[&cs.id, &cs.project_id, &to_json(&cs.webhook_ids)?, &cs.node, &cs.seen_at, &cs.created_at],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }
    async fn cli_session(&self, project_id: &str, id: &str) -> Result<Option<CliSession>> {
        let rows = self
            .query(
                "SELECT id, project_id, webhook_ids, node, seen_at, created_at FROM cli_sessions WHERE project_id = $1 AND id = $2",
                &[&project_id, &id],
            )
            .await?;
        rows.first()
            .map(|r| {
                let ids: String = r.g(2)?;
                Ok(CliSession {
                    id: r.g(0)?,
                    project_id: r.g(1)?,
                    webhook_ids: serde_json::from_str(&ids).unwrap_or_default(),
                    node: r.g(3)?,
                    seen_at: r.g(4)?,
                    created_at: r.g(5)?,
                })
            })
            .transpose()
    }
    async fn cli_connected(&self, connection_id: &str, since: Millis) -> Result<bool> {
        let pattern = format!("%\"{connection_id}\"%");
        let rows = self
            .query(
                "SELECT EXISTS(SELECT 1 FROM cli_sessions WHERE node IS NOT NULL AND seen_at >= $1 AND webhook_ids LIKE $2)",
                &[&since, &pattern],
            )
            .await?;
        rows.first().map(|r| r.g(0)).unwrap_or(Ok(false))
    }
    async fn put_bookmark(&self, b: &Bookmark) -> Result<()> {
        let c = self.client().await?;
        let sql = format!(
            "INSERT INTO bookmarks ({}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (id) DO UPDATE SET \
             connection_id = EXCLUDED.connection_id, request_id = EXCLUDED.request_id, label = EXCLUDED.label, \
             name = EXCLUDED.name, last_used_at = EXCLUDED.last_used_at, updated_at = EXCLUDED.updated_at \
             WHERE bookmarks.project_id = EXCLUDED.project_id",
            bulk::BOOKMARK
        );
        c.execute(
            &sql,
            &[
                &b.id,
                &b.project_id,
                &b.connection_id,
                &b.request_id,
                &b.label,
                &b.name,
                &b.last_used_at,
                &b.created_at,
                &b.updated_at,
            ],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }
    async fn bookmark(&self, project_id: &str, id: &str) -> Result<Option<Bookmark>> {
        let sql = format!("SELECT {} FROM bookmarks WHERE project_id = $1 AND id = $2", bulk::BOOKMARK);
        self.one(&sql, &[&project_id, &id], bulk::bookmark).await
    }
    async fn list_bookmarks(&self, project_id: &str, q: &ListQuery) -> Result<Page<Bookmark>> {
        self.list(Table::Bookmarks, project_id, q, bulk::BOOKMARK, bulk::bookmark).await
    }
    async fn delete_bookmark(&self, project_id: &str, id: &str) -> Result<()> {
        self.delete_by_id("bookmarks", project_id, id).await
    }
    async fn trigger_bookmark(&self, bookmark_id: &str, request: Request, event: Event) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let now = event.created_at;
        let n = tx
            .execute(
                "UPDATE bookmarks SET last_used_at = $2, updated_at = $2 WHERE id = $1 AND project_id = $3",
                &[&bookmark_id, &now, &request.project_id],
            )
            .await
            .map_err(map_err)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        batch::insert_requests(&tx, &[&request]).await?;
        let routing = Routing { request_id: request.id.clone(), events: vec![event], now, ..Routing::default() };
        write_routing(&tx, &routing).await?;
        tx.commit().await.map_err(map_err)
    }
    async fn purge(&self, project_id: &str, before: Millis, limit: u32) -> Result<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let ids: Vec<String> = tx
            .query(
                "SELECT r.id FROM requests r WHERE r.project_id = $1 AND r.created_at < $2 \
                 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.request_id = r.id \
                     AND (e.next_attempt_at IS NOT NULL OR e.status = 'HOLD' OR e.locked_until IS NOT NULL)) \
                 AND NOT EXISTS (SELECT 1 FROM bookmarks b WHERE b.request_id = r.id) \
                 ORDER BY r.created_at LIMIT $3 FOR UPDATE SKIP LOCKED",
                &[&project_id, &before, &(limit as i64)],
            )
            .await
            .map_err(map_err)?
            .iter()
            .map(|r| r.g(0))
            .collect::<Result<_>>()?;
        tx.execute(
            "DELETE FROM dedup_keys WHERE expires_at < $2 AND connection_id IN \
             (SELECT id FROM connections WHERE project_id = $1)",
            &[&project_id, &before],
        )
        .await
        .map_err(map_err)?;
        if ids.is_empty() {
            tx.commit().await.map_err(map_err)?;
            return Ok(0);
        }
        for sql in [
            "DELETE FROM attempts WHERE event_id IN (SELECT id FROM events WHERE request_id = ANY($1))",
            "DELETE FROM event_data WHERE event_id IN (SELECT id FROM events WHERE request_id = ANY($1))",
            "DELETE FROM events WHERE request_id = ANY($1)",
            "DELETE FROM ignored_events WHERE request_id = ANY($1)",
            "DELETE FROM transformation_executions WHERE request_id = ANY($1)",
            "DELETE FROM requests WHERE id = ANY($1)",
        ] {
            tx.execute(sql, &[&ids]).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(ids.len() as u64)
    }
    async fn put_batch(&self, b: &BatchOperation) -> Result<()> {
        let c = self.client().await?;
        let sql = format!(
            "INSERT INTO batch_operations ({}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) \
             ON CONFLICT (id) DO UPDATE SET cursor = EXCLUDED.cursor, estimated_count = EXCLUDED.estimated_count, \
             processed_batch = EXCLUDED.processed_batch, completed_count = EXCLUDED.completed_count, \
             failed_count = EXCLUDED.failed_count, cancelled_at = COALESCE(batch_operations.cancelled_at, EXCLUDED.cancelled_at), \
             completed_at = EXCLUDED.completed_at, updated_at = EXCLUDED.updated_at \
             WHERE batch_operations.project_id = EXCLUDED.project_id",
            bulk::BATCH
        );
        c.execute(
            &sql,
            &[
                &b.id,
                &b.project_id,
                &b.query,
                &b.cursor,
                &b.estimated_count,
                &b.processed_batch,
                &b.completed_count,
                &b.failed_count,
                &b.cancelled_at,
                &b.completed_at,
                &b.created_at,
                &b.updated_at,
                &b.kind.as_str(),
            ],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }
    async fn batch(&self, project_id: &str, id: &str) -> Result<Option<BatchOperation>> {
        let sql = format!("SELECT {} FROM batch_operations WHERE project_id = $1 AND id = $2", bulk::BATCH);
        self.one(&sql, &[&project_id, &id], bulk::batch).await
    }
    async fn list_batches(&self, project_id: &str, q: &ListQuery) -> Result<Page<BatchOperation>> {
        self.list(Table::BatchOperations, project_id, q, bulk::BATCH, bulk::batch).await
    }
    async fn unfinished_batches(&self) -> Result<Vec<BatchOperation>> {
        let sql = format!(
            "SELECT {} FROM batch_operations WHERE cancelled_at IS NULL AND completed_at IS NULL ORDER BY created_at",
            bulk::BATCH
        );
        self.query(&sql, &[]).await?.iter().map(bulk::batch).collect()
    }
    async fn requeue_events(
        &self,
        project_id: &str,
        event_ids: &[String],
        trigger: AttemptTrigger,
        now: Millis,
    ) -> Result<Vec<String>> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let rows = tx
            .query(
                "UPDATE events SET status = 'QUEUED', next_attempt_at = $2, next_trigger = $3, updated_at = $2 \
                 WHERE project_id = $1 AND status <> 'HOLD' AND (locked_until IS NULL OR locked_until < $2) \
                 AND id = ANY($4) RETURNING destination_id",
                &[&project_id, &now, &trigger.as_str(), &event_ids],
            )
            .await
            .map_err(map_err)?;
        let dests = rows.iter().map(|r| r.g::<String>(0)).collect::<Result<Vec<_>>>()?;
        let mut distinct = dests.clone();
        distinct.sort();
        distinct.dedup();
        let payloads: Vec<String> = distinct.iter().map(|d| format!("{project_id}|{d}|{now}")).collect();
        notify_due(&tx, &payloads).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(dests)
    }

    async fn metrics(&self, project_id: &str, since: Millis) -> Result<pier_store::MetricsRaw> {
        let requests = self
            .query(
                "SELECT created_at / 60000, COUNT(*) FILTER (WHERE rejection_cause IS NULL), \
                 COUNT(*) FILTER (WHERE rejection_cause IS NOT NULL) FROM requests \
                 WHERE project_id = $1 AND created_at >= $2 GROUP BY 1",
                &[&project_id, &since],
            )
            .await?
            .iter()
            .map(|r| Ok((r.g(0)?, r.g(1)?, r.g(2)?)))
            .collect::<Result<_>>()?;
        let events = self
            .query(
                "SELECT created_at / 60000, COUNT(*) FROM events WHERE project_id = $1 AND created_at >= $2 GROUP BY 1",
                &[&project_id, &since],
            )
            .await?
            .iter()
            .map(|r| Ok((r.g(0)?, r.g(1)?)))
            .collect::<Result<_>>()?;
        let attempts = self
            .query(
                "SELECT created_at / 60000, successful, response_latency FROM attempts \
                 WHERE project_id = $1 AND created_at >= $2 ORDER BY created_at DESC LIMIT 100000",
                &[&project_id, &since],
            )
            .await?
            .iter()
            .map(|r| Ok((r.g(0)?, r.g(1)?, r.g(2)?)))
            .collect::<Result<_>>()?;
        let queue = self
            .query(
                "SELECT destination_id, COUNT(*), MIN(next_attempt_at) FROM events WHERE project_id = $1 \
                 AND next_attempt_at IS NOT NULL AND status <> 'HOLD' GROUP BY destination_id",
                &[&project_id],
            )
            .await?
            .iter()
            .map(|r| Ok((r.g(0)?, r.g(1)?, r.g(2)?)))
            .collect::<Result<_>>()?;
        Ok(pier_store::MetricsRaw { requests, events, attempts, queue })
    }
    fn subscribe_due(&self) -> Option<mpsc::UnboundedReceiver<(String, String, Millis)>> {
        self.due.lock().ok().and_then(|mut d| d.take())
    }
    async fn rotate_signing_secret(
        &self,
        project_id: &str,
        new_secret: &str,
        previous_expires_at: Millis,
    ) -> Result<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE projects SET previous_signing_secret = signing_secret, \
                 previous_signing_secret_expires_at = $3, signing_secret = $2 WHERE id = $1",
                &[&project_id, &new_secret, &previous_expires_at],
            )
            .await
            .map_err(map_err)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

/// Helpers for tests that need a database of their own.
pub mod testing {
    use tokio_postgres::NoTls;

    /// The database tests use: `PIER_TEST_DATABASE_URL`, if set.
    pub fn test_database_url() -> Option<String> {
        std::env::var("PIER_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
    }

    /// Create a fresh schema in the database at `base_url` and return a URL whose connections
    /// use it (`options=-csearch_path=…`), so tests can run in parallel on one database.
    pub async fn fresh_schema_url(base_url: &str) -> Result<String, String> {
        let schema = format!("pier_test_{}", pier_core::id::random_token(12, &mut rand::rng()).to_ascii_lowercase());
        execute_once(base_url, &format!("CREATE SCHEMA {schema}")).await?;
        let sep = if base_url.contains('?') { '&' } else { '?' };
        Ok(format!("{base_url}{sep}options=-csearch_path%3D{schema}"))
    }

    /// Drop, with everything in it, the schema that [`fresh_schema_url`] made for `base_url`
    /// and named in `fresh_url`. Refuses a URL that names no such schema.
    pub async fn drop_fresh_schema(base_url: &str, fresh_url: &str) -> Result<(), String> {
        let schema = fresh_url
            .rsplit_once("search_path%3D")
            .map(|(_, s)| s)
            .filter(|s| {
                s.strip_prefix("pier_test_")
                    .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            })
            .ok_or_else(|| format!("{fresh_url} names no schema made by fresh_schema_url"))?;
        execute_once(base_url, &format!("DROP SCHEMA {schema} CASCADE")).await
    }

    /// Run `sql` on a connection of its own to `base_url`, closed afterwards.
    async fn execute_once(base_url: &str, sql: &str) -> Result<(), String> {
        let (client, conn) = tokio_postgres::connect(base_url, NoTls).await.map_err(|e| e.to_string())?;
        let driver = tokio::spawn(conn);
        let r = client.batch_execute(sql).await.map_err(|e| e.to_string());
        drop(client);
        let _ = driver.await;
        r
    }
}
