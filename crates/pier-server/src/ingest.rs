//! Ingest: `/e/{source_key}[/{path…}]`. Find the source, check method, size and credentials,
//! store the request durably, and only then answer (SPEC §3).

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request as HttpRequest, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;
use pier_core::verification::verify;
use pier_core::{IdKind, RejectionCause, Request, Source};
use std::net::SocketAddr;
use std::time::Duration;

/// Header values as text; bytes that are not UTF-8 are kept as `\xNN` escapes.
pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let value = match v.to_str() {
                Ok(s) => s.to_string(),
                Err(_) => escape_bytes(v.as_bytes()),
            };
            (k.as_str().to_string(), value)
        })
        .collect()
}

fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// Split `/e/{key}/{rest}` into the key and the forwarded path (`/` when none).
fn split_path(path: &str) -> (&str, String) {
    let rest = path.strip_prefix("/e/").unwrap_or("");
    match rest.split_once('/') {
        Some((key, tail)) => (key, format!("/{tail}")),
        None => (rest, "/".to_string()),
    }
}

pub async fn handle(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: HttpRequest,
) -> Response {
    match ingest(st, peer, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn ingest(st: AppState, peer: SocketAddr, req: HttpRequest) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let (key, path) = split_path(parts.uri.path());
    if key.is_empty() {
        return Err(ApiError::not_found("source"));
    }
    let source = st.sources.get(st.store.as_ref(), key).await?.ok_or_else(|| ApiError::not_found("source"))?;
    let now = now_ms();
    let method = parts.method.as_str().to_ascii_uppercase();
    let headers = header_pairs(&parts.headers);
    let mut request = Request {
        id: crate::clock::new_id(IdKind::Request, now),
        project_id: source.project_id.clone(),
        source_id: source.id.clone(),
        method: method.clone(),
        path,
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body: None,
        body_size: 0,
        original_ip: Some(peer.ip().to_string()),
        verified: false,
        rejection_cause: None,
        events_count: 0,
        ignored_count: 0,
        cli_events_count: 0,
        routed: true,
        ingested_at: now,
        created_at: now,
        updated_at: now,
    };

    // 2. Method.
    if !source.allowed_http_methods.iter().any(|m| m == &method) {
        reject(&st, request, RejectionCause::UnsupportedHttpMethod).await?;
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("this source accepts {}", source.allowed_http_methods.join(", ")),
        ));
    }

    // 3. Size, and a deadline for slow uploads.
    let limit = st.config.body_limit;
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        request.body_size = declared.unwrap_or(0) as i64;
        return Err(too_large(&st, request, limit).await);
    }
    let body = match read_body(body, limit, Duration::from_secs(st.config.body_timeout_secs)).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            request.body_size = limit as i64 + 1;
            return Err(too_large(&st, request, limit).await);
        }
        Err(BodyError::Timeout) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "the request body took too long to arrive",
            ))
        }
        Err(BodyError::Aborted) => return Err(ApiError::bad_request("the request body could not be read")),
    };
    request.body_size = body.len() as i64;
    request.body = Some(body);

    // 4. Verification.
    if let Some(v) = &source.verification {
        let body_bytes = request.body.as_deref().unwrap_or_default();
        match verify(v, &request.headers, body_bytes, now / 1000) {
            Ok(()) => request.verified = true,
            Err(e) => {
                tracing::info!(source_id = %source.id, reason = %e, "request failed verification");
                reject(&st, request, RejectionCause::VerificationFailed).await?;
                return Err(ApiError::unauthorized("the request failed source verification"));
            }
        }
    }

    // 5. Disabled source.
    if source.disabled_at.is_some() {
        reject(&st, request, RejectionCause::SourceDisabled).await?;
        return Err(ApiError::new(StatusCode::FORBIDDEN, "SOURCE_DISABLED", "this source is disabled"));
    }

    // 6. Durable commit, then the answer. When the source's rules are quick and need no store
    // (filters, delays), the request is routed now and committed with its events; otherwise
    // the routing worker routes it after the commit.
    let id = request.id.clone();
    let routing = match crate::routing::inline_plan(&st, &source.id).await {
        Ok(Some(plan)) => crate::routing::plan(&st, &request, &plan.connections, &plan.compiled, now).await.ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, source_id = %source.id, "cannot load the routes; routing later");
            None
        }
    };
    let stored = match routing {
        Some(mut routing) => {
            request.routed = true;
            request.events_count = routing.events.len() as i64;
            request.ignored_count = routing.ignored.len() as i64;
            request.rejection_cause = routing.rejection;
            crate::routing::count_routed(&routing);
            let offered = crate::routing::offer_to_lanes(&st, &mut routing, now, request.body_len());
            let due = crate::routing::due_events(&routing);
            // Copies of what a lane may be handed after the commit (only when one took events).
            let handoff = routing.lease.as_ref().map(|l| {
                let events = routing.events.iter().filter(|e| l.event_ids.contains(&e.id)).cloned().collect();
                (request.clone(), events)
            });
            let r = st.store.ingest_routed(request, routing).await;
            match &r {
                Ok(leased) => {
                    if let Some((request, events)) = handoff {
                        crate::routing::hand_off(&st, offered, leased, request, events);
                    }
                    for (project, dest, at) in due {
                        st.delivery.notify(&project, &dest, at);
                    }
                }
                Err(_) => {
                    for (dest, n) in offered {
                        st.delivery.withdraw(&dest, n);
                    }
                }
            }
            r.map(|_| ())
        }
        None => {
            request.routed = false;
            let r = st.store.ingest(request).await;
            st.routing_wake.notify_one();
            r
        }
    };
    stored.map_err(|e| {
        tracing::error!(error = %e, source_id = %source.id, "ingest commit failed");
        ApiError::unavailable()
    })?;
    metrics::counter!("pier_requests_total", "source_id" => source.id.clone(), "outcome" => "accepted").increment(1);
    Ok(success(&source, &id))
}

