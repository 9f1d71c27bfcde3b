//! Rows ↔ domain objects on PostgreSQL.

use pier_core::{
    Attempt, AttemptTrigger, AuthMethod, Connection, Destination, Event, EventStatus, IgnoredCause, IgnoredEvent,
    Project, RateLimitPeriod, RejectionCause, Request, Source,
};
use pier_store::StoreError;
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

/// Read a column, as a store error.
pub(crate) trait Get {
    fn g<'a, T: FromSql<'a>>(&'a self, idx: usize) -> Result<T, StoreError>;
}

impl Get for Row {
    fn g<'a, T: FromSql<'a>>(&'a self, idx: usize) -> Result<T, StoreError> {
        self.try_get(idx).map_err(|e| StoreError::Internal(format!("column {idx}: {e}")))
    }
}

fn bad(what: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} cannot be read"))
}

fn json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|_| bad(what))
}

fn json_opt<T: serde::de::DeserializeOwned>(s: Option<String>, what: &str) -> Result<Option<T>, StoreError> {
    s.map(|s| json(&s, what)).transpose()
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

pub(crate) const PROJECT: &str =
    "id, name, signing_secret, created_at, previous_signing_secret, previous_signing_secret_expires_at";

pub(crate) fn project(r: &Row) -> Result<Project, StoreError> {
    Ok(Project {
        id: r.g(0)?,
        name: r.g(1)?,
        signing_secret: r.g(2)?,
        created_at: r.g(3)?,
        previous_signing_secret: r.g(4)?,
        previous_signing_secret_expires_at: r.g(5)?,
    })
}

pub(crate) const SOURCE: &str = "id, project_id, name, key, description, allowed_http_methods, custom_response, \
     verification, disabled_at, created_at, updated_at";

pub(crate) fn source(r: &Row) -> Result<Source, StoreError> {
    Ok(Source {
        id: r.g(0)?,
        project_id: r.g(1)?,
        name: r.g(2)?,
        key: r.g(3)?,
        description: r.g(4)?,
        allowed_http_methods: json(r.g::<&str>(5)?, "allowed methods")?,
        custom_response: json_opt(r.g(6)?, "custom response")?,
        verification: json_opt(r.g(7)?, "verification")?,
        disabled_at: r.g(8)?,
        created_at: r.g(9)?,
        updated_at: r.g(10)?,
    })
}

pub(crate) const DESTINATION: &str = "id, project_id, name, description, url, cli_path, path_forwarding_disabled, \
     http_method, rate_limit, rate_limit_period, auth_method, disabled_at, created_at, updated_at";

pub(crate) fn destination(r: &Row) -> Result<Destination, StoreError> {
    let period: &str = r.g(9)?;
    Ok(Destination {
        id: r.g(0)?,
        project_id: r.g(1)?,
        name: r.g(2)?,
        description: r.g(3)?,
        url: r.g(4)?,
        cli_path: r.g(5)?,
        path_forwarding_disabled: r.g(6)?,
        http_method: r.g(7)?,
        rate_limit: r.g(8)?,
        rate_limit_period: RateLimitPeriod::parse(period).ok_or_else(|| bad("rate limit period"))?,
        auth_method: json::<AuthMethod>(r.g::<&str>(10)?, "auth method")?,
        disabled_at: r.g(11)?,
        created_at: r.g(12)?,
        updated_at: r.g(13)?,
    })
}

pub(crate) const CONNECTION: &str =
    "id, project_id, name, description, source_id, destination_id, rules, paused_at, disabled_at, created_at, updated_at";

pub(crate) fn connection(r: &Row) -> Result<Connection, StoreError> {
    Ok(Connection {
        id: r.g(0)?,
        project_id: r.g(1)?,
        name: r.g(2)?,
        description: r.g(3)?,
        source_id: r.g(4)?,
        destination_id: r.g(5)?,
        rules: json(r.g::<&str>(6)?, "rules")?,
        paused_at: r.g(7)?,
        disabled_at: r.g(8)?,
        created_at: r.g(9)?,
        updated_at: r.g(10)?,
    })
}

pub(crate) const REQUEST: &str = "id, project_id, source_id, method, path, query, headers, body, body_size, original_ip, \
     verified, rejection_cause, events_count, ignored_count, cli_events_count, routed, ingested_at, created_at, updated_at";
pub(crate) const REQUEST_NO_BODY: &str =
    "id, project_id, source_id, method, path, query, headers, NULL::bytea, body_size, \
     original_ip, verified, rejection_cause, events_count, ignored_count, cli_events_count, routed, ingested_at, \
     created_at, updated_at";

pub(crate) fn request(r: &Row) -> Result<Request, StoreError> {
    request_at(r, 0)
}

/// A request read from the columns starting at `o` (after a join).
pub(crate) fn request_at(r: &Row, o: usize) -> Result<Request, StoreError> {
    let cause: Option<String> = r.g(o + 11)?;
    let body: Option<Vec<u8>> = r.g(o + 7)?;
    Ok(Request {
        id: r.g(o)?,
        project_id: r.g(o + 1)?,
        source_id: r.g(o + 2)?,
        method: r.g(o + 3)?,
        path: r.g(o + 4)?,
        query: r.g(o + 5)?,
        headers: json(r.g::<&str>(o + 6)?, "headers")?,
        body: body.map(bytes::Bytes::from),
        body_size: r.g(o + 8)?,
        original_ip: r.g(o + 9)?,
        verified: r.g(o + 10)?,
        rejection_cause: match cause {
            Some(c) => Some(RejectionCause::parse(&c).ok_or_else(|| bad("rejection cause"))?),
            None => None,
        },
        events_count: r.g(o + 12)?,
        ignored_count: r.g(o + 13)?,
        cli_events_count: r.g(o + 14)?,
        routed: r.g(o + 15)?,
        ingested_at: r.g(o + 16)?,
        created_at: r.g(o + 17)?,
        updated_at: r.g(o + 18)?,
    })
}

pub(crate) const EVENT: &str =
    "id, project_id, request_id, connection_id, source_id, destination_id, status, attempts, \
     last_attempt_at, next_attempt_at, response_status, error_code, successful_at, cli_id, created_at, updated_at";

pub(crate) fn event(r: &Row) -> Result<Event, StoreError> {
    let status: &str = r.g(6)?;
    Ok(Event {
        id: r.g(0)?,
        project_id: r.g(1)?,
        request_id: r.g(2)?,
        connection_id: r.g(3)?,
        source_id: r.g(4)?,
        destination_id: r.g(5)?,
        status: EventStatus::parse(status).ok_or_else(|| bad("event status"))?,
        attempts: r.g(7)?,
        last_attempt_at: r.g(8)?,
        next_attempt_at: r.g(9)?,
        response_status: r.g(10)?,
        error_code: r.g(11)?,
        successful_at: r.g(12)?,
        cli_id: r.g(13)?,
        created_at: r.g(14)?,
        updated_at: r.g(15)?,
    })
}

pub(crate) const IGNORED: &str = "id, project_id, request_id, connection_id, cause, meta, created_at, updated_at";

pub(crate) fn ignored(r: &Row) -> Result<IgnoredEvent, StoreError> {
    let cause: &str = r.g(4)?;
    Ok(IgnoredEvent {
        id: r.g(0)?,
        project_id: r.g(1)?,
        request_id: r.g(2)?,
        connection_id: r.g(3)?,
        cause: IgnoredCause::parse(cause).ok_or_else(|| bad("ignored cause"))?,
        meta: json_opt(r.g(5)?, "meta")?,
        created_at: r.g(6)?,
        updated_at: r.g(7)?,
    })
}

pub(crate) const ATTEMPT: &str = "id, project_id, event_id, destination_id, attempt_number, trigger, successful, \
     response_status, error_code, body, requested_url, http_method, delivered_at, responded_at, delivery_latency, \
     response_latency, created_at, updated_at";

pub(crate) fn attempt(r: &Row) -> Result<Attempt, StoreError> {
    let trigger: &str = r.g(5)?;
    Ok(Attempt {
        id: r.g(0)?,
        project_id: r.g(1)?,
        event_id: r.g(2)?,
        destination_id: r.g(3)?,
        attempt_number: r.g(4)?,
        trigger: AttemptTrigger::parse(trigger).unwrap_or(AttemptTrigger::Initial),
        successful: r.g(6)?,
        response_status: r.g(7)?,
        error_code: r.g(8)?,
        body: r.g(9)?,
        requested_url: r.g(10)?,
        http_method: r.g(11)?,
        delivered_at: r.g(12)?,
        responded_at: r.g(13)?,
        delivery_latency: r.g(14)?,
        response_latency: r.g(15)?,
        created_at: r.g(16)?,
        updated_at: r.g(17)?,
    })
}

pub(crate) const TRANSFORMATION: &str = "id, project_id, name, code, env, created_at, updated_at";

pub(crate) fn transformation(r: &Row) -> Result<pier_core::Transformation, StoreError> {
    Ok(pier_core::Transformation {
        id: r.g(0)?,
        project_id: r.g(1)?,
        name: r.g(2)?,
        code: r.g(3)?,
        env: json(r.g::<&str>(4)?, "env")?,
        created_at: r.g(5)?,
        updated_at: r.g(6)?,
    })
}

pub(crate) const EXECUTION: &str =
    "id, project_id, transformation_id, connection_id, request_id, log_level, logs, error, created_at, updated_at";

pub(crate) fn execution(r: &Row) -> Result<pier_core::TransformationExecution, StoreError> {
    Ok(pier_core::TransformationExecution {
        id: r.g(0)?,
        project_id: r.g(1)?,
        transformation_id: r.g(2)?,
        connection_id: r.g(3)?,
        request_id: r.g(4)?,
        log_level: r.g(5)?,
        logs: json(r.g::<&str>(6)?, "logs")?,
        error: r.g(7)?,
        created_at: r.g(8)?,
        updated_at: r.g(9)?,
    })
}
