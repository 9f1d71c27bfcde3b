//! The HTTP client of deliveries: hyper's pooled client (HTTP/1.1, and HTTP/2 where a TLS
//! server offers it by ALPN) over TCP connections whose addresses come from the SSRF guard's
//! resolver, with rustls for `https` (the webpki roots, plus any extra ones given). No redirect
//! is followed and no proxy is used: a delivery goes to the destination itself. A deadline is
//! the caller's (send.rs), so that it covers the response body too.

use crate::ssrf::GuardedResolver;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
pub use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

type Connector = hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>;

/// How long an unused pooled connection stays open.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// What the client is built with.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Let connections reach private and loopback addresses.
    pub allow_private: bool,
    pub connect_timeout: Duration,
    /// Idle connections kept per destination host.
    pub max_idle_per_host: usize,
    /// Certificate authorities trusted besides the webpki roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

/// Why a file of certificate authorities could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} holds no certificate: give a PEM file with one or more -----BEGIN CERTIFICATE----- blocks")]
    Empty { path: String },
    #[error("{path} holds a certificate that cannot be read: {message}")]
    Invalid { path: String, message: String },
}

/// The certificate authorities of a PEM file (every `CERTIFICATE` block in it; other blocks,
/// such as keys, are skipped), each checked to be usable as a trust anchor.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaFileError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| CaFileError::Read { path: shown.clone(), source })?;
    let invalid = |message: String| CaFileError::Invalid { path: shown.clone(), message };
    let certs =
        CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(CaFileError::Empty { path: shown });
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in &certs {
        roots.add(cert.clone()).map_err(|e| invalid(e.to_string()))?;
    }
    Ok(certs)
}

/// A cheap-to-clone handle on one pool of connections.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
}

impl HttpClient {
    pub fn new(o: ClientOptions) -> Result<HttpClient, rustls::Error> {
        let mut tcp = HttpConnector::new_with_resolver(GuardedResolver { allow_private: o.allow_private });
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(o.connect_timeout));
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for cert in o.extra_roots {
            roots.add(cert)?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        // The timers close idle pooled connections in the background (a destination no longer
        // delivered to keeps none open) and serve HTTP/2's own timeouts.
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(o.max_idle_per_host)
            .build(https);
        Ok(HttpClient { client })
    }

    /// Send `req` (its URI absolute); resolves with the response head, its body to be read.
    pub fn request(&self, req: http::Request<Full<Bytes>>) -> ResponseFuture {
        self.client.request(req)
    }
}
