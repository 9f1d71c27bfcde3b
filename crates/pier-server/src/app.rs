//! The axum application and the server's life: bind, start the workers, serve, and on
//! shutdown stop accepting, finish in-flight requests and routing, then return.

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{api, ingest, routing};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use pier_api_types::ApiVersion;
use pier_store::Store;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Every route of one Pier node.
pub fn router(st: AppState) -> Router {
    let mut r = Router::new()
        .route("/", get(crate::tunnel::root))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::prometheus::scrape))
        .route("/e/{*rest}", any(ingest::handle))
        .route("/ws", get(crate::tunnel::ws))
        .route("/mock", any(mock))
        .route("/mock/{*rest}", any(mock));
    for v in ApiVersion::ALL {
        r = r.nest(&format!("/{}", v.as_str()), api::router(v));
    }
    r.merge(crate::dashboard::routes()).fallback(|| async { ApiError::not_found("endpoint") }).with_state(st)
}

/// The built-in mock API: accepts anything and answers 200 (deliveries to it are answered
/// in-process; this endpoint serves direct calls).
async fn mock(method: axum::http::Method, uri: axum::http::Uri) -> impl IntoResponse {
    tracing::debug!(%method, path = %uri.path(), "mock API called");
    Json(serde_json::json!({"status": "SUCCESS", "message": "Pier mock API: request received"}))
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(st): State<AppState>) -> impl IntoResponse {
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable"})))
        }
    }
}

/// The delivery engine's settings, from the server's (fails when the CA file cannot be used).
pub fn delivery_config(c: &Config) -> anyhow::Result<pier_delivery::DeliveryConfig> {
    let mut d = pier_delivery::DeliveryConfig::new(&c.public_url);
    d.timeout = Duration::from_secs(c.delivery_timeout_secs.max(1));
    d.default_retry = c.retry_policy();
    d.max_in_flight = c.max_in_flight;
    d.max_in_flight_bytes = c.max_in_flight_bytes;
    d.max_body_bytes = c.body_limit;
    d.destination_concurrency = c.destination_concurrency;
    d.allow_private = c.allow_private_destinations;
    d.extra_roots = c.delivery_roots()?;
    d.node_id = node_id(&c.data_dir);
    Ok(d)
}

/// This node's stable name: kept in `{data_dir}/node-id`, made on first start.
pub fn node_id(data_dir: &std::path::Path) -> String {
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return id.to_string();
        }
    }
    let id = format!("node-{}", pier_core::id::random_token(12, &mut rand::rng()));
    let _ = std::fs::create_dir_all(data_dir);
    if let Err(e) = std::fs::write(&path, &id) {
        tracing::warn!(error = %e, path = %path.display(), "cannot keep the node id; leases of a crash will only expire");
    }
    id
}

/// A server running in this process (tests, embedding).
pub struct Server {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Bind `config.listen` and serve in the background.
    pub async fn start(mut config: Config, store: Arc<dyn Store>) -> anyhow::Result<Server> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        if config.public_url.ends_with(":0") {
            config.public_url = format!("http://{addr}");
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, store.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(Server { addr, store, stop: Some(stop), task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown; waits for it to finish.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await?
    }
}

/// Serve on `listener` until `shutdown` resolves, then drain gracefully.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let (stop_workers, workers_stop) = watch::channel(false);
    let node = node_id(&config.data_dir);
    match store.release_leases_of(&node).await {
        Ok(n) if n > 0 => {
            tracing::info!(released = n, node = %node, "released leases left by this node's previous run")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot release old leases; they expire by themselves"),
    }
    let tunnels = Arc::new(crate::tunnel::Tunnels::default());
    let delivery = pier_delivery::Delivery::start(
        store.clone(),
        delivery_config(&config)?,
        workers_stop.clone(),
        Some(tunnels.clone() as Arc<dyn pier_delivery::Tunnel>),
    );
    let st = AppState::new(store, config, delivery.clone(), tunnels);
    tokio::spawn(crate::retention::run(st.clone(), workers_stop.clone()));
    let router_task = tokio::spawn(routing::run(st.clone(), workers_stop));
    crate::bulk::resume(&st).await;

    let app = router(st).into_make_service_with_connect_info::<SocketAddr>();
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        let _ = drained_tx.send(());
    });
    let server = tokio::spawn(async move { server.await });
    // The server future ends once in-flight requests finish; bound that by the grace period.
    let served = async {
        let _ = drained_rx.await;
        tokio::time::timeout(grace, server).await
    };
    match served.await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "server error"),
        Ok(Err(e)) => tracing::error!(error = %e, "server task failed"),
        Err(_) => tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish in time"),
    }
    let _ = stop_workers.send(true);
    if tokio::time::timeout(grace, router_task).await.is_err() {
        tracing::warn!("routing did not finish in time; it resumes at the next start");
    }
    if !delivery.drain(grace).await {
        tracing::warn!("deliveries still in flight at exit; their leases expire and they are retried");
    }
    tracing::info!("stopped");
    Ok(())
}
