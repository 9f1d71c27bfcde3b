//! One HTTP delivery: build the request (URL, method, headers, signatures, auth), send it with
//! a deadline, read a capped response, and name what happened in Hookdeck's error codes.

use crate::client::HttpClient;
use crate::ssrf;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use pier_core::retry::{parse_retry_after, AttemptResult};
use pier_core::signing::hookdeck_signature;
use pier_core::{AttemptTrigger, Connection, Destination, Project, Request, Source};
use std::time::{Duration, Instant};

/// Headers never forwarded (hop-by-hop, or recomputed by the client).
const DROPPED: [&str; 11] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// A delivery ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// The destination URL + the request's path (unless forwarding is off) + its query.
pub fn target_url(base: &str, path: &str, query: &str, path_forwarding_disabled: bool) -> String {
    let mut url = base.to_string();
    if !path_forwarding_disabled && path != "/" && !path.is_empty() {
        // Keep the base's own query after the path.
        let (b, q) = match url.split_once('?') {
            Some((b, q)) => (b.to_string(), Some(q.to_string())),
            None => (url.clone(), None),
        };
        url = format!("{}{}", b.trim_end_matches('/'), path);
        if let Some(q) = q {
            url.push('?');
            url.push_str(&q);
        }
    }
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(query);
    }
    url
}

/// What a delivery needs to know beyond the event.
pub struct Context<'a> {
    pub request: &'a Request,
    /// What a transformation made of the request; delivered instead of it when present.
    pub data: Option<&'a pier_core::TransformedRequest>,
    pub event_id: &'a str,
    pub destination: &'a Destination,
    pub connection: &'a Connection,
    pub source: &'a Source,
    pub project: &'a Project,
    pub trigger: AttemptTrigger,
    pub attempt_number: i64,
    /// Seconds until the automatic retry that would follow a failure of this attempt.
    pub will_retry_after: Option<i64>,
    pub now_ms: i64,
}

/// Build the HTTP request of a delivery (without auth methods that need the network).
pub fn prepare(c: &Context<'_>) -> Prepared {
    let d = c.destination;
    let (headers_in, body, path, query) = match c.data {
        Some(t) => (&t.headers, t.body.clone().unwrap_or_default(), t.path.as_str(), t.query.as_str()),
        None => {
            let r = c.request;
            (&r.headers, r.body.clone().unwrap_or_default(), r.path.as_str(), r.query.as_str())
        }
    };
    // A CLI destination's "URL" is its path on the developer's machine.
    let base = d.url.as_deref().or(d.cli_path.as_deref()).unwrap_or_default();
    let url = target_url(base, path, query, d.path_forwarding_disabled);
    let method = d.http_method.clone().unwrap_or_else(|| c.request.method.clone());
    let mut added: Vec<(String, String)> = vec![
        ("x-hookdeck-signature".into(), hookdeck_signature(&c.project.signing_secret, &body)),
        ("x-hookdeck-eventid".into(), c.event_id.to_string()),
        ("x-hookdeck-requestid".into(), c.request.id.clone()),
        ("x-hookdeck-source-name".into(), c.source.name.clone()),
        ("x-hookdeck-destination-name".into(), d.name.clone()),
        ("x-hookdeck-connection-name".into(), c.connection.name.clone()),
        ("x-hookdeck-attempt-count".into(), c.attempt_number.to_string()),
        ("x-hookdeck-attempt-trigger".into(), c.trigger.as_str().to_string()),
        ("x-hookdeck-verified".into(), c.request.verified.to_string()),
        ("idempotency-key".into(), c.event_id.to_string()),
    ];
    if let (Some(prev), Some(until)) =
        (&c.project.previous_signing_secret, c.project.previous_signing_secret_expires_at)
    {
        if until > c.now_ms {
            added.push(("x-hookdeck-signature-2".into(), hookdeck_signature(prev, &body)));
        }
    }
    if let Some(secs) = c.will_retry_after {
        added.push(("x-hookdeck-will-retry-after".into(), secs.to_string()));
    }
    if let Some(ip) = &c.request.original_ip {
        added.push(("x-hookdeck-original-ip".into(), ip.clone()));
    }
    let auth = crate::auth::static_parts(&d.auth_method, &body, c.event_id, c.now_ms / 1000);
    added.extend(auth.headers);
    let url = if auth.query.is_empty() {
        url
    } else {
        let extra = auth.query.iter().map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)));
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{}", extra.collect::<Vec<_>>().join("&"))
    };
    let mut headers: Vec<(String, String)> = headers_in
        .iter()
        .filter(|(k, _)| !DROPPED.contains(&k.as_str()) && !added.iter().any(|(a, _)| a == k))
        .cloned()
        .collect();
    headers.extend(added);
    Prepared { method, url, headers, body }
}

/// What sending produced.
#[derive(Debug, Clone)]
pub struct Performed {
    pub result: AttemptResult,
    /// The response body (capped), or a description of the failure.
    pub body: Option<String>,
    pub delivered_at: i64,
    pub responded_at: Option<i64>,
    pub response_latency: Option<i64>,
    pub delivery_latency: Option<i64>,
}

