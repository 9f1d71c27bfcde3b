//! The dashboard: a static single-page app embedded in the binary and served at `/`.
//!
//! `GET /` answers `index.html`; `GET /dashboard/{file}` answers the assets (ES modules, CSS,
//! icons). Everything is compiled in with `include_bytes!`, so `pier serve` alone serves the
//! dashboard with no file on disk and no internet. The page talks to the public management API
//! only (`/2024-03-01/…` with the API key the user signs in with), so it can never see more than
//! that key may.
//!
//! Caching: asset names carry no content hash, so every answer has a strong `ETag` (a hash of
//! the bytes) and `Cache-Control: no-cache`: browsers revalidate and get `304 Not Modified`
//! while the binary is unchanged, and a new binary's assets are picked up at once.

use crate::state::AppState;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    path: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset { path: $path, bytes: include_bytes!(concat!("../dashboard/", $path)) }),*]
    };
}

/// Every file of `crates/pier-server/dashboard/` (a test checks that none is forgotten).
static ASSETS: &[Asset] = assets![
    "index.html",
    "app.css",
    "favicon.svg",
    "js/app.js",
    "js/api.js",
    "js/dom.js",
    "js/format.js",
    "js/json.js",
    "js/icons.js",
    "js/ui.js",
    "js/detail.js",
    "js/list.js",
    "js/bulk.js",
    "js/code_editor.js",
    "js/charts.js",
    "js/pages/signin.js",
    "js/pages/connections.js",
    "js/pages/connection_form.js",
    "js/pages/requests.js",
    "js/pages/events.js",
    "js/pages/bookmarks.js",
    "js/pages/transformations.js",
    "js/pages/metrics.js",
];

/// The content type of a file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bits: a stable fingerprint of an asset for its `ETag`.
fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The `ETag` of every asset, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| ASSETS.iter().map(|a| format!("\"{:016x}\"", fingerprint(a.bytes))).collect())
}

/// The page may load only its own files and call only its own origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn serve(path: &str, req_headers: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
            "not found\n",
        )
            .into_response();
    };
    let asset = &ASSETS[i];
    let etag = &etags()[i];
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_str(etag).expect("hex etag is a valid header"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if path == "index.html" {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    let matches = req_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    (StatusCode::OK, headers, asset.bytes).into_response()
}

/// The dashboard's page (served at `GET /` by [`crate::tunnel::root`], which also takes the
/// CLI's websocket upgrades there).
pub(crate) fn index_page(headers: &HeaderMap) -> Response {
    serve("index.html", headers)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    // `index.html` has its own route; under /dashboard/ only the assets are served.
    if file == "index.html" {
        return serve("", &headers);
    }
    serve(&file, &headers)
}

/// The dashboard's assets, `GET /dashboard/{*file}` (its page at `GET /` is routed in
/// [`crate::app::router`]).
pub fn routes() -> Router<AppState> {
    Router::new().route("/dashboard/{*file}", get(asset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    /// The routes without the rest of the app (the handlers use no state).
    fn app() -> Router {
        let index = |headers: HeaderMap| async move { index_page(&headers) };
        Router::new().route("/", get(index)).route("/dashboard/{*file}", get(asset))
    }

    async fn get_path(path: &str, if_none_match: Option<&str>) -> Response {
        let mut req = Request::get(path);
        if let Some(t) = if_none_match {
            req = req.header(header::IF_NONE_MATCH, t);
        }
        app().oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn body_text(r: Response) -> String {
        let bytes = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn index_is_served_at_root_with_a_strict_policy() {
        let r = get_path("/", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert!(csp.contains("connect-src 'self'") && csp.contains("script-src 'self'"), "{csp}");
        let html = body_text(r).await;
        assert!(html.contains("/dashboard/js/app.js"), "index loads the app module");
    }

    #[tokio::test]
    async fn assets_have_their_content_types() {
        for (path, ct) in [
            ("/dashboard/app.css", "text/css; charset=utf-8"),
            ("/dashboard/js/app.js", "text/javascript; charset=utf-8"),
            ("/dashboard/js/pages/events.js", "text/javascript; charset=utf-8"),
            ("/dashboard/favicon.svg", "image/svg+xml"),
        ] {
            let r = get_path(path, None).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], ct, "{path}");
            assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert!(r.headers().contains_key(header::ETAG));
        }
    }

    #[tokio::test]
    async fn etag_revalidation_answers_304() {
        let r = get_path("/dashboard/app.css", None).await;
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
        let r = get_path("/dashboard/app.css", Some(&etag)).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(body_text(r).await.is_empty());
        let r = get_path("/dashboard/app.css", Some("\"0000000000000000\"")).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_and_escaping_paths_are_404() {
        for path in [
            "/dashboard/nope.js",
            "/dashboard/../Cargo.toml",
            "/dashboard/%2e%2e/src/lib.rs",
            "/dashboard/js/../../Cargo.toml",
            "/dashboard/index.html",
            "/dashboard/",
        ] {
            let r = get_path(path, None).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn every_file_on_disk_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboard");
        let mut stack = vec![root.clone()];
        let mut files = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/"));
                }
            }
        }
        for f in &files {
            assert!(ASSETS.iter().any(|a| a.path == f), "{f} is in dashboard/ but not embedded in ASSETS");
        }
        assert_eq!(files.len(), ASSETS.len(), "ASSETS names a file that does not exist");
    }
}
