//! The dispatcher, the lanes, and the delivery of one claimed event.

use crate::auth::{oauth2_token, TokenCache};
use crate::cache::ConfigCache;
use crate::limit::{Limits, Window};
use crate::send::{self, Context, Performed};
use crate::ssrf::GuardedResolver;
use parking_lot::Mutex;
use pier_core::retry::{decide, AttemptResult, Next, RetryPolicy};
use pier_core::{Attempt, AttemptTrigger, Destination, Event, EventStatus, IdKind, Millis};
use pier_store::clock::{new_id, now_ms};
use pier_store::{AttemptRecord, Claimed, Store, StoreError};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify, Semaphore};

/// How the engine behaves; the server fills it from its configuration.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// This node's name in leases; stable across restarts of the same node (the server keeps
    /// it in the data directory) so a restart releases what its previous run held.
    pub node_id: String,
    /// Longest wait for a destination's response.
    pub timeout: Duration,
    /// Used when a connection has no retry rule.
    pub default_retry: RetryPolicy,
    /// Deliveries in flight across all destinations.
    pub max_in_flight: usize,
    /// Request bodies held by the deliveries in flight (and the claims that load them), in
    /// bytes: a destination of large bodies waits for room instead of filling the memory. A
    /// body larger than the whole budget is delivered alone.
    pub max_in_flight_bytes: usize,
    /// The largest request body a source accepts (the server's body limit): a claim that left
    /// this much room in the body budget was not cut short by it.
    pub max_body_bytes: usize,
    /// Deliveries in flight per destination without a `concurrent` limit.
    pub destination_concurrency: usize,
    /// Let destinations reach private and loopback addresses.
    pub allow_private: bool,
    /// Certificate authorities trusted for `https` destinations besides the webpki roots (an
    /// internal CA), as [`crate::client::load_ca_file`] gives them.
    pub extra_roots: Vec<crate::client::CertificateDer<'static>>,
    /// Pier's own base URL (`{public_url}/mock…` destinations are answered in-process).
    pub public_url: String,
    /// Bytes of a response body kept on the attempt.
    pub response_cap: usize,
    /// How often the store is scanned for due work the schedule does not know about.
    pub rescan_every: Duration,
}

impl DeliveryConfig {
    pub fn new(public_url: &str) -> DeliveryConfig {
        DeliveryConfig {
            node_id: format!("node-{}", pier_core::id::random_token(10, &mut rand::rng())),
            timeout: Duration::from_secs(60),
            default_retry: RetryPolicy::default_policy(),
            max_in_flight: 1024,
            max_in_flight_bytes: 256 << 20,
            max_body_bytes: 10 << 20,
            destination_concurrency: 256,
            allow_private: false,
            extra_roots: Vec::new(),
            public_url: public_url.to_string(),
            response_cap: 64 * 1024,
            rescan_every: Duration::from_secs(10),
        }
    }

    fn lease(&self) -> i64 {
        (self.timeout + Duration::from_secs(10)).as_millis() as i64
    }
}

/// Why a manual retry could not run.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("event not found")]
    NotFound,
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Msg {
    Due { project_id: String, destination_id: String, at: Millis },
}

/// The in-memory schedule: the earliest due time of each destination with work.
#[derive(Default)]
struct Schedule {
    order: BTreeSet<(Millis, String)>,
    by_dest: HashMap<String, (Millis, String)>,
}

impl Schedule {
    fn push(&mut self, project_id: String, dest: String, at: Millis) {
        if let Some((old, _)) = self.by_dest.get(&dest) {
            if *old <= at {
                return;
            }
            self.order.remove(&(*old, dest.clone()));
        }
        self.order.insert((at, dest.clone()));
        self.by_dest.insert(dest, (at, project_id));
    }

    fn pop_due(&mut self, now: Millis) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Some((at, _)) = self.order.first() {
            if *at > now {
                break;
            }
            if let Some((_, dest)) = self.order.pop_first() {
                if let Some((_, project)) = self.by_dest.remove(&dest) {
                    out.push((project, dest));
                }
            }
        }
        out
    }

    fn next(&self) -> Option<Millis> {
        self.order.first().map(|(at, _)| *at)
    }
}

struct Lane {
    poke: mpsc::UnboundedSender<()>,
    /// Events leased at ingest, handed to the lane (see [`Delivery::offer`]).
    handed: mpsc::UnboundedSender<Claimed>,
    /// Set by the lane while it takes events from ingest: it owns its destination, has caught up
    /// with the store (its last claim found less than it asked for) and no rate limit.
    accepting: Arc<AtomicBool>,
    /// Events offered to the lane and not yet sent or given up.
    queued: Arc<AtomicUsize>,
    /// Sends in flight to the destination, and how many the destination takes at once.
    in_flight: Arc<AtomicUsize>,
    concurrency: Arc<AtomicUsize>,
}

