//! The routing worker: reads committed, unrouted requests and writes their events and ignored
//! events (idempotently, so a crash between the ingest commit and routing only delays it).

use crate::clock::now_ms;
use crate::rules::{self, Compiled};
use crate::state::AppState;
use futures::{StreamExt, TryStreamExt};
use pier_core::routing::Outcome;
use pier_core::{Connection, Event, EventStatus, IdKind, IgnoredEvent, RejectionCause, Request};
use pier_store::Routing;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const BATCH: u32 = 512;
/// Even without a wake-up, look for work this often (e.g. requests stored by another process).
const IDLE_POLL: Duration = Duration::from_secs(2);

/// Run until `shutdown` turns true; finishes the batch in hand first.
pub async fn run(st: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        match route_pending(&st).await {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "routing failed; will retry");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
        }
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = st.routing_wake.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
            _ = shutdown.changed() => {
                // One last pass so requests acknowledged just before shutdown get routed.
                let _ = route_pending(&st).await;
                return;
            }
        }
    }
}

/// Route everything pending now; returns how many requests were routed.
pub async fn route_pending(st: &AppState) -> Result<usize, pier_store::StoreError> {
    let mut total = 0;
    loop {
        let batch = st.store.unrouted_requests(BATCH, &st.node_id).await?;
        if batch.is_empty() {
            return Ok(total);
        }
        let n = batch.len();
        let mut connections: HashMap<String, Vec<Connection>> = HashMap::new();
        let mut compiled: HashMap<String, Arc<Compiled>> = HashMap::new();
        for request in &batch {
            if !connections.contains_key(&request.source_id) {
                let cs = connections_for_routing(st, &request.source_id).await?;
                compile_into(st, &cs, &mut compiled).await?;
                connections.insert(request.source_id.clone(), cs);
            }
        }
        // Plan the batch concurrently (rules may wait on the sandbox or the store), in order.
        let now = now_ms();
        let mut plans = Vec::with_capacity(n);
        for request in &batch {
            let cs = connections.get(&request.source_id).map(Vec::as_slice).unwrap_or_default();
            plans.push(plan(st, request, cs, &compiled, now));
        }
        let routings: Vec<Routing> = futures::stream::iter(plans).buffered(PLAN_CONCURRENCY).try_collect().await?;
        // Written together: one commit for the batch.
        let due: Vec<Vec<(String, String, i64)>> = routings.iter().map(due_events).collect();
        routings.iter().for_each(count_routed);
        st.store.complete_routings(routings).await?;
        for (project, dest, at) in due.into_iter().flatten() {
            st.delivery.notify(&project, &dest, at);
        }
        total += n;
        if n < BATCH as usize {
            return Ok(total);
        }
    }
}

/// Route a stored request again through `chosen` connections (a request retry): those that
/// ignored it get a new chance (their ignored events are replaced); those with an event keep it.
pub async fn reroute(st: &AppState, request: &Request, chosen: &[Connection]) -> Result<(), pier_store::StoreError> {
    let mut compiled = HashMap::new();
    compile_into(st, chosen, &mut compiled).await?;
    let mut routing = plan(st, request, chosen, &compiled, now_ms()).await?;
    routing.replace_ignored = chosen.iter().map(|c| c.id.clone()).collect();
    let due = due_events(&routing);
    count_routed(&routing);
    st.store.complete_routing(routing).await?;
    for (project, dest, at) in due {
        st.delivery.notify(&project, &dest, at);
    }
    Ok(())
}

/// A source's connections with their compiled rules, as ingest routes with them.
pub struct RoutePlan {
    pub connections: Vec<Connection>,
    pub compiled: HashMap<String, Arc<Compiled>>,
}

/// The routes of a source when its requests can be routed at ingest: the store commits a
/// request with its routing, and every rule is quick and needs no store (filters, delays,
/// retries; no transformation, deduplication or CLI destination). `None` otherwise. Cached for
/// a second (cleared by this node's configuration changes).
pub async fn inline_plan(st: &AppState, source_id: &str) -> Result<Option<Arc<RoutePlan>>, pier_store::StoreError> {
    if !st.store.routes_at_ingest() {
        return Ok(None);
    }
    if let Some(cached) = st.sources.route(source_id) {
        return Ok(cached);
    }
    let generation = st.sources.generation();
    let connections = connections_for_routing(st, source_id).await?;
    let mut compiled = HashMap::new();
    compile_into(st, &connections, &mut compiled).await?;
    let inline = compiled.values().all(|c| c.inline_safe());
    let plan = inline.then(|| Arc::new(RoutePlan { connections, compiled }));
    st.sources.put_route(source_id, plan.clone(), generation);
    Ok(plan)
}

/// A source's connections as routing sees them: a disabled destination disables every
/// connection to it.
pub(crate) async fn connections_for_routing(
    st: &AppState,
    source_id: &str,
) -> Result<Vec<Connection>, pier_store::StoreError> {
    let mut cs = st.store.connections_of_source(source_id).await?;
    for c in cs.iter_mut().filter(|c| c.disabled_at.is_none()) {
        if let Some(d) = st.store.destination(&c.project_id, &c.destination_id).await? {
            c.disabled_at = d.disabled_at;
        }
    }
    Ok(cs)
}

