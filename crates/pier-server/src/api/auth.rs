//! API authentication: `Authorization: Bearer <key>` or `Basic base64(<key>:)`. A key resolves
//! to exactly one project; every handler works inside that project only.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use pier_core::keys::hash_api_key;
use pier_core::Project;

/// The project of the key that authenticated the request.
pub struct Auth(pub Project);

fn key_from_header(value: &str) -> Option<String> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string()).filter(|k| !k.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':').unwrap_or((&text, ""));
        // The key is the user name (the Hookdeck CLI sends `key:`); accept it as the password too.
        let key = if user.is_empty() { pass } else { user };
        return Some(key.to_string()).filter(|k| !k.is_empty());
    }
    None
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing API key: send 'Authorization: Bearer <api key>'"))?;
        let key = header
            .to_str()
            .ok()
            .and_then(key_from_header)
            .ok_or_else(|| ApiError::unauthorized("malformed Authorization header: use 'Bearer <api key>'"))?;
        let project = st
            .store
            .project_by_key_hash(&hash_api_key(&key))
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid API key"))?;
        if let Some(limiter) = &st.api_limiter {
            if limiter.check_key(&project.id).is_err() {
                return Err(ApiError::new(
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    "TOO_MANY_REQUESTS",
                    format!(
                        "over {} API requests per second for this project; slow down and retry",
                        st.config.api_rate_limit
                    ),
                ));
            }
        }
        Ok(Auth(project))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_bearer_and_basic() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(key_from_header("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(key_from_header("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(key_from_header(&format!("Basic {}", b64("abc:"))).as_deref(), Some("abc"));
        assert_eq!(key_from_header(&format!("Basic {}", b64(":abc"))).as_deref(), Some("abc"));
        assert_eq!(key_from_header(&format!("Basic {}", b64("abc"))).as_deref(), Some("abc"));
        assert_eq!(key_from_header("Bearer "), None);
        assert_eq!(key_from_header("Token abc"), None);
        assert_eq!(key_from_header("Basic %%%"), None);
        assert_eq!(key_from_header("abc"), None);
    }
}