/// A destination URL ready to send to: the URI of the request, its host (for the SSRF check of
/// IP literals), and the credentials the URL carried (`https://user:pass@…`), sent as basic
/// auth as browsers do.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub uri: http::Uri,
    pub host: Option<String>,
    pub basic_auth: Option<http::HeaderValue>,
}

/// Parsed destination URLs by their text: most deliveries of a destination go to the same URL,
/// and parsing one (host normalisation included) costs more than the rest of building the
/// request. Bounded: emptied when it holds [`UrlCache::MAX`] URLs.
#[derive(Default)]
pub struct UrlCache {
    parsed: parking_lot::Mutex<std::collections::HashMap<String, Target>>,
}

impl UrlCache {
    const MAX: usize = 1024;

    /// `url` parsed and normalised as a browser would (a parse error is not kept).
    pub fn parse(&self, url: &str) -> Result<Target, String> {
        if let Some(t) = self.parsed.lock().get(url) {
            return Ok(t.clone());
        }
        let mut u = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(format!("unsupported scheme {}", u.scheme()));
        }
        let basic_auth = credentials(&u);
        if basic_auth.is_some() {
            // Not part of the request line; a URL with a host always takes these.
            let _ = u.set_username("");
            let _ = u.set_password(None);
        }
        let uri = u.as_str().parse::<http::Uri>().map_err(|e| e.to_string())?;
        let target = Target { uri, host: u.host_str().map(str::to_string), basic_auth };
        let mut parsed = self.parsed.lock();
        if parsed.len() >= Self::MAX {
            parsed.clear();
        }
        parsed.insert(url.to_string(), target.clone());
        Ok(target)
    }
}

/// The `authorization` header of a URL's `user:password@`, percent-decoded.
fn credentials(u: &reqwest::Url) -> Option<http::HeaderValue> {
    if u.username().is_empty() && u.password().is_none() {
        return None;
    }
    let decode = |s: &str| urlencoding::decode(s).map(|c| c.into_owned()).unwrap_or_else(|_| s.to_string());
    let basic = crate::auth::basic_auth(&decode(u.username()), &decode(u.password().unwrap_or_default()));
    let mut value = http::HeaderValue::try_from(basic).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Send `p` with `client` within `timeout` (response body included), keeping at most `cap`
/// bytes of the response body.
pub async fn perform(
    client: &HttpClient,
    urls: &UrlCache,
    p: &Prepared,
    timeout: Duration,
    cap: usize,
    allow_private: bool,
    now_ms: impl Fn() -> i64,
) -> Performed {
    let delivered_at = now_ms();
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + timeout);
    let fail = |code: &'static str, detail: String| Performed {
        result: AttemptResult::NoResponse { error_code: code },
        body: Some(detail),
        delivered_at,
        responded_at: None,
        response_latency: None,
        delivery_latency: None,
    };
    let target = match urls.parse(&p.url) {
        Ok(t) => t,
        Err(e) => return fail("MISSING_URL", format!("invalid destination url: {e}")),
    };
    if let Some(host) = &target.host {
        if let Err(b) = ssrf::check_host(host, allow_private) {
            return fail("HOST_UNREACHABLE", b.to_string());
        }
    }
    let method = match http::Method::from_bytes(p.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => return fail("UNKNOWN", format!("invalid method {}", p.method)),
    };
    let mut req = http::Request::new(Full::new(p.body.clone()));
    *req.method_mut() = method;
    *req.uri_mut() = target.uri;
    let headers = req.headers_mut();
    headers.reserve(p.headers.len() + 2);
    for (k, v) in &p.headers {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(v)) {
            headers.append(name, value);
        }
    }
    if let Some(auth) = target.basic_auth {
        if !headers.contains_key(http::header::AUTHORIZATION) {
            headers.insert(http::header::AUTHORIZATION, auth);
        }
    }
    if !headers.contains_key(http::header::USER_AGENT) {
        headers.insert(http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT));
    }
    if !headers.contains_key(http::header::ACCEPT) {
        headers.insert(http::header::ACCEPT, http::HeaderValue::from_static("*/*"));
    }
    let too_slow = || fail("TIMEOUT", format!("no complete response within {}s", timeout.as_secs()));
    let resp = match tokio::time::timeout_at(deadline, client.request(req)).await {
        Err(_) => return too_slow(),
        Ok(Err(e)) => {
            let (code, detail) = classify(&e);
            return fail(code, detail);
        }
        Ok(Ok(r)) => r,
    };
    let responded_at = now_ms();
    let response_latency = started.elapsed().as_millis() as i64;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, responded_at));
    // Read at most `cap` bytes; the rest is dropped with the connection.
    let mut body = Vec::new();
    let mut incoming = resp.into_body();
    loop {
        match tokio::time::timeout_at(deadline, incoming.frame()).await {
            Err(_) => return too_slow(),
            Ok(None) => break,
            Ok(Some(Ok(frame))) => {
                let Ok(chunk) = frame.into_data() else { continue };
                let room = cap.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= cap {
                    break;
                }
            }
            Ok(Some(Err(e))) => {
                let (code, detail) = classify(&e);
                let code = if code == "UNKNOWN" { "SOCKET_CLOSED" } else { code };
                return fail(code, format!("the response was cut off after status {status}: {detail}"));
            }
        }
    }
    Performed {
        result: AttemptResult::Response { status, retry_after },
        body: Some(String::from_utf8_lossy(&body).into_owned()),
        delivered_at,
        responded_at: Some(responded_at),
        response_latency: Some(response_latency),
        delivery_latency: Some(started.elapsed().as_millis() as i64),
    }
}

