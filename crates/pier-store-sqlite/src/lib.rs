//! The embedded SQLite backend of Pier's [`Store`]: one writer thread with group commit, a pool
//! of readers, WAL synced (by the writer's syncer thread) before a write returns, so a commit is
//! on disk when it is acknowledged.
//!
//! Depends on `pier-core` and `pier-store` only (plus rusqlite); knows nothing of HTTP.

mod bulk;
mod delivery;
mod gathered_wal;
mod hot;
mod list;
mod migrate;
mod readers;
mod rows;
mod rules;
mod writer;

use async_trait::async_trait;
use pier_core::{
    Attempt, AttemptTrigger, BatchOperation, Bookmark, CliSession, Millis, Transformation, TransformationExecution,
    TransformedRequest,
};
use pier_store::{AttemptRecord, Claimed};

use pier_core::{Connection as Conn, Destination, Event, IgnoredEvent, Project, Request, Source};
use pier_store::{Change, Cond, ListQuery, Page, Result, Routing, Store, StoreError, Table};
use readers::Readers;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use writer::Writer;

/// Pier's store on a SQLite file.
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
}

pub(crate) fn open_connection(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    set_up(Connection::open(path)?, read_only)
}

/// The writer's connection, after the migrations committed on `migrated` (synced at commit):
/// on the VFS that gathers each commit's WAL frames into a few large writes (gathered_wal.rs) when it
/// registers — then `true` — or else `migrated` itself.
fn writer_connection(path: &Path, migrated: Connection) -> rusqlite::Result<(Connection, bool)> {
    if !gathered_wal::register() {
        tracing::warn!("the gathering VFS did not register; the writer uses SQLite's default");
        return Ok((migrated, false));
    }
    drop(migrated);
    let flags = rusqlite::OpenFlags::default();
    let conn = set_up(Connection::open_with_flags_and_vfs(path, flags, gathered_wal::NAME)?, false)?;
    gathered_wal::configure(&conn)?;
    Ok((conn, true))
}

fn set_up(conn: Connection, read_only: bool) -> rusqlite::Result<Connection> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;

    if read_only {
        conn.execute_batch("PRAGMA query_only=ON;")?;
    }
    Ok(conn)
}

/// `ids` padded (repeating the first) to the next of a few sizes, so statements with an
/// `IN (…)` list of them come in a few shapes that stay in the statement cache.
pub(crate) fn padded(mut ids: Vec<&str>) -> Vec<&str> {
    let size = [1, 4, 16, 64, 256].into_iter().find(|b| *b >= ids.len()).unwrap_or(ids.len());
    if let Some(first) = ids.first().copied() {
        ids.resize(size, first);
    }
    ids
}

/// `?first,?first+1,…`: `n` numbered parameters for an `IN (…)` list.
pub(crate) fn placeholders(n: usize, first: usize) -> String {
    (first..first + n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(",")
}

pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => match f.code {
            ErrorCode::ConstraintViolation => {
                let m = msg.clone().unwrap_or_default();
                if m.contains("FOREIGN KEY") {
                    StoreError::InvalidReference("a referenced object does not exist".into())
                } else if m.contains("UNIQUE") {
                    StoreError::Conflict(unique_message(&m))
                } else {
                    StoreError::Internal(e.to_string())
                }
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen | ErrorCode::DiskFull => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Internal(e.to_string()),
        },
        _ => StoreError::Internal(e.to_string()),
    }
}

