//! State shared by every handler and worker.

use crate::config::Config;
use pier_delivery::Delivery;
use pier_store::Store;
use std::sync::Arc;
use tokio::sync::Notify;

/// Per-project limiter of management API calls.
pub type ApiLimiter = governor::DefaultKeyedRateLimiter<String>;

/// Cloned for every request (axum's `State`), so one reference count to bump.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    /// Woken when a request is stored, so the routing worker picks it up at once.
    pub routing_wake: Arc<Notify>,
    /// None when the API is not rate limited.
    pub api_limiter: Option<Arc<ApiLimiter>>,
    pub delivery: Delivery,
    /// This node's stable name (leases).
    pub node_id: String,
    /// The JavaScript sandbox of transformations (a pool of runtimes on their own threads).
    pub sandbox: Arc<pier_transform::Sandbox>,
    /// The CLI sessions this node holds.
    pub tunnels: Arc<crate::tunnel::Tunnels>,
    /// Sources by URL key, kept for a second: ingest's lookup on the hot path.
    pub sources: Arc<SourceCache>,
}

type CachedSource = (std::time::Instant, Option<Arc<pier_core::Source>>);

type CachedRoutes = (std::time::Instant, Option<Arc<crate::routing::RoutePlan>>);

/// A one-second cache of sources by key, and of the routes of sources (see
/// [`crate::routing::inline_plan`]). Changes made through this node's API clear it; other
/// nodes' changes apply within a second.
#[derive(Default)]
pub struct SourceCache {
    entries: parking_lot::Mutex<std::collections::HashMap<String, CachedSource>>,
    routes: parking_lot::Mutex<std::collections::HashMap<String, CachedRoutes>>,
    /// Bumped by `clear`, so a route plan read before a change is not cached after it.
    generation: std::sync::atomic::AtomicU64,
}

impl SourceCache {
    /// Forget everything (a source, destination or connection changed through this node's API).
    pub fn clear(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.entries.lock().clear();
        self.routes.lock().clear();
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The cached routes of a source: `Some(plan)` when fresh (the plan itself is `None` when the
    /// source's requests are routed by the worker).
    pub fn route(&self, source_id: &str) -> Option<Option<Arc<crate::routing::RoutePlan>>> {
        let routes = self.routes.lock();
        let (at, plan) = routes.get(source_id)?;
        (at.elapsed() < Self::TTL).then(|| plan.clone())
    }

    /// Cache a plan read at `generation` (dropped if the configuration changed meanwhile).
    pub fn put_route(&self, source_id: &str, plan: Option<Arc<crate::routing::RoutePlan>>, generation: u64) {
        let mut routes = self.routes.lock();
        if self.generation() != generation {
            return;
        }
        if routes.len() > 10_000 {
            routes.retain(|_, (at, _)| at.elapsed() < Self::TTL);
        }
        routes.insert(source_id.to_string(), (std::time::Instant::now(), plan));
    }

    const TTL: std::time::Duration = std::time::Duration::from_secs(1);

    pub async fn get(
        &self,
        store: &dyn Store,
        key: &str,
    ) -> Result<Option<Arc<pier_core::Source>>, pier_store::StoreError> {
        if let Some((at, s)) = self.entries.lock().get(key) {
            if at.elapsed() < Self::TTL {
                return Ok(s.clone());
            }
        }
        let s = store.source_by_key(key).await?.map(Arc::new);
        let mut e = self.entries.lock();
        if e.len() > 10_000 {
            e.retain(|_, (at, _)| at.elapsed() < Self::TTL);
        }
        e.insert(key.to_string(), (std::time::Instant::now(), s.clone()));
        Ok(s)
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        config: Config,
        delivery: Delivery,
        tunnels: Arc<crate::tunnel::Tunnels>,
    ) -> AppState {
        let api_limiter = std::num::NonZeroU32::new(config.api_rate_limit)
            .map(|n| Arc::new(governor::RateLimiter::keyed(governor::Quota::per_second(n))));
        crate::prometheus::install();
        let node_id = crate::app::node_id(&config.data_dir);
        let sandbox =
            Arc::new(pier_transform::Sandbox::new(config.transform_workers.max(1), pier_transform::Limits::default()));
        AppState(Arc::new(Shared {
            store,
            config: Arc::new(config),
            routing_wake: Arc::new(Notify::new()),
            api_limiter,
            delivery,
            node_id,
            sandbox,
            tunnels,
            sources: Arc::default(),
        }))
    }
}
