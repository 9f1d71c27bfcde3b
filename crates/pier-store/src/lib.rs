//! Pier's storage contract: the [`Store`] trait every backend implements, its errors, the list
//! query model, and [`conformance`], the one test story each backend must pass.
//!
//! Depends only on `pier-core`. Must not depend on a concrete database, on HTTP, or on the API
//! wire format; the server crate is the only place that picks a backend.

pub mod clock;
pub mod conformance;
mod error;
mod query;
pub mod sql;

pub use error::StoreError;
pub use query::{sortable, Cmp, Col, Cond, ListQuery, Listed, Page, Table, Val};

use async_trait::async_trait;
use pier_core::{
    Attempt, AttemptTrigger, BatchOperation, Bookmark, CliSession, Connection, Destination, Event, EventStatus,
    IgnoredEvent, Millis, Project, RejectionCause, Request, Source, Transformation, TransformationExecution,
    TransformedRequest,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One change to a project's configuration; [`Store::apply`] commits a list of them atomically.
#[derive(Debug, Clone)]
pub enum Change {
    /// Insert, or replace the row with the same id.
    PutSource(Source),
    PutDestination(Destination),
    PutConnection(Connection),
    /// Delete a source and its connections.
    DeleteSource(String),
    /// Delete a destination and its connections.
    DeleteDestination(String),
    DeleteConnection(String),
}

/// The outcome of routing one request: written at once, idempotently.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    pub request_id: String,
    pub events: Vec<Event>,
    pub ignored: Vec<IgnoredEvent>,
    /// Set when the request produced nothing at all (`NO_CONNECTION`).
    pub rejection: Option<RejectionCause>,
    pub now: pier_core::Millis,
    /// Connections whose ignored events for this request are removed first (a request retry
    /// re-routes them).
    pub replace_ignored: Vec<String>,
    /// What to deliver instead of the request, per event id (set by transformations).
    pub event_data: Vec<(String, TransformedRequest)>,
    /// The transformation runs of this routing, with their logs.
    pub executions: Vec<TransformationExecution>,
    /// Events to store already leased to a node, which delivers them from memory (see
    /// [`Store::leases_at_ingest`]); only the queued ones are leased.
    pub lease: Option<EventLease>,
}

/// A lease taken on events as they are stored.
#[derive(Debug, Clone, Default)]
pub struct EventLease {
    pub node: String,
    pub until: pier_core::Millis,
    pub event_ids: Vec<String>,
}

/// An event taken for delivery, with its request and what triggered this attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub event: Event,
    pub request: Request,
    pub trigger: AttemptTrigger,
    /// The transformed request to deliver instead of `request`, if a transformation ran.
    pub data: Option<TransformedRequest>,
}

/// The result of one attempt, written with the event's new state in one transaction.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt: Attempt,
    /// `SUCCESSFUL`, or `FAILED` (with `next_attempt_at` when a retry is scheduled).
    pub status: EventStatus,
    pub next_attempt_at: Option<Millis>,
    pub now: Millis,
}

/// Raw figures for the metrics API: per-minute counts and attempt latencies since a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsRaw {
    /// (minute index = ms / 60000, accepted requests, rejected requests)
    pub requests: Vec<(i64, i64, i64)>,
    /// (minute, events created)
    pub events: Vec<(i64, i64)>,
    /// (minute, successful, response latency ms) of attempts, at most 100 000 of the newest.
    pub attempts: Vec<(i64, bool, Option<i64>)>,
    /// (destination id, deliverable events waiting, earliest due time)
    pub queue: Vec<(String, i64, Option<Millis>)>,
}

/// Store `request` unrouted, then complete its routing: two commits, safe after a crash in
/// between (the routing worker finishes it). What [`Store::ingest_routed`] does by default.
pub async fn ingest_then_route<S: Store + ?Sized>(store: &S, request: Request, routing: Routing) -> Result<()> {
    let request = Request {
        routed: false,
        events_count: 0,
        ignored_count: 0,
        cli_events_count: 0,
        rejection_cause: None,
        ..request
    };
    store.ingest(request).await?;
    store.complete_routing(routing).await
}

