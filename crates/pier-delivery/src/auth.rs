//! Destination auth methods: the headers (or query parameter) each adds to a delivery, and the
//! OAuth2 client-credentials token cache.

use base64::Engine;
use parking_lot::Mutex;
use pier_core::AuthMethod;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn cfg<'a>(a: &'a AuthMethod, key: &str) -> &'a str {
    a.config.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// What an auth method adds: headers and query parameters.
#[derive(Debug, Default, PartialEq)]
pub struct AuthParts {
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
}

/// Why auth could not be prepared (recorded as the attempt's error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// Tokens fetched with OAuth2 client credentials, per destination, until they expire.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    /// One token request at a time, so concurrent deliveries share one fetch.
    fetching: tokio::sync::Mutex<()>,
}

impl TokenCache {
    fn get(&self, key: &str) -> Option<String> {
        let t = self.tokens.lock();
        t.get(key).filter(|(_, exp)| *exp > Instant::now()).map(|(tok, _)| tok.clone())
    }
    fn put(&self, key: String, token: String, ttl: Duration) {
        self.tokens.lock().insert(key, (token, Instant::now() + ttl));
    }
    /// Forget a token (after the destination refused it).
    pub fn forget(&self, key: &str) {
        self.tokens.lock().remove(key);
    }
}

/// The `authorization` value of HTTP basic auth.
pub fn basic_auth(username: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")))
}

/// The headers of every method but OAuth2 (which needs the network; see [`oauth2_token`]).
pub fn static_parts(a: &AuthMethod, body: &[u8], event_id: &str, now_secs: i64) -> AuthParts {
    let mut p = AuthParts::default();
    match a.kind.as_str() {
        "BASIC_AUTH" => p.headers.push(("authorization".into(), basic_auth(cfg(a, "username"), cfg(a, "password")))),
        "BEARER_TOKEN" => p.headers.push(("authorization".into(), format!("Bearer {}", cfg(a, "token")))),
        "API_KEY" => {
            let pair = (cfg(a, "key").to_string(), cfg(a, "api_key").to_string());
            if cfg(a, "to") == "query" {
                p.query.push(pair);
            } else {
                p.headers.push((pair.0.to_ascii_lowercase(), pair.1));
            }
        }
        "CUSTOM_SIGNATURE" => {
            // HMAC-SHA256 of the body with the configured secret, base64, in the named header.
            let sig = pier_core::signing::hookdeck_signature(cfg(a, "signing_secret"), body);
            p.headers.push((cfg(a, "key").to_ascii_lowercase(), sig));
        }
        "STANDARD_WEBHOOKS" => {
            let sig = pier_core::signing::standard_webhooks_signature(cfg(a, "secret"), event_id, now_secs, body);
            p.headers.push(("webhook-id".into(), event_id.to_string()));
            p.headers.push(("webhook-timestamp".into(), now_secs.to_string()));
            p.headers.push(("webhook-signature".into(), sig));
        }
        _ => {}
    }
    p
}

/// An OAuth2 client-credentials access token for the destination, cached until it expires.
pub async fn oauth2_token(
    client: &reqwest::Client,
    cache: &TokenCache,
    destination_id: &str,
    a: &AuthMethod,
    timeout: Duration,
) -> Result<String, AuthError> {
    let key = format!("{destination_id}:{}:{}", cfg(a, "auth_server"), cfg(a, "client_id"));
    if let Some(t) = cache.get(&key) {
        return Ok(t);
    }
    let _one_at_a_time = cache.fetching.lock().await;
    if let Some(t) = cache.get(&key) {
        return Ok(t);
    }
    let mut form = vec![("grant_type", "client_credentials".to_string())];
    if !cfg(a, "scope").is_empty() {
        form.push(("scope", cfg(a, "scope").to_string()));
    }
    let mut req = client.post(cfg(a, "auth_server")).timeout(timeout);
    if cfg(a, "authentication_type") == "bearer" {
        // Credentials in the form body.
        form.push(("client_id", cfg(a, "client_id").to_string()));
        form.push(("client_secret", cfg(a, "client_secret").to_string()));
    } else {
        req = req.basic_auth(cfg(a, "client_id"), Some(cfg(a, "client_secret")));
    }
    let body = form.iter().map(|(k, v)| format!("{k}={}", urlencoding::encode(v))).collect::<Vec<_>>().join("&");
    let resp = req
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| AuthError(format!("token request failed: {e}")))?;
    let status = resp.status();
    let v: Value = resp.json().await.map_err(|e| AuthError(format!("token response is not JSON: {e}")))?;
    if !status.is_success() {
        return Err(AuthError(format!("the token endpoint answered {status}")));
    }
    let token = v["access_token"].as_str().ok_or_else(|| AuthError("the token response has no access_token".into()))?;
    let ttl = v["expires_in"].as_u64().unwrap_or(3600);
    // Refresh a little before expiry.
    cache.put(key, token.to_string(), Duration::from_secs(ttl.saturating_sub(30).max(1)));
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn auth(kind: &str, config: Value) -> AuthMethod {
        AuthMethod { kind: kind.into(), config: config.as_object().cloned().unwrap_or_default() }
    }

    #[test]
    fn static_methods_add_their_headers() {
        let p = static_parts(&auth("BASIC_AUTH", json!({"username": "u", "password": "p"})), b"", "evt_1", 0);
        assert_eq!(p.headers, vec![("authorization".to_string(), "Basic dTpw".to_string())]);
        let p = static_parts(&auth("BEARER_TOKEN", json!({"token": "t"})), b"", "evt_1", 0);
        assert_eq!(p.headers[0].1, "Bearer t");
        let p = static_parts(&auth("API_KEY", json!({"key": "X-Key", "api_key": "v"})), b"", "evt_1", 0);
        assert_eq!(p.headers, vec![("x-key".to_string(), "v".to_string())]);
        let p = static_parts(&auth("API_KEY", json!({"key": "k", "api_key": "v", "to": "query"})), b"", "evt_1", 0);
        assert_eq!((p.headers.len(), p.query), (0, vec![("k".to_string(), "v".to_string())]));
        let p = static_parts(
            &auth("STANDARD_WEBHOOKS", json!({"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})),
            b"{}",
            "evt_1",
            5,
        );
        assert_eq!(
            p.headers.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
            ["webhook-id", "webhook-timestamp", "webhook-signature"]
        );
        assert!(static_parts(&AuthMethod::default(), b"", "e", 0).headers.is_empty());
    }
}
