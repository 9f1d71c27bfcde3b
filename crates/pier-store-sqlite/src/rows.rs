//! Rows ↔ domain objects, and the write transactions (configuration changes, ingest, routing).

use crate::hot::Hot;
use crate::map_err;
use pier_core::{
    AuthMethod, Connection as Conn, CustomResponse, Destination, Event, EventStatus, IgnoredCause, IgnoredEvent,
    Project, RateLimitPeriod, RejectionCause, Request, Source,
};
use pier_store::{Change, EventLease, Routing, StoreError};
use rusqlite::{params, types::Type, OptionalExtension, Row, Transaction};

fn json<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let s: String = row.get(idx)?;
    serde_json::from_str(&s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn json_opt<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| {
        serde_json::from_str(&s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
    })
    .transpose()
}

fn bad_enum(idx: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, format!("unknown {what}").into())
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

// ---- projects ----

pub(crate) const PROJECT_SELECT_ALL: &str =
    "SELECT id, name, signing_secret, created_at, previous_signing_secret, previous_signing_secret_expires_at FROM projects ORDER BY created_at, id";
pub(crate) const PROJECT_BY_ID: &str =
    "SELECT id, name, signing_secret, created_at, previous_signing_secret, previous_signing_secret_expires_at FROM projects WHERE id = ?1";
pub(crate) const PROJECT_BY_KEY: &str =
    "SELECT p.id, p.name, p.signing_secret, p.created_at, p.previous_signing_secret, p.previous_signing_secret_expires_at FROM projects p \
     JOIN api_keys k ON k.project_id = p.id WHERE k.key_hash = ?1";

pub(crate) fn project(r: &Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: r.get(0)?,
        name: r.get(1)?,
        signing_secret: r.get(2)?,
        created_at: r.get(3)?,
        previous_signing_secret: r.get(4)?,
        previous_signing_secret_expires_at: r.get(5)?,
    })
}

// ---- sources ----

pub(crate) const SOURCE_COLUMNS: &str = "id, project_id, name, key, description, allowed_http_methods, \
     custom_response, verification, disabled_at, created_at, updated_at";
pub(crate) const SOURCE_BY_ID: &str = "SELECT id, project_id, name, key, description, allowed_http_methods, \
     custom_response, verification, disabled_at, created_at, updated_at FROM sources WHERE project_id = ?1 AND id = ?2";
pub(crate) const SOURCE_BY_NAME: &str = "SELECT id, project_id, name, key, description, allowed_http_methods, \
     custom_response, verification, disabled_at, created_at, updated_at FROM sources WHERE project_id = ?1 AND name = ?2";
pub(crate) const SOURCE_BY_KEY: &str = "SELECT id, project_id, name, key, description, allowed_http_methods, \
     custom_response, verification, disabled_at, created_at, updated_at FROM sources WHERE key = ?1";