fn unique_message(m: &str) -> String {
    if m.contains("sources.project_id, sources.name") {
        "a source with this name already exists".into()
    } else if m.contains("destinations.project_id, destinations.name") {
        "a destination with this name already exists".into()
    } else if m.contains("bookmarks.project_id, bookmarks.name") {
        "a bookmark with this name already exists".into()
    } else if m.contains("connections.source_id, connections.name") {
        "a connection with this name already exists on this source".into()
    } else if m.contains("projects.name") {
        "a project with this name already exists".into()
    } else {
        "an object with these values already exists".into()
    }
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path` and bring its schema up to date.
    pub fn open(path: impl Into<PathBuf>) -> Result<SqliteStore> {
        let path: PathBuf = path.into();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let mut conn = open_connection(&path, false).map_err(map_err)?;
        migrate::run(&mut conn).map_err(map_err)?;
        let (conn, gathered) = writer_connection(&path, conn).map_err(map_err)?;
        // The checkpointer copies the WAL into the database in the background and the writer
        // finishes each round, so the WAL starts over and stays small (writer.rs); a WAL file
        // grown by a burst is cut back to 64 MiB.
        conn.execute_batch("PRAGMA cache_size=-8192; PRAGMA journal_size_limit=67108864;").map_err(map_err)?;
        Ok(SqliteStore { writer: Writer::start(conn, path.clone(), gathered), readers: Readers::new(path) })
    }

    /// Read the claimed events and their requests (after the claim committed): three queries
    /// for the whole claim, not three per event.
    async fn load_claimed(&self, ids: Vec<(String, AttemptTrigger)>) -> Result<Vec<Claimed>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.readers
            .read(move |c| {
                use std::collections::HashMap;
                // IN-lists padded to a few sizes, so the three statements are prepared once.
                let event_ids = padded(ids.iter().map(|(id, _)| id.as_str()).collect());
                let marks = placeholders(event_ids.len(), 1);
                let mut events: HashMap<String, Event> = c
                    .prepare_cached(&format!("SELECT {} FROM events WHERE id IN ({marks})", rows::EVENT_COLUMNS))
                    .map_err(map_err)?
                    .query_map(rusqlite::params_from_iter(event_ids.iter()), rows::event)
                    .map_err(map_err)?
                    .map(|e| e.map(|e| (e.id.clone(), e)))
                    .collect::<rusqlite::Result<_>>()
                    .map_err(map_err)?;
                let mut request_ids: Vec<&str> = events.values().map(|e| e.request_id.as_str()).collect();
                request_ids.sort_unstable();
                request_ids.dedup();
                let request_ids = padded(request_ids);
                let rmarks = placeholders(request_ids.len(), 1);
                let requests: HashMap<String, Request> = if request_ids.is_empty() {
                    HashMap::new()
                } else {
                    c.prepare_cached(&format!(
                        "SELECT {} FROM requests WHERE id IN ({rmarks})",
                        rows::REQUEST_COLUMNS_BODY
                    ))
                    .map_err(map_err)?
                    .query_map(rusqlite::params_from_iter(request_ids.iter()), rows::request_with_body)
                    .map_err(map_err)?
                    .map(|r| r.map(|r| (r.id.clone(), r)))
                    .collect::<rusqlite::Result<_>>()
                    .map_err(map_err)?
                };
                let mut data: HashMap<String, String> = c
                    .prepare_cached(&format!("SELECT event_id, data FROM event_data WHERE event_id IN ({marks})"))
                    .map_err(map_err)?
                    .query_map(rusqlite::params_from_iter(event_ids.iter()), |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(map_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(map_err)?;
                let mut out = Vec::with_capacity(ids.len());
                for (id, trigger) in ids {
                    let Some(event) = events.remove(&id) else { continue };
                    let Some(request) = requests.get(&event.request_id).cloned() else { continue };
                    let data = data.remove(&id).and_then(|d| serde_json::from_str(&d).ok());
                    out.push(Claimed { event, request, trigger, data });
                }
                Ok(out)
            })
            .await
    }

    /// Delete one row of the project from `table`; `NotFound` when there is none.
    async fn delete_by_id(&self, table: &'static str, project_id: &str, id: &str) -> Result<()> {
        let (p, id) = (project_id.to_string(), id.to_string());
        self.writer
            .write(move |tx| {
                let n = tx
                    .execute(&format!("DELETE FROM {table} WHERE project_id = ?1 AND id = ?2"), params![p, id])
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn get<T: Send + 'static>(
        &self,
        sql: &'static str,
        args: Vec<String>,
        map: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        self.readers
            .read(move |c| {
                let mut st = c.prepare_cached(sql).map_err(map_err)?;
                st.query_row(rusqlite::params_from_iter(args.iter()), map).optional().map_err(map_err)
            })
            .await
    }

    async fn list<T: pier_store::Listed + Send + 'static>(
        &self,
        table: Table,
        project_id: &str,
        q: &ListQuery,
        columns: &'static str,
        map: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Page<T>> {
        q.check(table)?;
        let q = q.clone();
        let project_id = project_id.to_string();
        self.readers
            .read(move |c| {
                let (sql, args) = list::select(table, columns, &project_id, &q);
                let mut st = c.prepare_cached(&sql).map_err(map_err)?;
                let rows = st
                    .query_map(rusqlite::params_from_iter(args.iter()), map)
                    .map_err(map_err)?
                    .collect::<rusqlite::Result<Vec<T>>>()
                    .map_err(map_err)?;
                Ok(Page::from_rows(&q, rows))
            })
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        self.readers.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(map_err)).await
    }

    async fn create_project(&self, project: &Project, key_hash: &str) -> Result<()> {
        let p = project.clone();
        let key_hash = key_hash.to_string();
        self.writer
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO projects (id, name, signing_secret, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![p.id, p.name, p.signing_secret, p.created_at],
                )
                .map_err(map_err)?;
                tx.execute(
                    "INSERT INTO api_keys (key_hash, project_id, created_at) VALUES (?1, ?2, ?3)",
                    params![key_hash, p.id, p.created_at],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        self.readers
            .read(|c| {
                let mut st = c.prepare_cached(rows::PROJECT_SELECT_ALL).map_err(map_err)?;
                let v = st.query_map([], rows::project).map_err(map_err)?.collect::<rusqlite::Result<Vec<_>>>();
                v.map_err(map_err)
            })
            .await
    }

    async fn project(&self, id: &str) -> Result<Option<Project>> {
        self.get(rows::PROJECT_BY_ID, vec![id.into()], rows::project).await
    }

    async fn project_by_key_hash(&self, key_hash: &str) -> Result<Option<Project>> {
        self.get(rows::PROJECT_BY_KEY, vec![key_hash.into()], rows::project).await
    }

    async fn replace_api_keys(&self, project_id: &str, key_hash: &str, now: i64) -> Result<()> {
        let (pid, hash) = (project_id.to_string(), key_hash.to_string());
        self.writer
            .write(move |tx| {
                let exists: Option<i64> = tx
                    .query_row("SELECT 1 FROM projects WHERE id = ?1", [&pid], |r| r.get(0))
                    .optional()
                    .map_err(map_err)?;
                if exists.is_none() {
                    return Err(StoreError::NotFound);
                }
                tx.execute("DELETE FROM api_keys WHERE project_id = ?1", [&pid]).map_err(map_err)?;
                tx.execute(
                    "INSERT INTO api_keys (key_hash, project_id, created_at) VALUES (?1, ?2, ?3)",
                    params![hash, pid, now],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn add_api_key(&self, project_id: &str, key_hash: &str, now: i64) -> Result<()> {
        let (pid, hash) = (project_id.to_string(), key_hash.to_string());
        self.writer
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO api_keys (key_hash, project_id, created_at) SELECT ?1, id, ?3 FROM projects WHERE id = ?2",
                    params![hash, pid, now],
                )
                .map_err(map_err)
                .and_then(|n| if n == 0 { Err(StoreError::NotFound) } else { Ok(()) })
            })
            .await
    }

    async fn set_signing_secret(&self, project_id: &str, secret: &str) -> Result<()> {
        let (pid, secret) = (project_id.to_string(), secret.to_string());
        self.writer
            .write(move |tx| {
                let n = tx
                    .execute("UPDATE projects SET signing_secret = ?1 WHERE id = ?2", params![secret, pid])
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn apply(&self, project_id: &str, changes: Vec<Change>) -> Result<()> {
        let pid = project_id.to_string();
        self.writer.write(move |tx| rows::apply(tx, &pid, changes)).await
    }

    async fn source(&self, project_id: &str, id: &str) -> Result<Option<Source>> {
        self.get(rows::SOURCE_BY_ID, vec![project_id.into(), id.into()], rows::source).await
    }
    async fn source_by_name(&self, project_id: &str, name: &str) -> Result<Option<Source>> {
        self.get(rows::SOURCE_BY_NAME, vec![project_id.into(), name.into()], rows::source).await
    }
    async fn source_by_key(&self, key: &str) -> Result<Option<Source>> {
        self.get(rows::SOURCE_BY_KEY, vec![key.into()], rows::source).await
    }
    async fn list_sources(&self, project_id: &str, q: &ListQuery) -> Result<Page<Source>> {
        self.list(Table::Sources, project_id, q, rows::SOURCE_COLUMNS, rows::source).await
    }
    async fn destination(&self, project_id: &str, id: &str) -> Result<Option<Destination>> {
        self.get(rows::DESTINATION_BY_ID, vec![project_id.into(), id.into()], rows::destination).await
    }
    async fn destination_by_name(&self, project_id: &str, name: &str) -> Result<Option<Destination>> {
        self.get(rows::DESTINATION_BY_NAME, vec![project_id.into(), name.into()], rows::destination).await
    }
    async fn list_destinations(&self, project_id: &str, q: &ListQuery) -> Result<Page<Destination>> {
        self.list(Table::Destinations, project_id, q, rows::DESTINATION_COLUMNS, rows::destination).await
    }
    async fn connection(&self, project_id: &str, id: &str) -> Result<Option<Conn>> {
        self.get(rows::CONNECTION_BY_ID, vec![project_id.into(), id.into()], rows::connection).await
    }
    async fn connection_by_name(&self, project_id: &str, source_id: &str, name: &str) -> Result<Option<Conn>> {
        self.get(rows::CONNECTION_BY_NAME, vec![project_id.into(), source_id.into(), name.into()], rows::connection)
            .await
    }
    async fn list_connections(&self, project_id: &str, q: &ListQuery) -> Result<Page<Conn>> {
        self.list(Table::Connections, project_id, q, rows::CONNECTION_COLUMNS, rows::connection).await
    }
    async fn count(&self, project_id: &str, table: Table, conds: &[Cond]) -> Result<i64> {
        let q = ListQuery { conds: conds.to_vec(), ..ListQuery::default() };
        q.check(table)?;
        let pid = project_id.to_string();
        self.readers
            .read(move |c| {
                let (sql, args) = list::count(table, &pid, &q.conds);
                let mut st = c.prepare_cached(&sql).map_err(map_err)?;
                st.query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0)).map_err(map_err)
            })
            .await
    }
    async fn connections_of_source(&self, source_id: &str) -> Result<Vec<Conn>> {
        let sid = source_id.to_string();
        self.readers
            .read(move |c| {
                let mut st = c.prepare_cached(rows::CONNECTIONS_OF_SOURCE).map_err(map_err)?;
                let v = st.query_map([sid], rows::connection).map_err(map_err)?.collect::<rusqlite::Result<Vec<_>>>();
                v.map_err(map_err)
            })
            .await
    }

    async fn ingest(&self, request: Request) -> Result<()> {
        let headers = rows::to_json(&request.headers)?;
        self.writer.write_trusted_hot(move |_, hot| rows::insert_request(hot, &request, &headers)).await
    }
    fn routes_at_ingest(&self) -> bool {
        true
    }
    async fn ingest_routed(&self, request: Request, routing: Routing) -> Result<Vec<String>> {
        let headers = rows::to_json(&request.headers)?;
        self.writer.write_trusted_hot(move |tx, hot| rows::insert_routed(tx, hot, &request, &headers, &routing)).await
    }
    fn leases_at_ingest(&self) -> bool {
        true
    }
    async fn request(&self, project_id: &str, id: &str) -> Result<Option<Request>> {
        self.get(rows::REQUEST_BY_ID, vec![project_id.into(), id.into()], rows::request_with_body).await
    }
    async fn list_requests(&self, project_id: &str, q: &ListQuery, with_bodies: bool) -> Result<Page<Request>> {
        let (cols, map): (&'static str, fn(&rusqlite::Row<'_>) -> rusqlite::Result<Request>) = if with_bodies {
            (rows::REQUEST_COLUMNS_BODY, rows::request_with_body)
        } else {
            (rows::REQUEST_COLUMNS, rows::request)
        };
        self.list(Table::Requests, project_id, q, cols, map).await
    }
    async fn unrouted_requests(&self, limit: u32, _node: &str) -> Result<Vec<Request>> {
        self.readers
            .read(move |c| {
                let mut st = c.prepare_cached(rows::UNROUTED).map_err(map_err)?;
                let v = st
                    .query_map([limit], rows::request_with_body)
                    .map_err(map_err)?
                    .collect::<rusqlite::Result<Vec<_>>>();
                v.map_err(map_err)
            })
            .await
    }
    async fn complete_routings(&self, routings: Vec<Routing>) -> Result<()> {
        // Queued together, so the writer commits them in one transaction.
        let results = futures::future::join_all(routings.into_iter().map(|r| self.complete_routing(r))).await;
        results.into_iter().collect()
    }
    async fn complete_routing(&self, routing: Routing) -> Result<()> {
        self.writer.write_hot(move |tx, hot| rows::complete_routing(tx, hot, &routing)).await
    }
    async fn event(&self, project_id: &str, id: &str) -> Result<Option<Event>> {
        self.get(rows::EVENT_BY_ID, vec![project_id.into(), id.into()], rows::event).await
    }
    async fn list_events(&self, project_id: &str, q: &ListQuery) -> Result<Page<Event>> {
        self.list(Table::Events, project_id, q, rows::EVENT_COLUMNS, rows::event).await
    }
    async fn list_ignored_events(&self, project_id: &str, q: &ListQuery) -> Result<Page<IgnoredEvent>> {
        self.list(Table::IgnoredEvents, project_id, q, rows::IGNORED_COLUMNS, rows::ignored).await
    }

    async fn due_destinations(&self, now: Millis) -> Result<Vec<(String, String, Millis)>> {
        self.readers
            .read(move |c| {
                let mut st = c.prepare_cached(delivery::DUE_DESTINATIONS).map_err(map_err)?;
                let v = st
                    .query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(map_err)?
                    .collect::<rusqlite::Result<Vec<_>>>();
                v.map_err(map_err)
            })
            .await
    }

    async fn next_due(&self, destination_id: &str, now: Millis) -> Result<Option<Millis>> {
        let d = destination_id.to_string();
        self.readers
            .read(move |c| {
                let mut st = c.prepare_cached(delivery::NEXT_DUE).map_err(map_err)?;
                st.query_row(params![d, now], |r| r.get(0)).map_err(map_err)
            })
            .await
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
        let (d, node) = (destination_id.to_string(), node.to_string());
        let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        let ids = self
            .writer
            .write_trusted(move |tx| delivery::claim_due(tx, &d, now, limit, max_bytes, lease_until, &node))
            .await?;
        self.load_claimed(ids).await
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
        let (p, e, node) = (project_id.to_string(), event_id.to_string(), node.to_string());
        let id = self.writer.write(move |tx| delivery::claim_one(tx, &p, &e, trigger, now, lease_until, &node)).await?;
        match id {
            None => Ok(None),
            Some(id) => Ok(self.load_claimed(vec![(id, trigger)]).await?.pop()),
        }
    }

    async fn record_attempt(&self, record: AttemptRecord) -> Result<Event> {
        self.writer.write_trusted_hot(move |_, hot| delivery::record_attempt(hot, &record)).await
    }

    async fn release_leases_of(&self, _node: &str) -> Result<u64> {
        self.writer
            .write(|tx| {
                tx.execute("UPDATE events SET locked_until = NULL, locked_by = NULL WHERE locked_until IS NOT NULL", [])
                    .map(|n| n as u64)
                    .map_err(map_err)
            })
            .await
    }

    async fn hold_events(&self, project_id: &str, connection_id: &str, now: Millis) -> Result<u64> {
        // In chunks, each its own write, so a connection with a million pending events neither
        // holds the writer for long nor builds a giant transaction.
        let mut total = 0;
        loop {
            let (p, c) = (project_id.to_string(), connection_id.to_string());
            let n = self.writer.write(move |tx| delivery::hold(tx, &p, &c, now, delivery::CHUNK)).await?;
            total += n;
            if n < delivery::CHUNK {
                return Ok(total);
            }
        }
    }

    async fn release_held_events(&self, project_id: &str, connection_id: &str, now: Millis) -> Result<Vec<String>> {
        let mut dests: Vec<String> = Vec::new();
        loop {
            let (p, c) = (project_id.to_string(), connection_id.to_string());
            let (n, mut d) =
                self.writer.write(move |tx| delivery::release_held(tx, &p, &c, now, delivery::CHUNK)).await?;
            dests.append(&mut d);
            dests.sort();
            dests.dedup();
            if n < delivery::CHUNK {
                return Ok(dests);
            }
        }
    }

    async fn cancel_event(&self, project_id: &str, event_id: &str, now: Millis) -> Result<Option<Event>> {
        let (p, e) = (project_id.to_string(), event_id.to_string());
        self.writer.write(move |tx| delivery::cancel(tx, &p, &e, now)).await
    }

    async fn attempt(&self, project_id: &str, id: &str) -> Result<Option<Attempt>> {
        const SQL: &str = "SELECT id, project_id, event_id, destination_id, attempt_number, trigger, successful, \
             response_status, error_code, body, requested_url, http_method, delivered_at, responded_at, delivery_latency, \
             response_latency, created_at, updated_at FROM attempts WHERE project_id = ?1 AND id = ?2";
        self.get(SQL, vec![project_id.into(), id.into()], delivery::attempt).await
    }

    async fn list_attempts(&self, project_id: &str, q: &ListQuery) -> Result<Page<Attempt>> {
        self.list(Table::Attempts, project_id, q, delivery::ATTEMPT_COLUMNS, delivery::attempt).await
    }

    async fn rotate_signing_secret(
        &self,
        project_id: &str,
        new_secret: &str,
        previous_expires_at: Millis,
    ) -> Result<()> {
        let (p, s) = (project_id.to_string(), new_secret.to_string());
        self.writer
            .write(move |tx| {
                let n = tx
                    .execute(
                        "UPDATE projects SET previous_signing_secret = signing_secret, \
                         previous_signing_secret_expires_at = ?3, signing_secret = ?2 WHERE id = ?1",
                        params![p, s, previous_expires_at],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn own_destination(&self, _destination_id: &str, _node: &str, _until: Millis, _now: Millis) -> Result<bool> {
        // One node per SQLite file: the right is always ours.
        Ok(true)
    }

    async fn release_destination(&self, _destination_id: &str, _node: &str) -> Result<()> {
        Ok(())
    }

    async fn put_transformation(&self, t: &Transformation) -> Result<()> {
        let t = t.clone();
        self.writer.write(move |tx| rules::put_transformation(tx, &t)).await
    }
    async fn transformation(&self, project_id: &str, id: &str) -> Result<Option<Transformation>> {
        const SQL: &str = "SELECT id, project_id, name, code, env, created_at, updated_at FROM transformations \
                           WHERE project_id = ?1 AND id = ?2";
        self.get(SQL, vec![project_id.into(), id.into()], rules::transformation).await
    }
    async fn transformation_by_name(&self, project_id: &str, name: &str) -> Result<Option<Transformation>> {
        const SQL: &str = "SELECT id, project_id, name, code, env, created_at, updated_at FROM transformations \
                           WHERE project_id = ?1 AND name = ?2";
        self.get(SQL, vec![project_id.into(), name.into()], rules::transformation).await
    }
    async fn list_transformations(&self, project_id: &str, q: &ListQuery) -> Result<Page<Transformation>> {
        self.list(Table::Transformations, project_id, q, rules::TRANSFORMATION, rules::transformation).await
    }
    async fn delete_transformation(&self, project_id: &str, id: &str) -> Result<()> {
        self.delete_by_id("transformations", project_id, id).await
    }
    async fn insert_execution(&self, e: &TransformationExecution) -> Result<()> {
        let e = e.clone();
        self.writer.write(move |tx| rules::insert_execution(tx, &e)).await
    }
    async fn execution(&self, project_id: &str, id: &str) -> Result<Option<TransformationExecution>> {
        const SQL: &str =
            "SELECT id, project_id, transformation_id, connection_id, request_id, log_level, logs, error, \
                           created_at, updated_at FROM transformation_executions WHERE project_id = ?1 AND id = ?2";
        self.get(SQL, vec![project_id.into(), id.into()], rules::execution).await
    }
    async fn list_executions(&self, project_id: &str, q: &ListQuery) -> Result<Page<TransformationExecution>> {
        self.list(Table::TransformationExecutions, project_id, q, rules::EXECUTION, rules::execution).await
    }
    async fn dedup_seen(
        &self,
        connection_id: &str,
        key: &str,
        request_id: &str,
        now: Millis,
        window: i64,
    ) -> Result<bool> {
        let (c, k, r) = (connection_id.to_string(), key.to_string(), request_id.to_string());
        self.writer.write(move |tx| rules::dedup_seen(tx, &c, &k, &r, now, window)).await
    }
    async fn event_data(&self, event_id: &str) -> Result<Option<TransformedRequest>> {
        let id = event_id.to_string();
        self.readers
            .read(move |c| {
                let data: Option<String> = c
                    .prepare_cached("SELECT data FROM event_data WHERE event_id = ?1")
                    .map_err(map_err)?
                    .query_row([id], |r| r.get(0))
                    .optional()
                    .map_err(map_err)?;
                data.map(|d| serde_json::from_str(&d).map_err(|e| StoreError::Internal(e.to_string()))).transpose()
            })
            .await
    }

    async fn put_cli_session(&self, cs: &CliSession) -> Result<()> {
        let cs = cs.clone();
        self.writer
            .write(move |tx| {
                let ids = serde_json::to_string(&cs.webhook_ids).map_err(|e| StoreError::Internal(e.to_string()))?;
                tx.execute(
                    "INSERT INTO cli_sessions (id, project_id, webhook_ids, node, seen_at, created_at) VALUES (?1,?2,?3,?4,?5,?6) \
                     ON CONFLICT(id) DO UPDATE SET webhook_ids = excluded.webhook_ids, node = excluded.node, seen_at = excluded.seen_at",
                    params![cs.id, cs.project_id, ids, cs.node, cs.seen_at, cs.created_at],
                )
                .map(|_| ())
                .map_err(map_err)
            })
            .await
    }
    async fn cli_session(&self, project_id: &str, id: &str) -> Result<Option<CliSession>> {
        const SQL: &str = "SELECT id, project_id, webhook_ids, node, seen_at, created_at FROM cli_sessions \
                           WHERE project_id = ?1 AND id = ?2";
        self.get(SQL, vec![project_id.into(), id.into()], |r| {
            let ids: String = r.get(2)?;
            Ok(CliSession {
                id: r.get(0)?,
                project_id: r.get(1)?,
                webhook_ids: serde_json::from_str(&ids).unwrap_or_default(),
                node: r.get(3)?,
                seen_at: r.get(4)?,
                created_at: r.get(5)?,
            })
        })
        .await
    }
    async fn cli_connected(&self, connection_id: &str, since: Millis) -> Result<bool> {
        let pattern = format!("%\"{connection_id}\"%");
        self.readers
            .read(move |c| {
                c.prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM cli_sessions WHERE node IS NOT NULL AND seen_at >= ?1 AND webhook_ids LIKE ?2)",
                )
                .map_err(map_err)?
                .query_row(params![since, pattern], |r| r.get(0))
                .map_err(map_err)
            })
            .await
    }

    async fn put_bookmark(&self, b: &Bookmark) -> Result<()> {
        let b = b.clone();
        self.writer.write(move |tx| bulk::put_bookmark(tx, &b)).await
    }
    async fn bookmark(&self, project_id: &str, id: &str) -> Result<Option<Bookmark>> {
        const SQL: &str = "SELECT id, project_id, connection_id, request_id, label, name, last_used_at, created_at, \
                           updated_at FROM bookmarks WHERE project_id = ?1 AND id = ?2";
        self.get(SQL, vec![project_id.into(), id.into()], bulk::bookmark).await
    }
    async fn list_bookmarks(&self, project_id: &str, q: &ListQuery) -> Result<Page<Bookmark>> {
        self.list(Table::Bookmarks, project_id, q, bulk::BOOKMARK, bulk::bookmark).await
    }
    async fn delete_bookmark(&self, project_id: &str, id: &str) -> Result<()> {
        self.delete_by_id("bookmarks", project_id, id).await
    }
    async fn trigger_bookmark(&self, bookmark_id: &str, request: Request, event: Event) -> Result<()> {
        let id = bookmark_id.to_string();
        self.writer.write_hot(move |tx, hot| bulk::trigger_bookmark(tx, hot, &id, &request, event)).await
    }
    async fn purge(&self, project_id: &str, before: Millis, limit: u32) -> Result<u64> {
        let p = project_id.to_string();
        self.writer.write(move |tx| bulk::purge(tx, &p, before, limit)).await
    }
    async fn put_batch(&self, b: &BatchOperation) -> Result<()> {
        let b = b.clone();
        self.writer.write(move |tx| bulk::put_batch(tx, &b)).await
    }
    async fn batch(&self, project_id: &str, id: &str) -> Result<Option<BatchOperation>> {
        const SQL: &str = "SELECT id, project_id, query, cursor, estimated_count, processed_batch, completed_count, \
                           failed_count, cancelled_at, completed_at, created_at, updated_at, kind FROM batch_operations \
                           WHERE project_id = ?1 AND id = ?2";
        self.get(SQL, vec![project_id.into(), id.into()], bulk::batch).await
    }
    async fn list_batches(&self, project_id: &str, q: &ListQuery) -> Result<Page<BatchOperation>> {
        self.list(Table::BatchOperations, project_id, q, bulk::BATCH, bulk::batch).await
    }
    async fn unfinished_batches(&self) -> Result<Vec<BatchOperation>> {
        self.readers
            .read(|c| {
                let mut st = c
                    .prepare_cached(&format!(
                        "SELECT {} FROM batch_operations WHERE cancelled_at IS NULL AND completed_at IS NULL \
                         ORDER BY created_at",
                        bulk::BATCH
                    ))
                    .map_err(map_err)?;
                let v = st.query_map([], bulk::batch).map_err(map_err)?.collect::<rusqlite::Result<Vec<_>>>();
                v.map_err(map_err)
            })
            .await
    }
    async fn requeue_events(
        &self,
        project_id: &str,
        event_ids: &[String],
        trigger: AttemptTrigger,
        now: Millis,
    ) -> Result<Vec<String>> {
        let (p, ids) = (project_id.to_string(), event_ids.to_vec());
        self.writer.write(move |tx| bulk::requeue(tx, &p, &ids, trigger, now)).await
    }

    async fn metrics(&self, project_id: &str, since: Millis) -> Result<pier_store::MetricsRaw> {
        let p = project_id.to_string();
        self.readers
            .read(move |c| {
                let mut out = pier_store::MetricsRaw::default();
                let mut st = c
                    .prepare_cached(
                        "SELECT created_at / 60000, SUM(rejection_cause IS NULL), SUM(rejection_cause IS NOT NULL) \
                         FROM requests WHERE project_id = ?1 AND created_at >= ?2 GROUP BY 1",
                    )
                    .map_err(map_err)?;
                out.requests = st
                    .query_map(params![p, since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(map_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(map_err)?;
                let mut st = c
                    .prepare_cached(
                        "SELECT created_at / 60000, COUNT(*) FROM events WHERE project_id = ?1 AND created_at >= ?2 GROUP BY 1",
                    )
                    .map_err(map_err)?;
                out.events = st
                    .query_map(params![p, since], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(map_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(map_err)?;
                let mut st = c
                    .prepare_cached(
                        "SELECT created_at / 60000, successful, response_latency FROM attempts \
                         WHERE project_id = ?1 AND created_at >= ?2 ORDER BY created_at DESC LIMIT 100000",
                    )
                    .map_err(map_err)?;
                out.attempts = st
                    .query_map(params![p, since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(map_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(map_err)?;
                let mut st = c
                    .prepare_cached(
                        "SELECT destination_id, COUNT(*), MIN(next_attempt_at) FROM events WHERE project_id = ?1 \
                         AND next_attempt_at IS NOT NULL AND status <> 'HOLD' GROUP BY destination_id",
                    )
                    .map_err(map_err)?;
                out.queue = st
                    .query_map(params![p], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(map_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(map_err)?;
                Ok(out)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conformance_story() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::SqliteStore::open(dir.path().join("pier.db")).unwrap();
        pier_store::conformance::run(std::sync::Arc::new(store)).await;
    }

    #[test]
    fn in_lists_come_in_a_few_shapes() {
        assert!(super::padded(vec![]).is_empty());
        assert_eq!(super::padded(vec!["a"]), vec!["a"]);
        assert_eq!(super::padded(vec!["a", "b"]), vec!["a", "b", "a", "a"]);
        let many: Vec<String> = (0..17).map(|i| i.to_string()).collect();
        let padded = super::padded(many.iter().map(String::as_str).collect());
        assert_eq!(padded.len(), 64);
        assert_eq!(&padded[..17], many.iter().map(String::as_str).collect::<Vec<_>>().as_slice());
        assert!(padded[17..].iter().all(|x| *x == "0"));
        assert_eq!(super::padded(vec!["x"; 300]).len(), 300);
    }
}