fn success(source: &Source, request_id: &str) -> Response {
    match &source.custom_response {
        Some(c) => {
            let mut r = (StatusCode::OK, c.body.clone()).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(c.content_type.mime()));
            r
        }
        None => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            pier_api_types::output::ingest_success_json(request_id),
        )
            .into_response(),
    }
}

/// Store a rejected request (metadata, and the body when it was read), already routed.
async fn reject(st: &AppState, mut request: Request, cause: RejectionCause) -> Result<(), ApiError> {
    metrics::counter!("pier_requests_total", "source_id" => request.source_id.clone(), "outcome" => cause.as_str())
        .increment(1);
    request.rejection_cause = Some(cause);
    request.routed = true;
    st.store.ingest(request).await.map_err(|e| {
        tracing::error!(error = %e, "recording a rejected request failed");
        ApiError::unavailable()
    })
}

async fn too_large(st: &AppState, request: Request, limit: usize) -> ApiError {
    if let Err(e) = reject(st, request, RejectionCause::PayloadTooLarge).await {
        return e;
    }
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", format!("the body is larger than {limit} bytes"))
}

enum BodyError {
    TooLarge,
    Timeout,
    Aborted,
}

/// Read at most `limit` bytes within `timeout`; memory stays bounded by the limit.
async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, BodyError> {
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(BodyError::Timeout),
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                Err(BodyError::TooLarge)
            } else {
                Err(BodyError::Aborted)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_after_the_key() {
        assert_eq!(split_path("/e/abc"), ("abc", "/".to_string()));
        assert_eq!(split_path("/e/abc/"), ("abc", "/".to_string()));
        assert_eq!(split_path("/e/abc/track"), ("abc", "/track".to_string()));
        assert_eq!(split_path("/e/abc/a/b%20c"), ("abc", "/a/b%20c".to_string()));
        assert_eq!(split_path("/e/"), ("", "/".to_string()));
    }

    #[test]
    fn invalid_utf8_is_escaped() {
        assert_eq!(escape_bytes(b"ok\xffx\xc3"), "ok\\xffx\\xc3");
        assert_eq!(escape_bytes("caf\u{e9}".as_bytes()), "caf\u{e9}");
    }
}
