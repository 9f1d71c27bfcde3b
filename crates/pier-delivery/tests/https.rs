//! Deliveries over TLS, against a real HTTPS server whose certificate a test CA signs: with the
//! CA trusted the request arrives (over HTTP/2, which the server offers by ALPN, with its
//! headers, body and the URL's credentials as basic auth); without it, or for another name, the failure has Hookdeck's error code.
//! The CA also comes as operators give it, a PEM file (`load_ca_file`), and a file that cannot
//! be used says why.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use pier_core::retry::AttemptResult;
use pier_delivery::client::{load_ca_file, CaFileError, ClientOptions, HttpClient};
use pier_delivery::send::{perform, Performed, Prepared, UrlCache};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

struct Pki {
    ca: CertificateDer<'static>,
    /// The CA's certificate as PEM, as an operator's CA file holds it.
    ca_pem: String,
    leaf: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

/// A CA, and a certificate it signs for `names`.
fn pki(names: &[&str]) -> Pki {
    let (ca_key, ca) = ca();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    Pki {
        ca: ca.der().clone(),
        ca_pem: ca.pem(),
        leaf: leaf.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

/// An HTTPS server offering HTTP/2 and HTTP/1.1; answers with the HTTP version, the
/// `user-agent`, the `x-test` header and the body it received. Returns its port.
async fn https_server(pki: &Pki) -> u16 {
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf.clone()], pki.key.clone_key())
        .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A handshake the client refuses ends here.
                let Ok(stream) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let version = format!("{:?}", req.version());
                    let header =
                        |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    let (agent, test, auth) = (header("user-agent"), header("x-test"), header("authorization"));
                    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    let text = format!("{version}|{agent}|{test}|{auth}|{}", String::from_utf8_lossy(&body));
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(text))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

fn client(extra_roots: Vec<CertificateDer<'static>>) -> HttpClient {
    HttpClient::new(ClientOptions {
        allow_private: true,
        connect_timeout: Duration::from_secs(5),
        max_idle_per_host: 4,
        extra_roots,
    })
    .unwrap()
}

async fn deliver(client: &HttpClient, url: String) -> Performed {
    let p = Prepared {
        method: "POST".into(),
        url,
        headers: vec![("x-test".into(), "yes".into()), ("content-type".into(), "application/json".into())],
        body: Bytes::from_static(br#"{"hello":"tls"}"#),
    };
    let urls = UrlCache::default();
    let sent = perform(client, &urls, &p, Duration::from_secs(10), 1024, true, || 0);
    tokio::time::timeout(LIMIT, sent).await.expect("the delivery did not finish")
}

#[tokio::test]
async fn a_trusted_certificate_delivers_over_http2() {
    let pki = pki(&["localhost"]);
    let port = https_server(&pki).await;
    let c = client(vec![pki.ca.clone()]);
    // The second on the pooled connection, with credentials in its URL (sent as basic auth).
    for (userinfo, auth) in [("", ""), ("u:p@", "Basic dTpw")] {
        let done = deliver(&c, format!("https://{userinfo}localhost:{port}/hook")).await;
        assert!(matches!(done.result, AttemptResult::Response { status: 200, .. }), "{:?}", done);
        let agent = concat!("Pier/", env!("CARGO_PKG_VERSION"));
        assert_eq!(done.body.as_deref(), Some(format!(r#"HTTP/2.0|{agent}|yes|{auth}|{{"hello":"tls"}}"#).as_str()));
    }
}

#[tokio::test]
async fn an_unknown_issuer_is_named() {
    let pki = pki(&["localhost"]);
    let port = https_server(&pki).await;
    let done = deliver(&client(Vec::new()), format!("https://localhost:{port}/hook")).await;
    match done.result {
        AttemptResult::NoResponse { error_code } => assert_eq!(error_code, "SSL_ERROR_CA_UNKNOWN", "{:?}", done.body),
        other => panic!("delivered despite an untrusted certificate: {other:?}"),
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_is_named() {
    let pki = pki(&["example.test"]);
    let port = https_server(&pki).await;
    let done = deliver(&client(vec![pki.ca.clone()]), format!("https://localhost:{port}/hook")).await;
    match done.result {
        AttemptResult::NoResponse { error_code } => {
            assert_eq!(error_code, "ERR_TLS_CERT_ALTNAME_INVALID", "{:?}", done.body)
        }
        other => panic!("delivered to a certificate for another name: {other:?}"),
    }
}

#[tokio::test]
async fn plain_http_to_a_tls_port_is_named() {
    let pki = pki(&["localhost"]);
    let port = https_server(&pki).await;
    let done = deliver(&client(Vec::new()), format!("http://localhost:{port}/hook")).await;
    assert!(
        matches!(done.result, AttemptResult::NoResponse { error_code: "PROTOCOL_ERROR" }),
        "{:?} {:?}",
        done.result,
        done.body
    );
}

#[tokio::test]
async fn a_ca_file_is_trusted_as_loaded() {
    let pki = pki(&["localhost"]);
    let port = https_server(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    // A bundle as operators keep them: a key block (skipped), the CA, and another CA.
    let other = ca().1.pem();
    let path = dir.path().join("ca.pem");
    let key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n";
    std::fs::write(&path, format!("{key}{}{other}", pki.ca_pem)).unwrap();
    let roots = load_ca_file(&path).unwrap();
    assert_eq!(roots.len(), 2, "both certificates, not the key");
    let done = deliver(&client(roots), format!("https://localhost:{port}/hook")).await;
    assert!(matches!(done.result, AttemptResult::Response { status: 200, .. }), "{:?}", done);
}

/// A self-signed CA and its key.
fn ca() -> (KeyPair, rcgen::Certificate) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (key, cert)
}

#[test]
fn a_ca_file_that_cannot_be_used_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let e = load_ca_file(&missing).unwrap_err();
    assert!(matches!(e, CaFileError::Read { .. }), "{e:?}");
    assert!(e.to_string().contains("missing.pem"), "{e}");

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let e = load_ca_file(&empty).unwrap_err();
    assert!(matches!(e, CaFileError::Empty { .. }), "{e:?}");
    assert!(e.to_string().contains("BEGIN CERTIFICATE"), "{e}");

    // Valid base64 that is not a certificate.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n").unwrap();
    let e = load_ca_file(&junk).unwrap_err();
    assert!(matches!(e, CaFileError::Invalid { .. }), "{e:?}");
    assert!(e.to_string().contains("junk.pem"), "{e}");

    // Not base64 at all inside the block.
    let broken = dir.path().join("broken.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").unwrap();
    assert!(matches!(load_ca_file(&broken).unwrap_err(), CaFileError::Invalid { .. }));
}