pub(crate) fn source(r: &Row<'_>) -> rusqlite::Result<Source> {
    Ok(Source {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        key: r.get(3)?,
        description: r.get(4)?,
        allowed_http_methods: json(r, 5)?,
        custom_response: json_opt::<CustomResponse>(r, 6)?,
        verification: json_opt(r, 7)?,
        disabled_at: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

// ---- destinations ----

pub(crate) const DESTINATION_COLUMNS: &str = "id, project_id, name, description, url, cli_path, \
     path_forwarding_disabled, http_method, rate_limit, rate_limit_period, auth_method, disabled_at, created_at, updated_at";
pub(crate) const DESTINATION_BY_ID: &str = "SELECT id, project_id, name, description, url, cli_path, \
     path_forwarding_disabled, http_method, rate_limit, rate_limit_period, auth_method, disabled_at, created_at, updated_at \
     FROM destinations WHERE project_id = ?1 AND id = ?2";
pub(crate) const DESTINATION_BY_NAME: &str = "SELECT id, project_id, name, description, url, cli_path, \
     path_forwarding_disabled, http_method, rate_limit, rate_limit_period, auth_method, disabled_at, created_at, updated_at \
     FROM destinations WHERE project_id = ?1 AND name = ?2";

pub(crate) fn destination(r: &Row<'_>) -> rusqlite::Result<Destination> {
    let period: String = r.get(9)?;
    Ok(Destination {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        url: r.get(4)?,
        cli_path: r.get(5)?,
        path_forwarding_disabled: r.get(6)?,
        http_method: r.get(7)?,
        rate_limit: r.get(8)?,
        rate_limit_period: RateLimitPeriod::parse(&period).ok_or_else(|| bad_enum(9, "rate limit period"))?,
        auth_method: json::<AuthMethod>(r, 10)?,
        disabled_at: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

// ---- connections ----

pub(crate) const CONNECTION_COLUMNS: &str = "id, project_id, name, description, source_id, destination_id, rules, \
     paused_at, disabled_at, created_at, updated_at";
pub(crate) const CONNECTION_BY_ID: &str =
    "SELECT id, project_id, name, description, source_id, destination_id, rules, \
     paused_at, disabled_at, created_at, updated_at FROM connections WHERE project_id = ?1 AND id = ?2";
pub(crate) const CONNECTION_BY_NAME: &str = "SELECT id, project_id, name, description, source_id, destination_id, rules, \
     paused_at, disabled_at, created_at, updated_at FROM connections WHERE project_id = ?1 AND source_id = ?2 AND name = ?3";
pub(crate) const CONNECTIONS_OF_SOURCE: &str =
    "SELECT id, project_id, name, description, source_id, destination_id, rules, \
     paused_at, disabled_at, created_at, updated_at FROM connections WHERE source_id = ?1 ORDER BY created_at, id";

pub(crate) fn connection(r: &Row<'_>) -> rusqlite::Result<Conn> {
    Ok(Conn {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        source_id: r.get(4)?,
        destination_id: r.get(5)?,
        rules: json(r, 6)?,
        paused_at: r.get(7)?,
        disabled_at: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

pub(crate) fn apply(tx: &Transaction<'_>, project_id: &str, changes: Vec<Change>) -> Result<(), StoreError> {
    let foreign = || StoreError::InvalidReference("the object belongs to another project".into());
    for change in changes {
        match change {
            Change::PutSource(s) => {
                if s.project_id != project_id {
                    return Err(foreign());
                }
                tx.execute(
                    "INSERT INTO sources (id, project_id, name, key, description, allowed_http_methods, custom_response, \
                     verification, disabled_at, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) \
                     ON CONFLICT(id) DO UPDATE SET name=excluded.name, description=excluded.description, \
                     allowed_http_methods=excluded.allowed_http_methods, custom_response=excluded.custom_response, \
                     verification=excluded.verification, disabled_at=excluded.disabled_at, updated_at=excluded.updated_at \
                     WHERE sources.project_id = excluded.project_id",
                    params![
                        s.id,
                        s.project_id,
                        s.name,
                        s.key,
                        s.description,
                        to_json(&s.allowed_http_methods)?,
                        s.custom_response.as_ref().map(to_json).transpose()?,
                        s.verification.as_ref().map(to_json).transpose()?,
                        s.disabled_at,
                        s.created_at,
                        s.updated_at
                    ],
                )
                .map_err(map_err)?;
            }
            Change::PutDestination(d) => {
                if d.project_id != project_id {
                    return Err(foreign());
                }
                tx.execute(
                    "INSERT INTO destinations (id, project_id, name, description, url, cli_path, path_forwarding_disabled, \
                     http_method, rate_limit, rate_limit_period, auth_method, disabled_at, created_at, updated_at) \
                     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14) \
                     ON CONFLICT(id) DO UPDATE SET name=excluded.name, description=excluded.description, url=excluded.url, \
                     cli_path=excluded.cli_path, path_forwarding_disabled=excluded.path_forwarding_disabled, \
                     http_method=excluded.http_method, rate_limit=excluded.rate_limit, \
                     rate_limit_period=excluded.rate_limit_period, auth_method=excluded.auth_method, \
                     disabled_at=excluded.disabled_at, updated_at=excluded.updated_at \
                     WHERE destinations.project_id = excluded.project_id",
                    params![
                        d.id,
                        d.project_id,
                        d.name,
                        d.description,
                        d.url,
                        d.cli_path,
                        d.path_forwarding_disabled,
                        d.http_method,
                        d.rate_limit,
                        d.rate_limit_period.as_str(),
                        to_json(&d.auth_method)?,
                        d.disabled_at,
                        d.created_at,
                        d.updated_at
                    ],
                )
                .map_err(map_err)?;
            }
            Change::PutConnection(c) => {
                if c.project_id != project_id {
                    return Err(foreign());
                }
                // Both ends must exist in this project.
                let ok: bool = tx
                    .query_row(
                        "SELECT EXISTS(SELECT 1 FROM sources WHERE id = ?1 AND project_id = ?3) \
                         AND EXISTS(SELECT 1 FROM destinations WHERE id = ?2 AND project_id = ?3)",
                        params![c.source_id, c.destination_id, project_id],
                        |r| r.get(0),
                    )
                    .map_err(map_err)?;
                if !ok {
                    return Err(StoreError::InvalidReference("the source or destination does not exist".into()));
                }
                tx.execute(
                    "INSERT INTO connections (id, project_id, name, description, source_id, destination_id, rules, \
                     paused_at, disabled_at, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) \
                     ON CONFLICT(id) DO UPDATE SET name=excluded.name, description=excluded.description, \
                     source_id=excluded.source_id, destination_id=excluded.destination_id, rules=excluded.rules, \
                     paused_at=excluded.paused_at, disabled_at=excluded.disabled_at, updated_at=excluded.updated_at \
                     WHERE connections.project_id = excluded.project_id",
                    params![
                        c.id,
                        c.project_id,
                        c.name,
                        c.description,
                        c.source_id,
                        c.destination_id,
                        to_json(&c.rules)?,
                        c.paused_at,
                        c.disabled_at,
                        c.created_at,
                        c.updated_at
                    ],
                )
                .map_err(map_err)?;
            }
            Change::DeleteSource(id) => {
                cancel_pending(tx, "source_id", &id)?;
                delete(tx, "sources", project_id, &id)?
            }
            Change::DeleteDestination(id) => {
                cancel_pending(tx, "destination_id", &id)?;
                delete(tx, "destinations", project_id, &id)?
            }
            Change::DeleteConnection(id) => {
                cancel_pending(tx, "connection_id", &id)?;
                delete(tx, "connections", project_id, &id)?
            }
        }
    }
    Ok(())
}

/// Pending events of a deleted object can never be delivered: cancel them in the same
/// transaction (their history stays).
fn cancel_pending(tx: &Transaction<'_>, column: &str, id: &str) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "UPDATE events SET status = 'CANCELLED', next_attempt_at = NULL \
             WHERE {column} = ?1 AND (next_attempt_at IS NOT NULL OR status = 'HOLD')"
        ),
        params![id],
    )
    .map_err(map_err)?;
    Ok(())
}

fn delete(tx: &Transaction<'_>, table: &str, project_id: &str, id: &str) -> Result<(), StoreError> {
    let n = tx
        .execute(&format!("DELETE FROM {table} WHERE project_id = ?1 AND id = ?2"), params![project_id, id])
        .map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

// ---- requests ----

pub(crate) const REQUEST_COLUMNS: &str = "id, project_id, source_id, method, path, query, headers, NULL, body_size, \
     original_ip, verified, rejection_cause, events_count, ignored_count, cli_events_count, routed, ingested_at, \
     created_at, updated_at";
pub(crate) const REQUEST_COLUMNS_BODY: &str =
    "id, project_id, source_id, method, path, query, headers, body, body_size, \
     original_ip, verified, rejection_cause, events_count, ignored_count, cli_events_count, routed, ingested_at, \
     created_at, updated_at";
pub(crate) const REQUEST_BY_ID: &str =
    "SELECT id, project_id, source_id, method, path, query, headers, body, body_size, \
     original_ip, verified, rejection_cause, events_count, ignored_count, cli_events_count, routed, ingested_at, \
     created_at, updated_at FROM requests WHERE project_id = ?1 AND id = ?2";
pub(crate) const UNROUTED: &str = "SELECT id, project_id, source_id, method, path, query, headers, body, body_size, \
     original_ip, verified, rejection_cause, events_count, ignored_count, cli_events_count, routed, ingested_at, \
     created_at, updated_at FROM requests WHERE routed = 0 ORDER BY id LIMIT ?1";

pub(crate) fn request(r: &Row<'_>) -> rusqlite::Result<Request> {
    let cause: Option<String> = r.get(11)?;
    let body: Option<Vec<u8>> = r.get(7)?;
    Ok(Request {
        id: r.get(0)?,
        project_id: r.get(1)?,
        source_id: r.get(2)?,
        method: r.get(3)?,
        path: r.get(4)?,
        query: r.get(5)?,
        headers: json(r, 6)?,
        body: body.map(bytes::Bytes::from),
        body_size: r.get(8)?,
        original_ip: r.get(9)?,
        verified: r.get(10)?,
        rejection_cause: match cause {
            Some(c) => Some(RejectionCause::parse(&c).ok_or_else(|| bad_enum(11, "rejection cause"))?),
            None => None,
        },
        events_count: r.get(12)?,
        ignored_count: r.get(13)?,
        cli_events_count: r.get(14)?,
        routed: r.get(15)?,
        ingested_at: r.get(16)?,
        created_at: r.get(17)?,
        updated_at: r.get(18)?,
    })
}

pub(crate) fn request_with_body(r: &Row<'_>) -> rusqlite::Result<Request> {
    request(r)
}

/// Store a request; `headers` is `q.headers` as JSON (made by the caller, off the writer thread).
pub(crate) fn insert_request(hot: &mut Hot<'_>, q: &Request, headers: &str) -> Result<(), StoreError> {
    let st = hot.stmt(
            "INSERT INTO requests (id, project_id, source_id, method, path, query, headers, body, body_size, original_ip, \
             verified, rejection_cause, events_count, ignored_count, cli_events_count, routed, ingested_at, created_at, \
             updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
    )?;
    st.execute(params![
        q.id,
        q.project_id,
        q.source_id,
        q.method,
        q.path,
        q.query,
        headers,
        q.body.as_deref(),
        q.body_size,
        q.original_ip,
        q.verified,
        q.rejection_cause.map(|c| c.as_str()),
        q.events_count,
        q.ignored_count,
        q.cli_events_count,
        q.routed,
        q.ingested_at,
        q.created_at,
        q.updated_at
    ])
    .map_err(map_err)?;
    Ok(())
}

pub(crate) fn complete_routing(tx: &Transaction<'_>, hot: &mut Hot<'_>, r: &Routing) -> Result<(), StoreError> {
    insert_routing_rows(tx, hot, r, None)?;
    let mut upd = tx
        .prepare_cached(
            "UPDATE requests SET routed = 1, updated_at = ?2, \
             rejection_cause = COALESCE(rejection_cause, ?3), \
             events_count = (SELECT COUNT(*) FROM events e JOIN destinations d ON d.id = e.destination_id \
                             WHERE e.request_id = ?1 AND d.cli_path IS NULL), \
             cli_events_count = (SELECT COUNT(*) FROM events e JOIN destinations d ON d.id = e.destination_id \
                             WHERE e.request_id = ?1 AND d.cli_path IS NOT NULL), \
             ignored_count = (SELECT COUNT(*) FROM ignored_events WHERE request_id = ?1) \
             WHERE id = ?1",
        )
        .map_err(map_err)?;
    let n = upd.execute(params![r.request_id, r.now, r.rejection.map(|c| c.as_str())]).map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Store a request already routed (its counts set by the caller; `headers` as in
/// [`insert_request`]) with its routing's rows; returns the events leased per `r.lease` (the
/// queued ones: not those held by a pause).
pub(crate) fn insert_routed(
    tx: &Transaction<'_>,
    hot: &mut Hot<'_>,
    q: &Request,
    headers: &str,
    r: &Routing,
) -> Result<Vec<String>, StoreError> {
    insert_request(hot, q, headers)?;
    insert_routing_rows(tx, hot, r, r.lease.as_ref())
}

/// The rows of a routing: events (held when their connection is paused), ignored events,
/// transformation runs and transformed data. The events named by `lease` are stored leased
/// when they are stored queued (not held, not already there); returns those.
fn insert_routing_rows(
    tx: &Transaction<'_>,
    hot: &mut Hot<'_>,
    r: &Routing,
    lease: Option<&EventLease>,
) -> Result<Vec<String>, StoreError> {
    let mut leased = Vec::new();
    for connection_id in &r.replace_ignored {
        tx.execute(
            "DELETE FROM ignored_events WHERE request_id = ?1 AND connection_id = ?2",
            params![r.request_id, connection_id],
        )
        .map_err(map_err)?;
    }
    {
        // One row per statement, VALUES rather than INSERT … SELECT: SQLite gives a statement
        // that may write several rows a statement journal, a copy of every page it touches.
        const INSERT_EVENT: &str = "INSERT INTO events (id, project_id, request_id, connection_id, source_id, \
             destination_id, status, attempts, last_attempt_at, next_attempt_at, response_status, error_code, \
             successful_at, cli_id, created_at, updated_at, next_trigger, locked_until, locked_by) \
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,'INITIAL',?17,?18) \
             ON CONFLICT(request_id, connection_id) DO NOTHING";
        for e in &r.events {
            // Held while its connection is paused (a missing connection is not paused); a
            // held event whose connection is no longer paused is queued, due now.
            let paused = hot
                .stmt("SELECT paused_at FROM connections WHERE id = ?1")?
                .query_row([&e.connection_id], |row| row.get::<_, Option<i64>>(0))
                .optional()
                .map_err(map_err)?
                .flatten()
                .is_some();
            let (status, next_attempt_at) = match e.status {
                _ if paused => (EventStatus::Hold, None),
                EventStatus::Hold => (EventStatus::Queued, Some(e.created_at)),
                s => (s, e.next_attempt_at),
            };
            // Only a queued event is leased (a held one is not: `status` says paused already).
            let lease = lease.filter(|l| status == EventStatus::Queued && l.event_ids.contains(&e.id));
            let inserted = hot
                .stmt(INSERT_EVENT)?
                .execute(params![
                    e.id,
                    e.project_id,
                    e.request_id,
                    e.connection_id,
                    e.source_id,
                    e.destination_id,
                    status.as_str(),
                    e.attempts,
                    e.last_attempt_at,
                    next_attempt_at,
                    e.response_status,
                    e.error_code,
                    e.successful_at,
                    e.cli_id,
                    e.created_at,
                    e.updated_at,
                    lease.map(|l| l.until),
                    lease.map(|l| l.node.as_str())
                ])
                .map_err(map_err)?;
            if inserted == 1 && lease.is_some() {
                leased.push(e.id.clone());
            }
        }
        for i in &r.ignored {
            hot.stmt(
                "INSERT INTO ignored_events (id, project_id, request_id, connection_id, cause, meta, created_at, updated_at) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(request_id, connection_id) DO NOTHING",
            )?
            .execute(params![
                i.id,
                i.project_id,
                i.request_id,
                i.connection_id,
                i.cause.as_str(),
                i.meta.as_ref().map(to_json).transpose()?,
                i.created_at,
                i.updated_at
            ])
            .map_err(map_err)?;
        }
    }
    for e in &r.executions {
        crate::rules::insert_execution(tx, e)?;
    }
    for (event_id, data) in &r.event_data {
        tx.execute(
            "INSERT INTO event_data (event_id, data) VALUES (?1, ?2) ON CONFLICT(event_id) DO NOTHING",
            params![event_id, to_json(data)?],
        )
        .map_err(map_err)?;
    }
    Ok(leased)
}

// ---- events ----

/// The columns [`event`] reads, as a literal (so the statements below can be `concat!`ed).
macro_rules! event_columns {
    () => {
        "id, project_id, request_id, connection_id, source_id, destination_id, status, attempts, \
         last_attempt_at, next_attempt_at, response_status, error_code, successful_at, cli_id, created_at, updated_at"
    };
}

pub(crate) const EVENT_COLUMNS: &str = event_columns!();
pub(crate) const EVENT_BY_ID: &str =
    concat!("SELECT ", event_columns!(), " FROM events WHERE project_id = ?1 AND id = ?2");
/// An event by id alone, for a writer that has just changed it.
pub(crate) const EVENT_BY_ID_ONLY: &str = concat!("SELECT ", event_columns!(), " FROM events WHERE id = ?1");

pub(crate) fn event(r: &Row<'_>) -> rusqlite::Result<Event> {
    let status: String = r.get(6)?;
    Ok(Event {
        id: r.get(0)?,
        project_id: r.get(1)?,
        request_id: r.get(2)?,
        connection_id: r.get(3)?,
        source_id: r.get(4)?,
        destination_id: r.get(5)?,
        status: EventStatus::parse(&status).ok_or_else(|| bad_enum(6, "event status"))?,
        attempts: r.get(7)?,
        last_attempt_at: r.get(8)?,
        next_attempt_at: r.get(9)?,
        response_status: r.get(10)?,
        error_code: r.get(11)?,
        successful_at: r.get(12)?,
        cli_id: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

pub(crate) const IGNORED_COLUMNS: &str =
    "id, project_id, request_id, connection_id, cause, meta, created_at, updated_at";

pub(crate) fn ignored(r: &Row<'_>) -> rusqlite::Result<IgnoredEvent> {
    let cause: String = r.get(4)?;
    Ok(IgnoredEvent {
        id: r.get(0)?,
        project_id: r.get(1)?,
        request_id: r.get(2)?,
        connection_id: r.get(3)?,
        cause: IgnoredCause::parse(&cause).ok_or_else(|| bad_enum(4, "ignored cause"))?,
        meta: json_opt(r, 5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}