/// The `user-agent` of a delivery whose request did not bring one.
const USER_AGENT: &str = concat!("Pier/", env!("CARGO_PKG_VERSION"));

/// Name a transport failure with Hookdeck's `AttemptErrorCodes`.
pub fn classify(e: &(dyn std::error::Error + 'static)) -> (&'static str, String) {
    let detail = error_chain(e);
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut protocol = false;
    while let Some(s) = source {
        if s.downcast_ref::<ssrf::Blocked>().is_some() {
            return ("HOST_UNREACHABLE", detail);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            let code = match io.kind() {
                ConnectionRefused => Some("CONNECTION_REFUSED"),
                ConnectionReset | ConnectionAborted => Some("CONNECTION_RESET"),
                TimedOut => Some("TIMEOUT"),
                HostUnreachable | NetworkUnreachable => Some("HOST_UNREACHABLE"),
                UnexpectedEof | BrokenPipe => Some("SOCKET_CLOSED"),
                _ => None,
            };
            if let Some(c) = code {
                return (c, detail);
            }
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                return ("TIMEOUT", detail);
            }
            protocol |= h.is_parse() || h.is_parse_status() || h.is_user();
        }
        source = s.source();
    }
    let lower = detail.to_ascii_lowercase();
    let code = if lower.contains("dns error")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        "DNS_LOOKUP_FAILED"
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        "ERR_TLS_CERT_ALTNAME_INVALID"
    } else if lower.contains("expired") && lower.contains("certificate") {
        "SSL_CERT_EXPIRED"
    } else if lower.contains("self-signed") || lower.contains("self signed") {
        "SELF_SIGNED_CERT"
    } else if lower.contains("unknownissuer") || lower.contains("unknown issuer") || lower.contains("certificate") {
        "SSL_ERROR_CA_UNKNOWN"
    } else if lower.contains("corrupt message")
        || lower.contains("invalidcontenttype")
        || lower.contains("wrong version")
    {
        "ERR_SSL_WRONG_VERSION_NUMBER"
    } else if lower.contains("connection closed") || lower.contains("incomplete") || lower.contains("end of file") {
        "SOCKET_CLOSED"
    } else if lower.contains("refused") {
        "CONNECTION_REFUSED"
    } else if lower.contains("reset") {
        "CONNECTION_RESET"
    } else if protocol {
        "PROTOCOL_ERROR"
    } else {
        "UNKNOWN"
    };
    (code, detail)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut s = e.source();
    while let Some(x) = s {
        let t = x.to_string();
        if !parts.contains(&t) {
            parts.push(t);
        }
        s = x.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_urls_are_kept_and_bounded() {
        let cache = UrlCache::default();
        let u = cache.parse("https://Example.com:443/a?b=1").unwrap();
        assert_eq!(u.uri, "https://example.com/a?b=1");
        assert_eq!(u.host.as_deref(), Some("example.com"));
        assert!(cache.parse("ftp://example.com/").is_err());
        assert_eq!(cache.parse("https://Example.com:443/a?b=1").unwrap(), u, "the kept parse");
        assert_eq!(u.basic_auth, None);
        assert!(cache.parse("not a url").is_err());
        assert_eq!(cache.parsed.lock().len(), 1, "errors are not kept");
        let with = cache.parse("https://us%40er:p%3Ass@example.com/x").unwrap();
        assert_eq!(with.uri, "https://example.com/x", "credentials leave the URI");
        // base64("us@er:p:ss")
        assert_eq!(with.basic_auth.unwrap(), "Basic dXNAZXI6cDpzcw==");
        for i in 0..UrlCache::MAX + 5 {
            cache.parse(&format!("http://h/{i}")).unwrap();
        }
        assert!(cache.parsed.lock().len() <= UrlCache::MAX);
    }

    #[test]
    fn urls_keep_path_and_query() {
        assert_eq!(target_url("https://mock.hookdeck.com", "/track", "", false), "https://mock.hookdeck.com/track");
        assert_eq!(target_url("https://api.example.com/", "/track", "a=1", false), "https://api.example.com/track?a=1");
        assert_eq!(target_url("https://api.example.com/v1", "/", "", false), "https://api.example.com/v1");
        assert_eq!(target_url("https://x.io/base?k=v", "/p", "a=1", false), "https://x.io/base/p?k=v&a=1");
        assert_eq!(target_url("https://x.io/base", "/p", "a=1", true), "https://x.io/base?a=1");
    }
}
