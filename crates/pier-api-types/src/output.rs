//! Response shapes, per API version, built from domain objects. Secrets never appear here:
//! verification shows only its type, auth methods only their non-secret settings.

use crate::time::{format, format_opt};
use crate::version::ApiVersion;
use pier_core::{
    Connection, CustomResponse, Destination, Event, IgnoredCause, IgnoredEvent, RejectionCause, Request, Source,
};
use serde::Serialize;
use serde_json::{Map, Value};

/// `disabled_at`, and in 2023-07-01 also `archived_at` (that version's OpenAPI name; the
/// quickstart's 2023-07-01 responses show `disabled_at`, so both are sent there).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum DisabledAt {
    Archived { disabled_at: Option<String>, archived_at: Option<String> },
    Disabled { disabled_at: Option<String> },
}

impl DisabledAt {
    fn new(v: ApiVersion, at: Option<i64>) -> DisabledAt {
        let at = format_opt(at);
        if v.archived_names() {
            DisabledAt::Archived { disabled_at: at.clone(), archived_at: at }
        } else {
            DisabledAt::Disabled { disabled_at: at }
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerificationOut {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceOut {
    pub id: String,
    pub team_id: String,
    #[serde(flatten)]
    pub disabled: DisabledAt,
    pub updated_at: String,
    pub created_at: String,
    pub name: String,
    pub allowed_http_methods: Vec<String>,
    pub custom_response: Option<CustomResponse>,
    pub description: Option<String>,
    pub url: String,
    pub verification: Option<VerificationOut>,
}

/// The public URL of a source: `{public_url}/e/{key}`.
pub fn source_url(public_url: &str, key: &str) -> String {
    format!("{}/e/{key}", public_url.trim_end_matches('/'))
}

pub fn source(v: ApiVersion, s: &Source, public_url: &str) -> SourceOut {
    SourceOut {
        id: s.id.clone(),
        team_id: s.project_id.clone(),
        disabled: DisabledAt::new(v, s.disabled_at),
        updated_at: format(s.updated_at),
        created_at: format(s.created_at),
        name: s.name.clone(),
        allowed_http_methods: s.allowed_http_methods.clone(),
        custom_response: s.custom_response.clone(),
        description: s.description.clone(),
        url: source_url(public_url, &s.key),
        verification: s.verification.as_ref().map(|v| VerificationOut { kind: v.type_name().to_string() }),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuthMethodOut {
    #[serde(rename = "type")]
    pub kind: String,
    pub config: Map<String, Value>,
}

/// Auth method settings that are not secrets, and so may be shown.
const PUBLIC_AUTH_KEYS: [&str; 7] =
    ["username", "key", "to", "client_id", "scope", "auth_server", "authentication_type"];

pub fn auth_method(a: &pier_core::AuthMethod) -> AuthMethodOut {
    let config = a
        .config
        .iter()
        .filter(|(k, _)| PUBLIC_AUTH_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    AuthMethodOut { kind: a.kind.clone(), config }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DestinationOut {
    pub id: String,
    pub team_id: String,
    pub url: Option<String>,
    #[serde(flatten)]
    pub disabled: DisabledAt,
    pub updated_at: String,
    pub created_at: String,
    pub rate_limit: Option<i64>,
    pub rate_limit_period: &'static str,
    pub cli_path: Option<String>,
    pub path_forwarding_disabled: bool,
    pub name: String,
    pub http_method: Option<String>,
    pub auth_method: AuthMethodOut,
    pub description: Option<String>,
}

pub fn destination(v: ApiVersion, d: &Destination) -> DestinationOut {
    DestinationOut {
        id: d.id.clone(),
        team_id: d.project_id.clone(),
        url: d.url.clone(),
        disabled: DisabledAt::new(v, d.disabled_at),
        updated_at: format(d.updated_at),
        created_at: format(d.created_at),
        rate_limit: d.rate_limit,
        rate_limit_period: d.rate_limit_period.as_str(),
        cli_path: d.cli_path.clone(),
        path_forwarding_disabled: d.path_forwarding_disabled,
        name: d.name.clone(),
        http_method: d.http_method.clone(),
        auth_method: auth_method(&d.auth_method),
        description: d.description.clone(),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConnectionOut {
    pub id: String,
    pub team_id: String,
    #[serde(flatten)]
    pub disabled: DisabledAt,
    pub updated_at: String,
    pub created_at: String,
    pub paused_at: Option<String>,
    pub name: String,
    pub rules: Vec<pier_core::rules::Rule>,
    pub description: Option<String>,
    pub destination: DestinationOut,
    pub source: SourceOut,
    pub full_name: String,
}

pub fn connection(v: ApiVersion, c: &Connection, s: &Source, d: &Destination, public_url: &str) -> ConnectionOut {
    ConnectionOut {
        id: c.id.clone(),
        team_id: c.project_id.clone(),
        disabled: DisabledAt::new(v, c.disabled_at),
        updated_at: format(c.updated_at),
        created_at: format(c.created_at),
        paused_at: format_opt(c.paused_at),
        name: c.name.clone(),
        rules: c.rules.clone(),
        description: c.description.clone(),
        destination: destination(v, d),
        source: source(v, s, public_url),
        full_name: format!("{} -> {}", s.name, c.name),
    }
}

/// The request data block (`data`) of requests and events.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventData {
    pub path: String,
    pub query: Option<String>,
    pub parsed_query: Value,
    pub headers: Map<String, Value>,
    pub body: Value,
    pub is_large_payload: bool,
}

/// Bodies above this size are not inlined in `data` (read them from `raw_body`).
pub const LARGE_PAYLOAD: usize = 512 * 1024;

pub fn event_data(r: &Request) -> EventData {
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        match headers.get_mut(k) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(v);
            }
            _ => {
                headers.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    let large = r.body_size as usize > LARGE_PAYLOAD;
    let body = match (&r.body, large) {
        (Some(b), false) if !b.is_empty() => match serde_json::from_slice::<Value>(b) {
            Ok(v) => v,
            Err(_) => Value::String(String::from_utf8_lossy(b).into_owned()),
        },
        _ => Value::Null,
    };
    EventData {
        path: r.path.clone(),
        query: (!r.query.is_empty()).then(|| r.query.clone()),
        parsed_query: parse_query(&r.query),
        headers,
        body,
        is_large_payload: large,
    }
}

/// `a=1&b=x&b=y&c` → `{"a":"1","b":["x","y"],"c":""}`.
pub fn parse_query(q: &str) -> Value {
    let mut out = Map::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = decode_component(k);
        let v = Value::String(decode_component(v));
        match out.get_mut(&k) {
            Some(Value::Array(a)) => a.push(v),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, v]);
            }
            None => {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn rejection_cause(v: ApiVersion, c: RejectionCause) -> &'static str {
    match (v.archived_names(), c) {
        (true, RejectionCause::SourceDisabled) => "SOURCE_ARCHIVED",
        (true, RejectionCause::NoConnection) => "NO_WEBHOOK",
        _ => c.as_str(),
    }
}

/// Parse a rejection cause in the names of `v` (the other version's names are accepted too).
pub fn parse_rejection_cause(s: &str) -> Option<RejectionCause> {
    match s {
        "SOURCE_ARCHIVED" => Some(RejectionCause::SourceDisabled),
        "NO_WEBHOOK" => Some(RejectionCause::NoConnection),
        other => RejectionCause::parse(other),
    }
}

pub fn ignored_cause(v: ApiVersion, c: IgnoredCause) -> &'static str {
    match (v.archived_names(), c) {
        (true, IgnoredCause::Disabled) => "ARCHIVED",
        _ => c.as_str(),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestOut {
    pub id: String,
    pub team_id: String,
    pub verified: bool,
    pub original_event_data_id: Option<String>,
    pub rejection_cause: Option<&'static str>,
    pub ingest_priority: &'static str,
    pub ingested_at: String,
    pub source_id: String,
    pub events_count: i64,
    pub cli_events_count: i64,
    pub ignored_count: i64,
    pub updated_at: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<EventData>,
}

pub fn request(v: ApiVersion, r: &Request, with_data: bool) -> RequestOut {
    RequestOut {
        id: r.id.clone(),
        team_id: r.project_id.clone(),
        verified: r.verified,
        original_event_data_id: None,
        rejection_cause: r.rejection_cause.map(|c| rejection_cause(v, c)),
        ingest_priority: "NORMAL",
        ingested_at: format(r.ingested_at),
        source_id: r.source_id.clone(),
        events_count: r.events_count,
        cli_events_count: r.cli_events_count,
        ignored_count: r.ignored_count,
        updated_at: format(r.updated_at),
        created_at: format(r.created_at),
        data: with_data.then(|| event_data(r)),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventOut {
    pub id: String,
    pub team_id: String,
    pub webhook_id: String,
    pub source_id: String,
    pub destination_id: String,
    pub event_data_id: String,
    pub request_id: String,
    pub attempts: i64,
    pub last_attempt_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub response_status: Option<i64>,
    pub error_code: Option<String>,
    pub status: &'static str,
    pub successful_at: Option<String>,
    pub cli_id: Option<String>,
    pub updated_at: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<EventData>,
}

/// An event; `data` is the request's data when given.
pub fn event(_v: ApiVersion, e: &Event, data: Option<&Request>) -> EventOut {
    EventOut {
        id: e.id.clone(),
        team_id: e.project_id.clone(),
        webhook_id: e.connection_id.clone(),
        source_id: e.source_id.clone(),
        destination_id: e.destination_id.clone(),
        event_data_id: e.request_id.clone(),
        request_id: e.request_id.clone(),
        attempts: e.attempts,
        last_attempt_at: format_opt(e.last_attempt_at),
        next_attempt_at: format_opt(e.next_attempt_at),
        response_status: e.response_status,
        error_code: e.error_code.clone(),
        status: e.status.as_str(),
        successful_at: format_opt(e.successful_at),
        cli_id: e.cli_id.clone(),
        updated_at: format(e.updated_at),
        created_at: format(e.created_at),
        data: data.map(event_data),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IgnoredEventOut {
    pub id: String,
    pub team_id: String,
    pub webhook_id: String,
    pub cause: &'static str,
    pub request_id: String,
    pub meta: Option<Value>,
    pub updated_at: String,
    pub created_at: String,
}

pub fn ignored_event(v: ApiVersion, i: &IgnoredEvent) -> IgnoredEventOut {
    IgnoredEventOut {
        id: i.id.clone(),
        team_id: i.project_id.clone(),
        webhook_id: i.connection_id.clone(),
        cause: ignored_cause(v, i.cause),
        request_id: i.request_id.clone(),
        meta: i.meta.clone(),
        updated_at: format(i.updated_at),
        created_at: format(i.created_at),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttemptOut {
    pub id: String,
    pub team_id: String,
    pub event_id: String,
    pub destination_id: String,
    pub response_status: Option<i64>,
    pub attempt_number: i64,
    pub trigger: &'static str,
    pub error_code: Option<String>,
    pub body: Option<Value>,
    pub requested_url: Option<String>,
    pub http_method: Option<String>,
    pub bulk_retry_id: Option<String>,
    pub status: &'static str,
    pub successful_at: Option<String>,
    pub delivered_at: Option<String>,
    pub responded_at: Option<String>,
    pub delivery_latency: Option<i64>,
    pub response_latency: Option<i64>,
    pub state: &'static str,
    pub updated_at: String,
    pub created_at: String,
}

pub fn attempt(_v: ApiVersion, a: &pier_core::Attempt) -> AttemptOut {
    // A JSON response body is shown as JSON, anything else as text.
    let body = a.body.as_ref().map(|b| serde_json::from_str::<Value>(b).unwrap_or_else(|_| Value::String(b.clone())));
    AttemptOut {
        id: a.id.clone(),
        team_id: a.project_id.clone(),
        event_id: a.event_id.clone(),
        destination_id: a.destination_id.clone(),
        response_status: a.response_status,
        attempt_number: a.attempt_number,
        trigger: a.trigger.as_str(),
        error_code: a.error_code.clone(),
        body,
        requested_url: a.requested_url.clone(),
        http_method: a.http_method.clone(),
        bulk_retry_id: None,
        status: if a.successful { "SUCCESSFUL" } else { "FAILED" },
        successful_at: if a.successful { format_opt(a.responded_at) } else { None },
        delivered_at: format_opt(a.delivered_at),
        responded_at: format_opt(a.responded_at),
        delivery_latency: a.delivery_latency,
        response_latency: a.response_latency,
        state: "COMPLETED",
        updated_at: format(a.updated_at),
        created_at: format(a.created_at),
    }
}

/// `POST /events/{id}/retry`: the event and the attempt just made.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RetriedEvent {
    pub event: EventOut,
    pub attempt: AttemptOut,
}

/// `POST /requests/{id}/retry`: the request and the events it produced.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RetriedRequest {
    pub request: RequestOut,
    pub events: Vec<EventOut>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TransformationOut {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub code: String,
    pub encrypted_env: Option<String>,
    pub iv: Option<String>,
    pub env: Map<String, Value>,
    pub updated_at: String,
    pub created_at: String,
}

pub fn transformation(t: &pier_core::Transformation) -> TransformationOut {
    TransformationOut {
        id: t.id.clone(),
        team_id: t.project_id.clone(),
        name: t.name.clone(),
        code: t.code.clone(),
        encrypted_env: None,
        iv: None,
        env: t.env.clone(),
        updated_at: format(t.updated_at),
        created_at: format(t.created_at),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExecutionOut {
    pub id: String,
    pub team_id: String,
    pub transformation_id: String,
    pub webhook_id: Option<String>,
    pub original_event_data_id: Option<String>,
    pub transformed_event_data_id: Option<String>,
    pub log_level: String,
    pub logs: Vec<pier_core::ConsoleLine>,
    pub error: Option<String>,
    pub issue_id: Option<String>,
    pub updated_at: String,
    pub created_at: String,
}

pub fn execution(e: &pier_core::TransformationExecution) -> ExecutionOut {
    ExecutionOut {
        id: e.id.clone(),
        team_id: e.project_id.clone(),
        transformation_id: e.transformation_id.clone(),
        webhook_id: e.connection_id.clone(),
        original_event_data_id: e.request_id.clone(),
        transformed_event_data_id: None,
        log_level: e.log_level.clone(),
        logs: e.logs.clone(),
        error: e.error.clone(),
        issue_id: None,
        updated_at: format(e.updated_at),
        created_at: format(e.created_at),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pagination {
    pub order_by: String,
    pub dir: String,
    pub limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Paginated<T> {
    pub pagination: Pagination,
    pub count: usize,
    pub models: Vec<T>,
}

/// `{"id": …}`: the answer to a delete.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Deleted {
    pub id: String,
}

/// `{"body": …}`: the answer to `raw_body`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RawBody {
    pub body: String,
}

/// `{"count": …}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Count {
    pub count: i64,
}

/// The SUCCESS body a source answers with when it has no custom response.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IngestSuccess {
    pub status: &'static str,
    pub message: String,
    pub request_id: String,
}

pub fn ingest_success(request_id: &str) -> IngestSuccess {
    IngestSuccess {
        status: "SUCCESS",
        message: format!("Request successfully handled. Request ID: {request_id}"),
        request_id: request_id.to_string(),
    }
}

/// The SUCCESS body as JSON text, written out directly (every ingest answers with it): the
/// same text serde makes of [`ingest_success`], which it falls back to for an id that would
/// need escaping.
pub fn ingest_success_json(request_id: &str) -> String {
    if !request_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return serde_json::to_string(&ingest_success(request_id)).unwrap_or_default();
    }
    let mut s = String::with_capacity(96 + 2 * request_id.len());
    s.push_str(r#"{"status":"SUCCESS","message":"Request successfully handled. Request ID: "#);
    s.push_str(request_id);
    s.push_str(r#"","request_id":""#);
    s.push_str(request_id);
    s.push_str(r#""}"#);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use pier_core::verification::Verification;
    use serde_json::json;

    #[test]
    fn the_success_body_is_what_serde_makes() {
        for id in ["req_0AboKHR1mVPBKAIqKyS", "", "req_\"quoted\"\n", "req_é"] {
            let direct: serde_json::Value = serde_json::from_str(&ingest_success_json(id)).unwrap();
            assert_eq!(direct, serde_json::to_value(ingest_success(id)).unwrap(), "{id}");
            assert_eq!(ingest_success_json(id), serde_json::to_string(&ingest_success(id)).unwrap());
        }
    }

    fn src() -> Source {
        Source {
            id: "src_1".into(),
            project_id: "tm_1".into(),
            name: "inbound-api".into(),
            key: "abc".into(),
            description: None,
            allowed_http_methods: vec!["POST".into()],
            custom_response: None,
            verification: Some(Verification::ApiKey { header_key: "X-API-KEY".into(), api_key: "secret".into() }),
            disabled_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn source_hides_secrets_and_names_disabled_per_version() {
        let v23 = serde_json::to_value(source(ApiVersion::V2023_07_01, &src(), "http://h:1/")).unwrap();
        assert_eq!(v23["verification"], json!({"type": "api_key"}));
        assert_eq!(v23["url"], "http://h:1/e/abc");
        assert!(v23.get("archived_at").is_some() && v23.get("disabled_at").is_some());
        assert!(!v23.to_string().contains("secret"));
        let v24 = serde_json::to_value(source(ApiVersion::V2024_03_01, &src(), "http://h:1")).unwrap();
        assert!(v24.get("disabled_at").is_some() && v24.get("archived_at").is_none());
    }

    #[test]
    fn auth_method_shows_only_public_settings() {
        let mut config = Map::new();
        config.insert("username".into(), json!("u"));
        config.insert("password".into(), json!("p"));
        let out = auth_method(&pier_core::AuthMethod { kind: "BASIC_AUTH".into(), config });
        assert_eq!(serde_json::to_value(out).unwrap(), json!({"type": "BASIC_AUTH", "config": {"username": "u"}}));
    }

    #[test]
    fn enum_names_per_version() {
        assert_eq!(rejection_cause(ApiVersion::V2023_07_01, RejectionCause::NoConnection), "NO_WEBHOOK");
        assert_eq!(rejection_cause(ApiVersion::V2024_03_01, RejectionCause::NoConnection), "NO_CONNECTION");
        assert_eq!(rejection_cause(ApiVersion::V2023_07_01, RejectionCause::SourceDisabled), "SOURCE_ARCHIVED");
        assert_eq!(ignored_cause(ApiVersion::V2023_07_01, IgnoredCause::Disabled), "ARCHIVED");
        assert_eq!(parse_rejection_cause("NO_WEBHOOK"), Some(RejectionCause::NoConnection));
    }

    #[test]
    fn query_strings_parse() {
        assert_eq!(parse_query("a=1&b=x&b=y&c&d=%20%zz+"), json!({"a": "1", "b": ["x", "y"], "c": "", "d": " %zz "}));
        assert_eq!(parse_query(""), json!({}));
        assert_eq!(parse_query("x=%"), json!({"x": "%"}));
        assert_eq!(parse_query("x=%\u{e9}1"), json!({"x": "%\u{e9}1"}));
        assert_eq!(parse_query("x=%41"), json!({"x": "A"}));
    }
}

/// A bookmark; `data` is the bookmarked request's data when it still exists.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BookmarkOut {
    pub id: String,
    pub team_id: String,
    pub webhook_id: String,
    pub event_data_id: String,
    pub label: String,
    pub alias: Option<String>,
    pub data: Option<EventData>,
    pub last_used_at: Option<String>,
    pub updated_at: String,
    pub created_at: String,
}

pub fn bookmark(b: &pier_core::Bookmark, data: Option<&Request>) -> BookmarkOut {
    BookmarkOut {
        id: b.id.clone(),
        team_id: b.project_id.clone(),
        webhook_id: b.connection_id.clone(),
        event_data_id: b.request_id.clone(),
        label: b.label.clone(),
        alias: b.name.clone(),
        data: data.map(event_data),
        last_used_at: b.last_used_at.map(format),
        updated_at: format(b.updated_at),
        created_at: format(b.created_at),
    }
}

/// A bulk retry and its progress.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BatchOperationOut {
    pub id: String,
    pub team_id: String,
    pub query: Value,
    pub created_at: String,
    pub updated_at: String,
    pub cancelled_at: Option<String>,
    pub completed_at: Option<String>,
    pub estimated_batch: i64,
    pub estimated_count: i64,
    pub processed_batch: i64,
    pub completed_count: i64,
    pub in_progress: bool,
    pub progress: f64,
    pub failed_count: i64,
}

pub fn batch_operation(b: &pier_core::BatchOperation) -> BatchOperationOut {
    BatchOperationOut {
        id: b.id.clone(),
        team_id: b.project_id.clone(),
        query: serde_json::from_str(&b.query).unwrap_or(Value::Null),
        created_at: format(b.created_at),
        updated_at: format(b.updated_at),
        cancelled_at: b.cancelled_at.map(format),
        completed_at: b.completed_at.map(format),
        estimated_batch: b.estimated_batch(),
        estimated_count: b.estimated_count,
        processed_batch: b.processed_batch,
        completed_count: b.completed_count,
        in_progress: b.in_progress(),
        progress: b.progress(),
        failed_count: b.failed_count,
    }
}

/// The plan of a bulk retry: what it would do, before doing it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BatchPlan {
    pub estimated_batch: i64,
    pub estimated_count: i64,
    pub progress: f64,
}
