//! The objects of a project, as Pier keeps them (not as any API version spells them).

use crate::rules::Rule;
use crate::verification::Verification;
use crate::Millis;
use serde::{Deserialize, Serialize};

/// An isolated tenant (Hookdeck's "team").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// Secret that signs deliveries (`x-hookdeck-signature`). Never shown by the API.
    pub signing_secret: String,
    /// The secret before the last rotation, still sent as `x-hookdeck-signature-2` until
    /// `previous_signing_secret_expires_at`.
    pub previous_signing_secret: Option<String>,
    pub previous_signing_secret_expires_at: Option<Millis>,
    pub created_at: Millis,
}

impl Project {
    /// A project with no previous signing secret.
    pub fn new(id: String, name: String, signing_secret: String, created_at: Millis) -> Project {
        Project {
            id,
            name,
            signing_secret,
            previous_signing_secret: None,
            previous_signing_secret_expires_at: None,
            created_at,
        }
    }
}

/// HTTP methods a source accepts by default.
pub const DEFAULT_ALLOWED_METHODS: [&str; 4] = ["POST", "PUT", "PATCH", "DELETE"];
/// Every method a source may list in `allowed_http_methods`.
pub const KNOWN_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseContentType {
    Json,
    Text,
    Xml,
}

impl ResponseContentType {
    pub fn mime(self) -> &'static str {
        match self {
            ResponseContentType::Json => "application/json",
            ResponseContentType::Text => "text/plain",
            ResponseContentType::Xml => "application/xml",
        }
    }
}

/// What a source answers instead of the SUCCESS body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomResponse {
    pub content_type: ResponseContentType,
    pub body: String,
}

/// An inbound URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub id: String,
    pub project_id: String,
    pub name: String,
    /// The secret-free token in the source URL: `/e/{key}`.
    pub key: String,
    pub description: Option<String>,
    pub allowed_http_methods: Vec<String>,
    pub custom_response: Option<CustomResponse>,
    pub verification: Option<Verification>,
    pub disabled_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitPeriod {
    #[default]
    Second,
    Minute,
    Hour,
    Concurrent,
}

impl RateLimitPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitPeriod::Second => "second",
            RateLimitPeriod::Minute => "minute",
            RateLimitPeriod::Hour => "hour",
            RateLimitPeriod::Concurrent => "concurrent",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "second" => RateLimitPeriod::Second,
            "minute" => RateLimitPeriod::Minute,
            "hour" => RateLimitPeriod::Hour,
            "concurrent" => RateLimitPeriod::Concurrent,
            _ => return None,
        })
    }
}

/// How deliveries authenticate to a destination. `config` holds secrets; the API masks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthMethod {
    /// `HOOKDECK_SIGNATURE`, `BASIC_AUTH`, `API_KEY`, `BEARER_TOKEN`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub config: serde_json::Map<String, serde_json::Value>,
}

impl Default for AuthMethod {
    fn default() -> Self {
        AuthMethod { kind: "HOOKDECK_SIGNATURE".into(), config: Default::default() }
    }
}

/// Where events go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: Option<String>,
    pub url: Option<String>,
    pub cli_path: Option<String>,
    pub path_forwarding_disabled: bool,
    pub http_method: Option<String>,
    pub rate_limit: Option<i64>,
    pub rate_limit_period: RateLimitPeriod,
    pub auth_method: AuthMethod,
    pub disabled_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Source → rules → destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: Option<String>,
    pub source_id: String,
    pub destination_id: String,
    pub rules: Vec<Rule>,
    pub paused_at: Option<Millis>,
    pub disabled_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Why a request produced no events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectionCause {
    SourceDisabled,
    NoConnection,
    VerificationFailed,
    UnsupportedHttpMethod,
    UnsupportedContentType,
    UnparsableJson,
    PayloadTooLarge,
    IngestionFatal,
    Unknown,
}