/// A lease for events offered to a lane at ingest (see [`Delivery::offer`]).
#[derive(Debug, Clone)]
pub struct IngestLease {
    pub node: String,
    pub until: Millis,
}

struct Inner {
    store: Arc<dyn Store>,
    config: DeliveryConfig,
    /// Deliveries.
    http: crate::client::HttpClient,
    urls: send::UrlCache,
    /// OAuth2 token requests.
    client: reqwest::Client,
    tokens: TokenCache,
    cache: ConfigCache,
    tx: mpsc::UnboundedSender<Msg>,
    global: Arc<Semaphore>,
    /// The body budget ([`DeliveryConfig::max_in_flight_bytes`]), a permit a byte.
    bytes: Arc<Semaphore>,
    bytes_total: usize,
    lanes: Mutex<HashMap<String, Lane>>,
    shutdown: watch::Receiver<bool>,
    tunnel: Option<Arc<dyn crate::Tunnel>>,
}

/// A handle on the running engine.
#[derive(Clone)]
pub struct Delivery {
    inner: Arc<Inner>,
}

impl Delivery {
    /// Start the dispatcher; it stops claiming when `shutdown` turns true. Await
    /// [`Delivery::drain`] to let in-flight deliveries finish.
    pub fn start(
        store: Arc<dyn Store>,
        config: DeliveryConfig,
        shutdown: watch::Receiver<bool>,
        tunnel: Option<Arc<dyn crate::Tunnel>>,
    ) -> Delivery {
        let connect_timeout = Duration::from_secs(10).min(config.timeout);
        let http = crate::client::HttpClient::new(crate::client::ClientOptions {
            allow_private: config.allow_private,
            connect_timeout,
            max_idle_per_host: config.destination_concurrency,
            extra_roots: config.extra_roots.clone(),
        })
        .expect("rustls with ring supports the default TLS versions, and load_ca_file checked the extra roots");
        // For OAuth2 token requests (auth.rs), trusting the same authorities.
        let client = config
            .extra_roots
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok())
            .fold(reqwest::Client::builder(), |b, cert| b.add_root_certificate(cert))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private: config.allow_private }))
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .user_agent(concat!("Pier/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let (tx, rx) = mpsc::unbounded_channel();
        let bytes_total = config.max_in_flight_bytes.clamp(1, Semaphore::MAX_PERMITS);
        let inner = Arc::new(Inner {
            store,
            global: Arc::new(Semaphore::new(config.max_in_flight)),
            bytes: Arc::new(Semaphore::new(bytes_total)),
            bytes_total,
            config,
            http,
            client,
            urls: send::UrlCache::default(),
            tokens: TokenCache::default(),
            cache: ConfigCache::new(),
            tx,
            lanes: Mutex::new(HashMap::new()),
            shutdown,
            tunnel,
        });
        tokio::spawn(dispatch(inner.clone(), rx));
        Delivery { inner }
    }

    /// Work for a destination is due at `at` (from routing, unpause, retries).
    pub fn notify(&self, project_id: &str, destination_id: &str, at: Millis) {
        let _ = self.inner.tx.send(Msg::Due {
            project_id: project_id.to_string(),
            destination_id: destination_id.to_string(),
            at,
        });
    }

    /// Whether the lane of `destination_id` takes `n` new events straight from ingest: it runs
    /// on this node, owns its destination, has no backlog in the store and no rate limit, and
    /// has room. If so, the caller stores the events under the returned lease and then calls
    /// [`Delivery::hand_off`] (or [`Delivery::withdraw`] if the commit failed); the lane
    /// delivers them without claiming them from the store.
    pub fn offer(&self, destination_id: &str, n: usize, body_bytes: usize) -> Option<IngestLease> {
        // Room in the body budget now (not reserved: a handed event waits in its lane for it).
        if self.inner.bytes.available_permits() < n.saturating_mul(body_bytes).min(self.inner.bytes_total) {
            return None;
        }
        let lanes = self.inner.lanes.lock();
        let lane = lanes.get(destination_id)?;
        // Only what can be sent at once: a handed event never waits long for a slot (it is
        // leased for the length of one attempt).
        let busy = lane.queued.load(Ordering::Acquire) + lane.in_flight.load(Ordering::Acquire);
        if !lane.accepting.load(Ordering::Acquire) || busy + n > lane.concurrency.load(Ordering::Acquire) {
            return None;
        }
        lane.queued.fetch_add(n, Ordering::AcqRel);
        Some(IngestLease { node: self.inner.config.node_id.clone(), until: now_ms() + self.inner.config.lease() })
    }

    /// After the commit: give the lane the `events` stored leased, out of the `offered` ones.
    pub fn hand_off(&self, destination_id: &str, offered: usize, events: Vec<Claimed>) {
        let lanes = self.inner.lanes.lock();
        let Some(lane) = lanes.get(destination_id) else { return };
        // Offered but not leased (held by a pause, say): the store has them for a claim.
        lane.queued.fetch_sub(offered.saturating_sub(events.len()), Ordering::AcqRel);
        metrics::counter!("pier_ingest_handoffs_total", "destination_id" => destination_id.to_string())
            .increment(events.len() as u64);
        for c in events {
            if lane.handed.send(c).is_err() {
                // The lane stopped (shutting down): the lease is released at the next start.
                lane.queued.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// The commit after [`Delivery::offer`] failed: nothing will be handed.
    pub fn withdraw(&self, destination_id: &str, offered: usize) {
        if let Some(lane) = self.inner.lanes.lock().get(destination_id) {
            lane.queued.fetch_sub(offered, Ordering::AcqRel);
        }
    }

    /// This node's deliveries in flight and the bytes of request bodies they hold.
    pub fn in_flight(&self) -> (usize, usize) {
        let inner = &self.inner;
        (
            inner.config.max_in_flight.saturating_sub(inner.global.available_permits()),
            inner.bytes_total.saturating_sub(inner.bytes.available_permits()),
        )
    }

    /// Wait (at most `grace`) until no delivery is in flight.
    pub async fn drain(&self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        while self.inner.global.available_permits() < self.inner.config.max_in_flight {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Deliver one event now (a manual retry); returns the event and the attempt made.
    pub async fn retry_now(
        &self,
        project_id: &str,
        event_id: &str,
        trigger: AttemptTrigger,
    ) -> Result<(Event, Attempt), RetryError> {
        let inner = &self.inner;
        let event = inner.store.event(project_id, event_id).await?.ok_or(RetryError::NotFound)?;
        let dest = inner
            .store
            .destination(project_id, &event.destination_id)
            .await?
            .ok_or_else(|| RetryError::Refused("the event's destination no longer exists".into()))?;
        if dest.url.is_none() && !inner.tunnel.as_ref().is_some_and(|t| t.serves_destination(&dest.id)) {
            return Err(RetryError::Refused("no `pier listen` session receives this CLI destination right now".into()));
        }
        let now = now_ms();
        let claimed = inner
            .store
            .claim_event(project_id, event_id, trigger, now, now + inner.config.lease(), &inner.config.node_id)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => RetryError::Refused(m),
                other => RetryError::Store(other),
            })?
            .ok_or(RetryError::NotFound)?;
        let shutting_down = |_| RetryError::Refused("shutting down".into());
        let _permit = inner.global.clone().acquire_owned().await.map_err(shutting_down)?;
        let _bytes = inner.bytes.clone().acquire_many_owned(body_cost(inner, &claimed)).await.map_err(shutting_down)?;
        deliver(inner, claimed, &dest, None).await.map_err(RetryError::Store)
    }
}

async fn dispatch(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut shutdown = inner.shutdown.clone();
    let mut schedule = Schedule::default();
    let mut next_scan = Instant::now();
    // Other nodes' due-work notices (shared stores only).
    let mut remote = inner.store.subscribe_due();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if Instant::now() >= next_scan {
            match inner.store.due_destinations(now_ms()).await {
                Ok(due) => {
                    for (project, dest, at) in due {
                        schedule.push(project, dest, at);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "scanning for due events failed"),
            }
            next_scan = Instant::now() + inner.config.rescan_every;
        }
        let now = now_ms();
        for (project, dest) in schedule.pop_due(now) {
            inner.poke(&project, &dest);
        }
        let until_due = schedule.next().map(|at| Duration::from_millis((at - now).max(0) as u64));
        let until_scan = next_scan.saturating_duration_since(Instant::now());
        let sleep = until_due.map_or(until_scan, |d| d.min(until_scan));
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Due { project_id, destination_id, at }) => schedule.push(project_id, destination_id, at),
                None => return,
            },
            _ = tokio::time::sleep(sleep) => {}
            _ = shutdown.changed() => return,
            n = async {
                match remote.as_mut() {
                    Some(r) => r.recv().await,
                    None => std::future::pending().await,
                }
            } => match n {
                Some((project_id, destination_id, at)) => schedule.push(project_id, destination_id, at),
                None => remote = None,
            },
        }
        // Take everything queued before deciding what to poke.
        while let Ok(Msg::Due { project_id, destination_id, at }) = rx.try_recv() {
            schedule.push(project_id, destination_id, at);
        }
    }
}