/// Durable storage of everything Pier knows. All methods are scoped to a project where the
/// object belongs to one; a lookup with another project's id finds nothing.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Storage reachable and writable enough to serve (`/readyz`).
    async fn ping(&self) -> Result<()>;

    // ---- projects and keys ----
    async fn create_project(&self, project: &Project, key_hash: &str) -> Result<()>;
    async fn list_projects(&self) -> Result<Vec<Project>>;
    async fn project(&self, id: &str) -> Result<Option<Project>>;
    async fn project_by_key_hash(&self, key_hash: &str) -> Result<Option<Project>>;
    /// Replace every key of the project with one new key. `NotFound` for an unknown project.
    async fn replace_api_keys(&self, project_id: &str, key_hash: &str, now: pier_core::Millis) -> Result<()>;
    /// Add a key to a project (keeps its other keys). `NotFound` for an unknown project,
    /// `Conflict` when the key already belongs to a project.
    async fn add_api_key(&self, project_id: &str, key_hash: &str, now: pier_core::Millis) -> Result<()>;
    /// Set the project's delivery signing secret. `NotFound` for an unknown project.
    async fn set_signing_secret(&self, project_id: &str, secret: &str) -> Result<()>;

    // ---- configuration: sources, destinations, connections ----
    /// Commit all changes or none. `Conflict` on a duplicate name, `NotFound` when a delete
    /// finds nothing, `InvalidReference` when a connection names a missing source/destination.
    async fn apply(&self, project_id: &str, changes: Vec<Change>) -> Result<()>;
    async fn source(&self, project_id: &str, id: &str) -> Result<Option<Source>>;
    async fn source_by_name(&self, project_id: &str, name: &str) -> Result<Option<Source>>;
    /// The ingest lookup: by the key in `/e/{key}`, across projects.
    async fn source_by_key(&self, key: &str) -> Result<Option<Source>>;
    async fn list_sources(&self, project_id: &str, q: &ListQuery) -> Result<Page<Source>>;
    async fn destination(&self, project_id: &str, id: &str) -> Result<Option<Destination>>;
    async fn destination_by_name(&self, project_id: &str, name: &str) -> Result<Option<Destination>>;
    async fn list_destinations(&self, project_id: &str, q: &ListQuery) -> Result<Page<Destination>>;
    async fn connection(&self, project_id: &str, id: &str) -> Result<Option<Connection>>;
    async fn connection_by_name(&self, project_id: &str, source_id: &str, name: &str) -> Result<Option<Connection>>;
    async fn list_connections(&self, project_id: &str, q: &ListQuery) -> Result<Page<Connection>>;
    /// Rows of `table` in the project matching `conds`.
    async fn count(&self, project_id: &str, table: Table, conds: &[Cond]) -> Result<i64>;
    /// Every connection of a source (routing), enabled or not.
    async fn connections_of_source(&self, source_id: &str) -> Result<Vec<Connection>>;

    // ---- requests, routing, events ----
    /// Store an inbound request durably. Returns only after the commit (group commit: many
    /// concurrent calls share one transaction).
    async fn ingest(&self, request: Request) -> Result<()>;
    /// Whether [`Store::ingest_routed`] stores a request and its routing in one commit (else
    /// the server routes after the ingest commit, in its routing worker).
    fn routes_at_ingest(&self) -> bool {
        false
    }
    /// Store a request already routed (`routed`, its counts and rejection set from `routing`)
    /// together with its routing, in one commit. The default stores the request unrouted, then
    /// completes the routing (safe after a crash in between: the routing worker finishes it).
    ///
    /// Returns the ids of the events stored leased per `routing.lease` (none unless
    /// [`Store::leases_at_ingest`]).
    async fn ingest_routed(&self, request: Request, routing: Routing) -> Result<Vec<String>> {
        ingest_then_route(self, request, routing).await.map(|()| Vec::new())
    }
    /// Whether [`Store::ingest_routed`] honours `Routing::lease`: the events are stored leased
    /// (unless held), in the same commit, so the node may deliver them without claiming them.
    fn leases_at_ingest(&self) -> bool {
        false
    }
    /// A request with its body.
    async fn request(&self, project_id: &str, id: &str) -> Result<Option<Request>>;
    /// Requests without bodies (`body` is `None`) unless `with_bodies`.
    async fn list_requests(&self, project_id: &str, q: &ListQuery, with_bodies: bool) -> Result<Page<Request>>;
    /// Accepted requests not yet routed, oldest first, across projects. A backend shared by
    /// several nodes leases them briefly, so two nodes do not route the same request at once.
    async fn unrouted_requests(&self, limit: u32, node: &str) -> Result<Vec<Request>>;
    /// Write the outcome of routing; idempotent (one event per request and connection).
    async fn complete_routing(&self, routing: Routing) -> Result<()>;
    /// Write several routings (a backend may commit them together).
    async fn complete_routings(&self, routings: Vec<Routing>) -> Result<()> {
        for r in routings {
            self.complete_routing(r).await?;
        }
        Ok(())
    }
    async fn event(&self, project_id: &str, id: &str) -> Result<Option<Event>>;
    async fn list_events(&self, project_id: &str, q: &ListQuery) -> Result<Page<Event>>;
    async fn list_ignored_events(&self, project_id: &str, q: &ListQuery) -> Result<Page<IgnoredEvent>>;

    // ---- delivery ----
    /// Destinations with deliverable events (due time set, not held, not leased): project id,
    /// destination id and earliest due time, across projects.
    async fn due_destinations(&self, now: Millis) -> Result<Vec<(String, String, Millis)>>;
    /// The earliest due time of a destination's deliverable, unleased events.
    async fn next_due(&self, destination_id: &str, now: Millis) -> Result<Option<Millis>>;
    /// Lease up to `limit` events of a destination that are due at `now` (oldest due first)
    /// until `lease_until`. A leased event is not claimable again until its lease expires.
    /// The claim stops before the request bodies of the events it holds pass `max_bytes` (they
    /// are loaded into memory): an event past the bound is left with every later one.
    #[allow(clippy::too_many_arguments)]
    async fn claim_due(
        &self,
        destination_id: &str,
        now: Millis,
        limit: u32,
        max_bytes: u64,
        lease_until: Millis,
        node: &str,
    ) -> Result<Vec<Claimed>>;
    /// Lease one event now, whatever its state, for a manual retry (`trigger`). `Conflict` when
    /// another attempt holds it; `None` when it does not exist in the project.
    async fn claim_event(
        &self,
        project_id: &str,
        event_id: &str,
        trigger: AttemptTrigger,
        now: Millis,
        lease_until: Millis,
        node: &str,
    ) -> Result<Option<Claimed>>;
    /// Store an attempt and the event's new state, releasing the lease. A cancelled or held
    /// event keeps that status (unless this attempt succeeded).
    async fn record_attempt(&self, record: AttemptRecord) -> Result<Event>;
    /// At start-up: release the leases (and destination ownerships) a previous run of this
    /// node left behind. A single-node backend releases every lease.
    async fn release_leases_of(&self, node: &str) -> Result<u64>;
    /// Pause: the connection's pending events go to `HOLD`.
    async fn hold_events(&self, project_id: &str, connection_id: &str, now: Millis) -> Result<u64>;
    /// Unpause: `HOLD` events become due now, with trigger `UNPAUSE`; returns their destinations.
    async fn release_held_events(&self, project_id: &str, connection_id: &str, now: Millis) -> Result<Vec<String>>;
    /// Mute/cancel: no further attempts. `None` when the event does not exist in the project.
    async fn cancel_event(&self, project_id: &str, event_id: &str, now: Millis) -> Result<Option<Event>>;
    async fn attempt(&self, project_id: &str, id: &str) -> Result<Option<Attempt>>;
    async fn list_attempts(&self, project_id: &str, q: &ListQuery) -> Result<Page<Attempt>>;
    /// Take (or renew) the right to deliver to a destination until `until`: one node at a
    /// time, so a destination's rate limit holds for the whole gateway. `false` when another
    /// node holds it. Single-node backends always grant it.
    async fn own_destination(&self, destination_id: &str, node: &str, until: Millis, now: Millis) -> Result<bool>;
    /// Give up the right to deliver to a destination.
    async fn release_destination(&self, destination_id: &str, node: &str) -> Result<()>;
    /// Due-work notices from other nodes sharing the store (project, destination, due time);
    /// `None` for single-node backends. Taken once.
    fn subscribe_due(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<(String, String, Millis)>> {
        None
    }
    // ---- rules: transformations, executions, deduplication ----
    /// Insert or replace (by id) a transformation. `Conflict` on a duplicate name.
    async fn put_transformation(&self, t: &Transformation) -> Result<()>;
    async fn transformation(&self, project_id: &str, id: &str) -> Result<Option<Transformation>>;
    async fn transformation_by_name(&self, project_id: &str, name: &str) -> Result<Option<Transformation>>;
    async fn list_transformations(&self, project_id: &str, q: &ListQuery) -> Result<Page<Transformation>>;
    async fn delete_transformation(&self, project_id: &str, id: &str) -> Result<()>;
    async fn insert_execution(&self, e: &TransformationExecution) -> Result<()>;
    async fn execution(&self, project_id: &str, id: &str) -> Result<Option<TransformationExecution>>;
    async fn list_executions(&self, project_id: &str, q: &ListQuery) -> Result<Page<TransformationExecution>>;
    /// Deduplication: has this connection seen `key` within `window` ms before `now`? If not,
    /// remember it (for `request_id`). Routing the same request again is not a duplicate.
    async fn dedup_seen(
        &self,
        connection_id: &str,
        key: &str,
        request_id: &str,
        now: Millis,
        window: i64,
    ) -> Result<bool>;
    /// The transformed request of an event, if a transformation made one.
    async fn event_data(&self, event_id: &str) -> Result<Option<TransformedRequest>>;
    /// Figures for the metrics API since `since`.
    async fn metrics(&self, project_id: &str, since: Millis) -> Result<MetricsRaw>;

    // ---- CLI sessions ----
    /// Insert or replace a CLI session.
    async fn put_cli_session(&self, s: &CliSession) -> Result<()>;
    async fn cli_session(&self, project_id: &str, id: &str) -> Result<Option<CliSession>>;
    /// Whether a session receiving this connection is connected (seen since `since`) on any node.
    async fn cli_connected(&self, connection_id: &str, since: Millis) -> Result<bool>;
    /// Rotate the signing secret: the current one becomes the previous one until `expires_at`.
    async fn rotate_signing_secret(
        &self,
        project_id: &str,
        new_secret: &str,
        previous_expires_at: Millis,
    ) -> Result<()>;

    // ---- bookmarks ----
    /// Insert or replace a bookmark. `Conflict` when another bookmark of the project has its name.
    async fn put_bookmark(&self, b: &Bookmark) -> Result<()>;
    async fn bookmark(&self, project_id: &str, id: &str) -> Result<Option<Bookmark>>;
    async fn list_bookmarks(&self, project_id: &str, q: &ListQuery) -> Result<Page<Bookmark>>;
    /// `NotFound` when it does not exist in the project.
    async fn delete_bookmark(&self, project_id: &str, id: &str) -> Result<()>;
    /// Replay a bookmark: store `request` (a copy of the bookmarked one, already routed) with
    /// `event` on the bookmark's connection, due now with trigger `MANUAL`, and mark the bookmark
    /// used — all in one transaction.
    async fn trigger_bookmark(&self, bookmark_id: &str, request: Request, event: Event) -> Result<()>;

    // ---- retention ----
    /// Delete up to `limit` requests of the project created before `before` for which nothing
    /// is pending (no event due, held or leased) and that no bookmark keeps, with their events,
    /// attempts, ignored events, transformed data and transformation runs. Returns how many
    /// requests were deleted (fewer than `limit`: nothing more to delete now).
    async fn purge(&self, project_id: &str, before: Millis, limit: u32) -> Result<u64>;

    // ---- bulk operations ----
    /// Insert or replace a batch operation.
    async fn put_batch(&self, b: &BatchOperation) -> Result<()>;
    async fn batch(&self, project_id: &str, id: &str) -> Result<Option<BatchOperation>>;
    async fn list_batches(&self, project_id: &str, q: &ListQuery) -> Result<Page<BatchOperation>>;
    /// Batch operations neither completed nor cancelled, in every project (resumed at start-up).
    async fn unfinished_batches(&self) -> Result<Vec<BatchOperation>>;
    /// Make these events due now with `trigger` (a bulk retry). Events in flight (leased) or held
    /// by a paused connection are left alone. Returns the destination of each event requeued.
    async fn requeue_events(
        &self,
        project_id: &str,
        event_ids: &[String],
        trigger: AttemptTrigger,
        now: Millis,
    ) -> Result<Vec<String>>;
}