impl RejectionCause {
    pub const ALL: [RejectionCause; 9] = [
        RejectionCause::SourceDisabled,
        RejectionCause::NoConnection,
        RejectionCause::VerificationFailed,
        RejectionCause::UnsupportedHttpMethod,
        RejectionCause::UnsupportedContentType,
        RejectionCause::UnparsableJson,
        RejectionCause::PayloadTooLarge,
        RejectionCause::IngestionFatal,
        RejectionCause::Unknown,
    ];
    /// Pier's (2024-03-01) name, also used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCause::SourceDisabled => "SOURCE_DISABLED",
            RejectionCause::NoConnection => "NO_CONNECTION",
            RejectionCause::VerificationFailed => "VERIFICATION_FAILED",
            RejectionCause::UnsupportedHttpMethod => "UNSUPPORTED_HTTP_METHOD",
            RejectionCause::UnsupportedContentType => "UNSUPPORTED_CONTENT_TYPE",
            RejectionCause::UnparsableJson => "UNPARSABLE_JSON",
            RejectionCause::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            RejectionCause::IngestionFatal => "INGESTION_FATAL",
            RejectionCause::Unknown => "UNKNOWN",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One inbound HTTP request exactly as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: String,
    pub project_id: String,
    pub source_id: String,
    pub method: String,
    /// The path after the source key, starting with `/` (`/` when there is none).
    pub path: String,
    /// The raw query string without `?` (may be empty).
    pub query: String,
    /// Header names (lowercase) and values in arrival order; invalid UTF-8 is escaped as `\xNN`.
    pub headers: Vec<(String, String)>,
    /// Raw body bytes; `None` when not stored (a body over the limit).
    pub body: Option<bytes::Bytes>,
    pub body_size: i64,
    pub original_ip: Option<String>,
    pub verified: bool,
    pub rejection_cause: Option<RejectionCause>,
    pub events_count: i64,
    pub ignored_count: i64,
    pub cli_events_count: i64,
    /// False until routing has turned it into events (or found a rejection).
    pub routed: bool,
    pub ingested_at: Millis,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Request {
    /// Bytes of the body held in memory (0 when it was not stored).
    pub fn body_len(&self) -> usize {
        self.body.as_ref().map_or(0, |b| b.len())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventStatus {
    Scheduled,
    Queued,
    Hold,
    Successful,
    Failed,
    Cancelled,
}

impl EventStatus {
    pub const ALL: [EventStatus; 6] = [
        EventStatus::Scheduled,
        EventStatus::Queued,
        EventStatus::Hold,
        EventStatus::Successful,
        EventStatus::Failed,
        EventStatus::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Scheduled => "SCHEDULED",
            EventStatus::Queued => "QUEUED",
            EventStatus::Hold => "HOLD",
            EventStatus::Successful => "SUCCESSFUL",
            EventStatus::Failed => "FAILED",
            EventStatus::Cancelled => "CANCELLED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One request routed through one connection: the unit of delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub project_id: String,
    pub request_id: String,
    pub connection_id: String,
    pub source_id: String,
    pub destination_id: String,
    pub status: EventStatus,
    pub attempts: i64,
    pub last_attempt_at: Option<Millis>,
    pub next_attempt_at: Option<Millis>,
    pub response_status: Option<i64>,
    pub error_code: Option<String>,
    pub successful_at: Option<Millis>,
    pub cli_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Event {
    /// A new event of `request` through a connection, with no attempt yet.
    pub fn new(
        id: String,
        request: &Request,
        connection_id: String,
        destination_id: String,
        status: EventStatus,
        next_attempt_at: Option<Millis>,
        now: Millis,
    ) -> Event {
        Event {
            id,
            project_id: request.project_id.clone(),
            request_id: request.id.clone(),
            connection_id,
            source_id: request.source_id.clone(),
            destination_id,
            status,
            attempts: 0,
            last_attempt_at: None,
            next_attempt_at,
            response_status: None,
            error_code: None,
            successful_at: None,
            cli_id: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IgnoredCause {
    Disabled,
    Filtered,
    TransformationFailed,
    CliDisconnected,
    Duplicate,
}

impl IgnoredCause {
    pub const ALL: [IgnoredCause; 5] = [
        IgnoredCause::Disabled,
        IgnoredCause::Filtered,
        IgnoredCause::TransformationFailed,
        IgnoredCause::CliDisconnected,
        IgnoredCause::Duplicate,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoredCause::Disabled => "DISABLED",
            IgnoredCause::Filtered => "FILTERED",
            IgnoredCause::TransformationFailed => "TRANSFORMATION_FAILED",
            IgnoredCause::CliDisconnected => "CLI_DISCONNECTED",
            IgnoredCause::Duplicate => "DUPLICATE",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A request that a connection did not turn into an event.
#[derive(Debug, Clone, PartialEq)]
pub struct IgnoredEvent {
    pub id: String,
    pub project_id: String,
    pub request_id: String,
    pub connection_id: String,
    pub cause: IgnoredCause,
    pub meta: Option<serde_json::Value>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_names() {
        for c in RejectionCause::ALL {
            assert_eq!(RejectionCause::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(c.as_str()));
        }
        for s in EventStatus::ALL {
            assert_eq!(EventStatus::parse(s.as_str()), Some(s));
        }
        for c in IgnoredCause::ALL {
            assert_eq!(IgnoredCause::parse(c.as_str()), Some(c));
        }
        assert_eq!(RateLimitPeriod::parse("minute"), Some(RateLimitPeriod::Minute));
        assert_eq!(RateLimitPeriod::parse("day"), None);
    }
}

/// What started an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptTrigger {
    Initial,
    Automatic,
    Manual,
    BulkRetry,
    Unpause,
}

impl AttemptTrigger {
    pub const ALL: [AttemptTrigger; 5] = [
        AttemptTrigger::Initial,
        AttemptTrigger::Automatic,
        AttemptTrigger::Manual,
        AttemptTrigger::BulkRetry,
        AttemptTrigger::Unpause,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptTrigger::Initial => "INITIAL",
            AttemptTrigger::Automatic => "AUTOMATIC",
            AttemptTrigger::Manual => "MANUAL",
            AttemptTrigger::BulkRetry => "BULK_RETRY",
            AttemptTrigger::Unpause => "UNPAUSE",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One delivery try of an event, with the destination's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: String,
    pub project_id: String,
    pub event_id: String,
    pub destination_id: String,
    /// 1-based position among the event's attempts.
    pub attempt_number: i64,
    pub trigger: AttemptTrigger,
    /// `SUCCESSFUL` or `FAILED`.
    pub successful: bool,
    pub response_status: Option<i64>,
    pub error_code: Option<String>,
    /// The response body, capped; bytes that are not UTF-8 are replaced.
    pub body: Option<String>,
    pub requested_url: Option<String>,
    pub http_method: Option<String>,
    pub delivered_at: Option<Millis>,
    pub responded_at: Option<Millis>,
    pub delivery_latency: Option<i64>,
    pub response_latency: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A request as a transformation left it: what is delivered instead of the original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformedRequest {
    pub headers: Vec<(String, String)>,
    /// Bytes to deliver (`None`: no body).
    #[serde(with = "body_bytes")]
    pub body: Option<bytes::Bytes>,
    pub path: String,
    pub query: String,
}

mod body_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &Option<bytes::Bytes>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_some(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bytes::Bytes>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map(bytes::Bytes::from)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

/// Named JavaScript code with environment variables, used by transform rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transformation {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub code: String,
    /// Secret-ish configuration readable as `process.env.X`; never logged.
    pub env: serde_json::Map<String, serde_json::Value>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One console line of a transformation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleLine {
    #[serde(rename = "type")]
    pub level: String,
    pub message: String,
}

/// One run of a transformation on a request, with its console output or its error.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformationExecution {
    pub id: String,
    pub project_id: String,
    pub transformation_id: String,
    pub connection_id: Option<String>,
    pub request_id: Option<String>,
    /// `info` when it succeeded, `error` when it failed.
    pub log_level: String,
    pub logs: Vec<ConsoleLine>,
    pub error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A `pier listen` (or Hookdeck CLI) session: the connections it receives, and which node holds
/// its websocket (None while disconnected).
#[derive(Debug, Clone, PartialEq)]
pub struct CliSession {
    pub id: String,
    pub project_id: String,
    pub webhook_ids: Vec<String>,
    pub node: Option<String>,
    pub seen_at: Millis,
    pub created_at: Millis,
}

/// A saved request on a connection, replayed on demand (`POST /bookmarks/{id}/trigger`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bookmark {
    pub id: String,
    pub project_id: String,
    pub connection_id: String,
    /// The bookmarked request (Hookdeck's `event_data_id`).
    pub request_id: String,
    pub label: String,
    /// A unique, human-friendly name (Hookdeck's `name`, shown as `alias`).
    pub name: Option<String>,
    pub last_used_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A bulk operation over the events matching a query ("retry all matching"), processed in
/// batches of [`BatchOperation::BATCH_SIZE`] and resumable after a restart from `cursor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOperation {
    pub id: String,
    pub project_id: String,
    /// What it retries.
    pub kind: BatchKind,
    /// The query as the caller gave it (a JSON object, stored as text).
    pub query: String,
    /// Where the next batch starts (an opaque list cursor); `None` before the first batch.
    pub cursor: Option<String>,
    pub estimated_count: i64,
    pub processed_batch: i64,
    /// Events retried.
    pub completed_count: i64,
    /// Matching events that could not be retried (in flight, held by a paused connection, gone).
    pub failed_count: i64,
    pub cancelled_at: Option<Millis>,
    pub completed_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What a batch operation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BatchKind {
    /// Retry events (`/bulk/events/retry`).
    EventsRetry,
    /// Route requests again through their source's connections (`/bulk/requests/retry`).
    RequestsRetry,
    /// Route the requests of ignored events again through their connection
    /// (`/bulk/ignored-events/retry`).
    IgnoredEventsRetry,
}

impl BatchKind {
    pub const ALL: [BatchKind; 3] = [BatchKind::EventsRetry, BatchKind::RequestsRetry, BatchKind::IgnoredEventsRetry];
    pub fn as_str(self) -> &'static str {
        match self {
            BatchKind::EventsRetry => "events.retry",
            BatchKind::RequestsRetry => "requests.retry",
            BatchKind::IgnoredEventsRetry => "ignored_events.retry",
        }
    }
    pub fn parse(s: &str) -> Option<BatchKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl BatchOperation {
    pub const BATCH_SIZE: i64 = 100;

    pub fn estimated_batch(&self) -> i64 {
        Self::batches_for(self.estimated_count)
    }
    pub fn batches_for(count: i64) -> i64 {
        (count.max(0) + Self::BATCH_SIZE - 1) / Self::BATCH_SIZE
    }
    pub fn in_progress(&self) -> bool {
        self.cancelled_at.is_none() && self.completed_at.is_none()
    }
    /// From 0 to 1: the share of matching events looked at so far.
    pub fn progress(&self) -> f64 {
        if self.completed_at.is_some() {
            return 1.0;
        }
        let done = (self.completed_count + self.failed_count) as f64;
        if self.estimated_count <= 0 {
            0.0
        } else {
            (done / self.estimated_count as f64).min(1.0)
        }
    }
}