/// Count a stored routing's events and ignored events (Prometheus).
pub(crate) fn count_routed(r: &Routing) {
    for e in &r.events {
        metrics::counter!("pier_events_total", "connection_id" => e.connection_id.clone()).increment(1);
    }
    for i in &r.ignored {
        metrics::counter!("pier_ignored_events_total", "connection_id" => i.connection_id.clone(), "cause" => i.cause.as_str())
            .increment(1);
    }
}

/// The (project, destination, due time) of each deliverable event of a routing.
pub(crate) fn due_events(r: &Routing) -> Vec<(String, String, i64)> {
    let leased = r.lease.as_ref().map_or(&[][..], |l| l.event_ids.as_slice());
    r.events
        .iter()
        .filter(|e| !leased.contains(&e.id))
        .filter_map(|e| e.next_attempt_at.map(|at| (e.project_id.clone(), e.destination_id.clone(), at)))
        .collect()
}

/// Offer the events of `r` due now to their lanes on this node (see `Delivery::offer`); the
/// ones a lane takes are stored leased (`r.lease`) and handed to it after the commit, with no
/// claim from the store. `body_bytes`: the request's body, which each event handed holds in
/// the delivery engine's body budget. Returns how many events each destination's lane took.
pub(crate) fn offer_to_lanes(st: &AppState, r: &mut Routing, now: i64, body_bytes: usize) -> Vec<(String, usize)> {
    if !st.store.leases_at_ingest() {
        return Vec::new();
    }
    let mut by_dest: Vec<(String, Vec<String>)> = Vec::new();
    for e in r.events.iter().filter(|e| e.status == EventStatus::Queued && e.next_attempt_at.is_some_and(|t| t <= now))
    {
        match by_dest.iter_mut().find(|(d, _)| *d == e.destination_id) {
            Some((_, ids)) => ids.push(e.id.clone()),
            None => by_dest.push((e.destination_id.clone(), vec![e.id.clone()])),
        }
    }
    let mut offered = Vec::new();
    for (dest, ids) in by_dest {
        if let Some(lease) = st.delivery.offer(&dest, ids.len(), body_bytes) {
            offered.push((dest, ids.len()));
            let l = r.lease.get_or_insert_with(|| pier_store::EventLease {
                node: lease.node,
                until: lease.until,
                event_ids: Vec::new(),
            });
            l.event_ids.extend(ids);
        }
    }
    offered
}

/// After the commit: hand the offered `events` that were stored leased to their lanes.
pub(crate) fn hand_off(
    st: &AppState,
    offered: Vec<(String, usize)>,
    leased: &[String],
    request: pier_core::Request,
    events: Vec<Event>,
) {
    let mut events: Vec<Event> = events.into_iter().filter(|e| leased.contains(&e.id)).collect();
    for (dest, n) in offered {
        let (mine, rest): (Vec<Event>, Vec<Event>) = events.into_iter().partition(|e| e.destination_id == dest);
        events = rest;
        let claimed = mine
            .into_iter()
            .map(|event| pier_store::Claimed {
                event,
                request: request.clone(),
                trigger: pier_core::AttemptTrigger::Initial,
                data: None,
            })
            .collect();
        st.delivery.hand_off(&dest, n, claimed);
    }
}

/// How many requests of a batch are planned at once.
const PLAN_CONCURRENCY: usize = 32;

/// Compile the rules of `connections` (once per batch) into `compiled`.
pub(crate) async fn compile_into(
    st: &AppState,
    connections: &[Connection],
    compiled: &mut HashMap<String, Arc<Compiled>>,
) -> Result<(), pier_store::StoreError> {
    for c in connections {
        if !compiled.contains_key(&c.id) {
            let d = st.store.destination(&c.project_id, &c.destination_id).await?;
            let cli = d.is_some_and(|d| d.url.is_none() && d.cli_path.is_some());
            compiled.insert(c.id.clone(), Arc::new(rules::compile(c, cli)));
        }
    }
    Ok(())
}

/// Route one request through the given connections (their rules run in order; the rules must
/// be in `compiled`, see [`compile_into`]).
pub(crate) async fn plan(
    st: &AppState,
    request: &Request,
    connections: &[Connection],
    compiled: &HashMap<String, Arc<Compiled>>,
    now: i64,
) -> Result<Routing, pier_store::StoreError> {
    let mut routing = Routing { request_id: request.id.clone(), now, ..Routing::default() };
    if connections.is_empty() {
        routing.rejection = Some(RejectionCause::NoConnection);
        return Ok(routing);
    }
    let mut transformations = HashMap::new();
    for c in connections {
        let Some(rules) = compiled.get(&c.id).cloned() else { continue };
        let result = rules::run(st, request, c, &rules, &mut transformations, now).await?;
        routing.executions.extend(result.executions);
        match result.outcome {
            Outcome::Deliver { connection_id, destination_id, status, next_attempt_at } => {
                let id = crate::clock::new_id(IdKind::Event, now);
                if let Some(data) = result.data {
                    routing.event_data.push((id.clone(), data));
                }
                routing.events.push(Event::new(
                    id,
                    request,
                    connection_id,
                    destination_id,
                    status,
                    next_attempt_at,
                    now,
                ))
            }
            Outcome::Ignore { connection_id, cause } => routing.ignored.push(IgnoredEvent {
                id: crate::clock::new_id(IdKind::IgnoredEvent, now),
                project_id: request.project_id.clone(),
                request_id: request.id.clone(),
                connection_id,
                cause,
                meta: result.meta,
                created_at: now,
                updated_at: now,
            }),
        }
    }
    Ok(routing)
}