impl Inner {
    /// Wake the lane of a destination, starting it if needed.
    fn poke(self: &Arc<Self>, project_id: &str, destination_id: &str) {
        let mut lanes = self.lanes.lock();
        if let Some(l) = lanes.get(destination_id) {
            if l.poke.send(()).is_ok() {
                return;
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (handed, handed_rx) = mpsc::unbounded_channel();
        let (accepting, queued) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (in_flight, concurrency) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let shared = LaneShared {
            handed: handed_rx,
            accepting: accepting.clone(),
            queued: queued.clone(),
            in_flight: in_flight.clone(),
            concurrency: concurrency.clone(),
        };
        lanes.insert(destination_id.to_string(), Lane { poke: tx, handed, accepting, queued, in_flight, concurrency });
        tokio::spawn(lane(self.clone(), project_id.to_string(), destination_id.to_string(), rx, shared));
    }
}

/// The lane's side of [`Lane`]'s handoff fields.
struct LaneShared {
    handed: mpsc::UnboundedReceiver<Claimed>,
    accepting: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    concurrency: Arc<AtomicUsize>,
}

/// How long an idle lane waits for work before it stops.
const LANE_IDLE: Duration = Duration::from_secs(5);
/// How long one node keeps the right to deliver to a destination (renewed at half-life).
const OWNERSHIP_MS: i64 = 10_000;

async fn lane(
    inner: Arc<Inner>,
    project_id: String,
    dest_id: String,
    mut poke: mpsc::UnboundedReceiver<()>,
    shared: LaneShared,
) {
    let LaneShared { handed: mut handed_rx, accepting, queued, in_flight, concurrency } = shared;
    // Events handed from ingest, waiting for a free slot (already leased to this node).
    let mut handed: VecDeque<Claimed> = VecDeque::new();
    // Whether the last claim found less than it asked for (no backlog in the store).
    let mut caught_up = false;
    // Whether the store may hold due events for this lane: after a poke, or a claim that was
    // full. Events handed from ingest need no claim.
    let mut claim_needed = true;
    let done = Arc::new(Notify::new());
    let mut shutdown = inner.shutdown.clone();
    let mut dest: Option<Arc<Destination>> = None;
    let mut loaded = Instant::now() - Duration::from_secs(60);
    let mut limits = Limits { rate: None, concurrency: inner.config.destination_concurrency };
    let mut window: Option<Window> = None;
    // The right to deliver to this destination (one node at a time on a shared store).
    let mut owned_until: Millis = 0;
    let exit = |inner: &Arc<Inner>, poke: &mut mpsc::UnboundedReceiver<()>, owned: bool| -> bool {
        // Leave only if no poke is waiting and nothing was offered (pokes and offers happen
        // under the same lock).
        let mut lanes = inner.lanes.lock();
        accepting.store(false, Ordering::Release);
        if poke.try_recv().is_ok() || queued.load(Ordering::Acquire) > 0 {
            return false;
        }
        lanes.remove(&dest_id);
        if owned {
            let (store, d, node) = (inner.store.clone(), dest_id.clone(), inner.config.node_id.clone());
            tokio::spawn(async move {
                let _ = store.release_destination(&d, &node).await;
            });
        }
        true
    };
    loop {
        if *shutdown.borrow() {
            return;
        }
        while let Ok(c) = handed_rx.try_recv() {
            handed.push_back(c);
        }
        // Re-read the destination every second: limit changes apply without restart.
        if loaded.elapsed() >= Duration::from_secs(1) {
            match inner.store.destination(&project_id, &dest_id).await {
                Ok(Some(d)) => {
                    let new_limits = Limits::of(&d, inner.config.destination_concurrency);
                    if new_limits.rate != limits.rate || window.is_none() {
                        window = new_limits.rate.map(|(n, p)| Window::new(n, p));
                    }
                    limits = new_limits;
                    dest = Some(Arc::new(d));
                }
                Ok(None) => {
                    // Gone: events handed to the lane are given up (their lease runs out).
                    queued.fetch_sub(handed.len(), Ordering::AcqRel);
                    handed.clear();
                    if exit(&inner, &mut poke, owned_until > 0) {
                        return;
                    }
                    claim_needed = true;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, destination_id = %dest_id, "cannot read destination");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            loaded = Instant::now();
        }
        let Some(d) = dest.clone() else { continue };
        if d.url.is_none() && !inner.tunnel.as_ref().is_some_and(|t| t.serves_destination(&d.id)) {
            // A CLI destination is delivered by the node holding its session (never handed
            // events from ingest; any left are given up and their lease runs out).
            queued.fetch_sub(handed.len(), Ordering::AcqRel);
            handed.clear();
            if exit(&inner, &mut poke, owned_until > 0) {
                return;
            }
            claim_needed = true;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let now = now_ms();
        if owned_until - now < OWNERSHIP_MS / 2 {
            match inner.store.own_destination(&dest_id, &inner.config.node_id, now + OWNERSHIP_MS, now).await {
                Ok(true) => owned_until = now + OWNERSHIP_MS,
                Ok(false) => {
                    // Another node delivers to this destination; it will see the work.
                    owned_until = 0;
                    if exit(&inner, &mut poke, false) {
                        return;
                    }
                    claim_needed = true;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, destination_id = %dest_id, "cannot take the destination's lane");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        concurrency.store(limits.concurrency, Ordering::Release);
        accepting.store(caught_up && window.is_none() && owned_until > now && d.url.is_some(), Ordering::Release);
        // Events handed from ingest first: they are leased already and only wait for a slot.
        while let Some(next) = handed.front().filter(|_| in_flight.load(Ordering::Acquire) < limits.concurrency) {
            let Ok(permit) = inner.global.clone().try_acquire_owned() else { break };
            let Ok(bytes) = inner.bytes.clone().try_acquire_many_owned(body_cost(&inner, next)) else { break };
            let Some(c) = handed.pop_front() else { break };
            queued.fetch_sub(1, Ordering::AcqRel);
            spawn_delivery(&inner, &d, c, (permit, bytes), &in_flight, &done, &mut window);
        }
        let now_i = Instant::now();
        let busy = in_flight.load(Ordering::Acquire);
        let mut free_conc = limits.concurrency.saturating_sub(busy);
        if busy > 0 && free_conc < limits.concurrency / 4 {
            // Claim in batches: wait until a quarter of the slots is free (a claim is a write;
            // claiming one event per finished send would make a commit per event).
            free_conc = 0;
        }
        let free_rate = window.as_mut().map_or(usize::MAX, |w| w.available(now_i) as usize);
        let free_global = inner.global.available_permits();
        // Bodies load with the claim: claim only what the body budget has room for.
        let free_bytes = inner.bytes.available_permits();
        let cap = if free_bytes == 0 { 0 } else { free_conc.min(free_rate).min(free_global).min(256) };
        if cap == 0 {
            let wake = window.as_mut().filter(|_| free_rate == 0).map(|w| w.next_free(now_i));
            let wait = wake.map_or(Duration::from_millis(250), |t| t.saturating_duration_since(now_i));
            tokio::select! {
                _ = done.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = poke.recv() => claim_needed = true,
                Some(c) = handed_rx.recv() => handed.push_back(c),
                _ = shutdown.changed() => {}
            }
            continue;
        }
        if !claim_needed {
            // Nothing known to be due in the store: wait for a poke or an event from ingest;
            // stop when idle.
            tokio::select! {
                r = poke.recv() => {
                    if r.is_none() {
                        return;
                    }
                    claim_needed = true;
                }
                Some(c) = handed_rx.recv() => handed.push_back(c),
                _ = tokio::time::sleep(Duration::from_millis(20)), if !handed.is_empty() => {}
                _ = tokio::time::sleep(LANE_IDLE) => {
                    if in_flight.load(Ordering::Acquire) == 0 && handed.is_empty() {
                        if exit(&inner, &mut poke, owned_until > 0) {
                            return;
                        }
                        claim_needed = true;
                    }
                }
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let now = now_ms();
        let bounded = free_bytes < inner.bytes_total;
        let mut claimed = match inner
            .store
            .claim_due(&dest_id, now, cap as u32, free_bytes as u64, now + inner.config.lease(), &inner.config.node_id)
            .await
        {
            Ok(c) => {
                claim_needed = c.len() >= cap;
                caught_up = !claim_needed;
                c
            }
            Err(e) => {
                caught_up = false;
                tracing::warn!(error = %e, destination_id = %dest_id, "claiming events failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // The claim may have stopped at the body budget only if it left less room than one body.
        let held: usize = claimed.iter().map(|c| c.request.body_len()).sum();
        if claimed.is_empty() || (!claim_needed && free_bytes.saturating_sub(held) < inner.config.max_body_bytes) {
            let due = inner.store.next_due(&dest_id, now).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading the next due time failed");
                None
            });
            // Due now and not claimed: the body budget stopped the claim.
            let stopped = due.is_some_and(|at| at <= now);
            if stopped {
                (claim_needed, caught_up) = (true, false);
            }
            if claimed.is_empty() {
                match due {
                    // The next body is larger than the whole budget: it goes alone.
                    Some(_) if stopped && !bounded => claimed = claim_alone(&inner, &dest_id, now).await,
                    // Claim again when deliveries have given room back.
                    Some(_) if stopped => {
                        tokio::select! {
                            _ = done.notified() => {}
                            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                            Some(c) = handed_rx.recv() => handed.push_back(c),
                            _ = shutdown.changed() => {}
                        }
                        continue;
                    }
                    Some(at) => {
                        let (project_id, destination_id) = (project_id.clone(), dest_id.clone());
                        let _ = inner.tx.send(Msg::Due { project_id, destination_id, at });
                    }
                    None => {}
                }
            }
            if claimed.is_empty() {
                continue;
            }
        }
        for c in claimed {
            let permit = match inner.global.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => match inner.global.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => return,
                },
            };
            // Deliveries in flight give back their bodies' room as they finish.
            let cost = body_cost(&inner, &c);
            let bytes = match inner.bytes.clone().try_acquire_many_owned(cost) {
                Ok(b) => b,
                Err(_) => match inner.bytes.clone().acquire_many_owned(cost).await {
                    Ok(b) => b,
                    Err(_) => return,
                },
            };
            spawn_delivery(&inner, &d, c, (permit, bytes), &in_flight, &done, &mut window);
        }
    }
}

/// The next due event of a destination whatever its body's size (claimed when the whole body
/// budget is free: a body larger than the budget goes alone).
async fn claim_alone(inner: &Inner, dest_id: &str, now: Millis) -> Vec<Claimed> {
    let lease_until = now + inner.config.lease();
    inner.store.claim_due(dest_id, now, 1, u64::MAX, lease_until, &inner.config.node_id).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, destination_id = %dest_id, "claiming an event failed");
        Vec::new()
    })
}

/// What a claimed event takes of the body budget: its body's bytes, at most the whole budget
/// (so a larger body is delivered alone).
fn body_cost(inner: &Inner, c: &Claimed) -> u32 {
    u32::try_from(c.request.body_len().min(inner.bytes_total)).unwrap_or(u32::MAX)
}

/// Deliver a leased event on a task of its own: it takes a lane slot until the send is over
/// (see [`Sent`]) and holds `permit` (the global in-flight cap and its body's room in the
/// body budget) until the attempt is written.
fn spawn_delivery(
    inner: &Arc<Inner>,
    d: &Arc<Destination>,
    c: Claimed,
    permit: (tokio::sync::OwnedSemaphorePermit, tokio::sync::OwnedSemaphorePermit),
    in_flight: &Arc<AtomicUsize>,
    done: &Arc<Notify>,
    window: &mut Option<Window>,
) {
    if let Some(w) = window.as_mut() {
        w.record(Instant::now());
    }
    in_flight.fetch_add(1, Ordering::AcqRel);
    let sent = Sent { in_flight: in_flight.clone(), done: done.clone() };
    let (inner, d) = (inner.clone(), d.clone());
    tokio::spawn(async move {
        let event_id = c.event.id.clone();
        if let Err(e) = deliver(&inner, c, &d, Some(sent)).await {
            tracing::warn!(error = %e, event_id = %event_id, "recording a delivery failed; the lease expiry retries it");
        }
        drop(permit);
    });
}

fn is_mock(url: &str, public_url: &str) -> bool {
    let base = url.split(['?', '#']).next().unwrap_or_default();
    let host_path = base.split_once("://").map(|x| x.1).unwrap_or_default();
    host_path == "mock.hookdeck.com"
        || host_path.starts_with("mock.hookdeck.com/")
        || base == format!("{public_url}/mock")
        || base.starts_with(&format!("{public_url}/mock/"))
}

/// Hand an attempt to the CLI session receiving its connection.
async fn through_tunnel(inner: &Arc<Inner>, c: &Claimed, p: &send::Prepared) -> Performed {
    let delivered_at = now_ms();
    let started = Instant::now();
    let attempt = crate::TunnelAttempt {
        event_id: c.event.id.clone(),
        attempt_id: new_id(IdKind::Attempt, delivered_at),
        webhook_id: c.event.connection_id.clone(),
        cli_path: p.url.clone(),
        method: p.method.clone(),
        headers: p.headers.clone(),
        body: p.body.clone(),
        timeout_ms: inner.config.timeout.as_millis() as u64,
    };
    let answer = match &inner.tunnel {
        Some(t) => tokio::time::timeout(inner.config.timeout + Duration::from_secs(1), t.send(attempt))
            .await
            .unwrap_or_else(|_| Err("the CLI did not answer in time".into())),
        None => Err("this node has no CLI tunnel".into()),
    };
    let took = started.elapsed().as_millis() as i64;
    match answer {
        Ok(a) => Performed {
            result: AttemptResult::Response { status: a.status, retry_after: None },
            body: Some(a.body),
            delivered_at,
            responded_at: Some(now_ms()),
            response_latency: Some(took),
            delivery_latency: Some(took),
        },
        Err(e) => Performed {
            result: AttemptResult::NoResponse { error_code: "CLI_UNAVAILABLE" },
            body: Some(e),
            delivered_at,
            responded_at: None,
            response_latency: None,
            delivery_latency: None,
        },
    }
}

/// A lane's slot for one send to its destination: freed when dropped, which [`deliver`] does
/// as soon as the destination answered (or the send failed), before the attempt is recorded,
/// so the lane claims more while the attempt is written (the event stays leased until then).
struct Sent {
    in_flight: Arc<AtomicUsize>,
    done: Arc<Notify>,
}

impl Drop for Sent {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.done.notify_one();
    }
}

/// Deliver one claimed event and record the attempt; `sent` is dropped once the send is over.
async fn deliver(
    inner: &Arc<Inner>,
    c: Claimed,
    dest: &Destination,
    sent: Option<Sent>,
) -> Result<(Event, Attempt), StoreError> {
    let store = inner.store.as_ref();
    let ev = &c.event;
    let Some(connection) = inner.cache.connection(store, &ev.project_id, &ev.connection_id).await? else {
        // The connection was deleted: nothing will deliver this event any more.
        let e = store.cancel_event(&ev.project_id, &ev.id, now_ms()).await?;
        return Err(StoreError::InvalidReference(format!("connection of {} is gone; event cancelled ({e:?})", ev.id)));
    };
    let project = inner
        .cache
        .project(store, &ev.project_id)
        .await?
        .ok_or_else(|| StoreError::InvalidReference("the event's project is gone".into()))?;
    let source = inner.cache.source(store, &ev.project_id, &ev.source_id).await?;
    let unknown_source = pier_core::Source {
        id: ev.source_id.clone(),
        project_id: ev.project_id.clone(),
        name: String::new(),
        key: String::new(),
        description: None,
        allowed_http_methods: vec![],
        custom_response: None,
        verification: None,
        disabled_at: None,
        created_at: 0,
        updated_at: 0,
    };
    let source_ref = source.as_deref().unwrap_or(&unknown_source);
    let policy = RetryPolicy::from_rules(&connection.rules, &inner.config.default_retry);
    let attempt_number = ev.attempts + 1;
    let now = now_ms();
    let automatic = c.trigger != AttemptTrigger::Manual;
    let will_retry_after =
        match decide(&policy, &AttemptResult::NoResponse { error_code: "TIMEOUT" }, attempt_number, now, 0.0) {
            Next::RetryAt(at) if automatic => Some(((at - now) + 999) / 1000),
            _ => None,
        };
    let ctx = Context {
        request: &c.request,
        data: c.data.as_ref(),
        event_id: &ev.id,
        destination: dest,
        connection: &connection,
        source: source_ref,
        project: &project,
        trigger: c.trigger,
        attempt_number,
        will_retry_after,
        now_ms: now,
    };
    let mut prepared = send::prepare(&ctx);
    let url = dest.url.clone().unwrap_or_default();
    let cli = dest.url.is_none();
    let performed = if cli {
        through_tunnel(inner, &c, &prepared).await
    } else if is_mock(&url, &inner.config.public_url) {
        let t = now_ms();
        Performed {
            result: AttemptResult::Response { status: 200, retry_after: None },
            body: Some(r#"{"status":"SUCCESS","message":"Pier mock API: event received"}"#.into()),
            delivered_at: t,
            responded_at: Some(t),
            response_latency: Some(0),
            delivery_latency: Some(0),
        }
    } else {
        let mut oauth_failed = None;
        if dest.auth_method.kind == "OAUTH2_CLIENT_CREDENTIALS" {
            match oauth2_token(&inner.client, &inner.tokens, &dest.id, &dest.auth_method, inner.config.timeout).await {
                Ok(token) => prepared.headers.push(("authorization".into(), format!("Bearer {token}"))),
                Err(e) => oauth_failed = Some(e.to_string()),
            }
        }
        match oauth_failed {
            Some(detail) => Performed {
                result: AttemptResult::NoResponse { error_code: "OAUTH2_HANDSHAKE_FAILED" },
                body: Some(detail),
                delivered_at: now_ms(),
                responded_at: None,
                response_latency: None,
                delivery_latency: None,
            },
            None => {
                send::perform(
                    &inner.http,
                    &inner.urls,
                    &prepared,
                    inner.config.timeout,
                    inner.config.response_cap,
                    inner.config.allow_private,
                    now_ms,
                )
                .await
            }
        }
    };
    drop(sent);
    if matches!(performed.result, AttemptResult::Response { status: 401, .. }) {
        inner.tokens.forget(&dest.id);
    }
    let done_at = now_ms();
    // CLI deliveries are not retried automatically (the developer retries by hand).
    let next = if cli {
        if performed.result.is_success() {
            Next::Succeeded
        } else {
            Next::GiveUp
        }
    } else if automatic {
        decide(&policy, &performed.result, attempt_number, done_at, rand::random::<f64>())
    } else if performed.result.is_success() {
        Next::Succeeded
    } else {
        // A manual attempt keeps whatever automatic retry was already planned.
        ev.next_attempt_at.map_or(Next::GiveUp, Next::RetryAt)
    };
    let (status, next_attempt_at) = match next {
        Next::Succeeded => (EventStatus::Successful, None),
        Next::RetryAt(at) => (EventStatus::Failed, Some(at)),
        Next::GiveUp => (EventStatus::Failed, None),
    };
    let (response_status, error_code) = match &performed.result {
        AttemptResult::Response { status, .. } => (Some(*status as i64), None),
        AttemptResult::NoResponse { error_code } => (None, Some(error_code.to_string())),
    };
    let attempt = Attempt {
        id: new_id(IdKind::Attempt, done_at),
        project_id: ev.project_id.clone(),
        event_id: ev.id.clone(),
        destination_id: dest.id.clone(),
        attempt_number,
        trigger: c.trigger,
        successful: status == EventStatus::Successful,
        response_status,
        error_code,
        body: performed.body,
        requested_url: Some(prepared.url.clone()),
        http_method: Some(prepared.method.clone()),
        delivered_at: Some(performed.delivered_at),
        responded_at: performed.responded_at,
        delivery_latency: performed.delivery_latency,
        response_latency: performed.response_latency,
        created_at: done_at,
        updated_at: done_at,
    };
    tracing::debug!(event_id = %ev.id, status = ?status, response_status = ?attempt.response_status, "delivery attempt");
    let code = match (&attempt.response_status, &attempt.error_code) {
        (Some(s), _) => s.to_string(),
        (None, Some(e)) => e.clone(),
        (None, None) => "UNKNOWN".into(),
    };
    metrics::counter!("pier_attempts_total", "destination_id" => dest.id.clone(), "status" => code).increment(1);
    if let Some(ms) = attempt.response_latency {
        metrics::histogram!("pier_delivery_latency_seconds", "destination_id" => dest.id.clone())
            .record(ms as f64 / 1000.0);
    }
    let event =
        store.record_attempt(AttemptRecord { attempt: attempt.clone(), status, next_attempt_at, now: done_at }).await?;
    if let Some(at) = event.next_attempt_at {
        let _ = inner.tx.send(Msg::Due { project_id: ev.project_id.clone(), destination_id: dest.id.clone(), at });
    }
    Ok((event, attempt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_keeps_the_earliest_time_per_destination() {
        let mut s = Schedule::default();
        s.push("p".into(), "a".into(), 50);
        s.push("p".into(), "a".into(), 70);
        s.push("p".into(), "b".into(), 60);
        s.push("p".into(), "a".into(), 40);
        assert_eq!(s.next(), Some(40));
        assert_eq!(s.pop_due(45), vec![("p".to_string(), "a".to_string())]);
        assert_eq!(s.pop_due(59), vec![]);
        assert_eq!(s.pop_due(60), vec![("p".to_string(), "b".to_string())]);
        assert_eq!(s.next(), None);
    }

    #[test]
    fn mock_destinations() {
        assert!(is_mock("https://mock.hookdeck.com", "http://127.0.0.1:8484"));
        assert!(is_mock("https://mock.hookdeck.com/x?y=1", "http://127.0.0.1:8484"));
        assert!(is_mock("http://127.0.0.1:8484/mock", "http://127.0.0.1:8484"));
        assert!(is_mock("http://127.0.0.1:8484/mock/a", "http://127.0.0.1:8484"));
        assert!(!is_mock("http://127.0.0.1:8484/mockery", "http://127.0.0.1:8484"));
        assert!(!is_mock("https://mock.hookdeck.com.evil.io", "http://127.0.0.1:8484"));
    }
}
