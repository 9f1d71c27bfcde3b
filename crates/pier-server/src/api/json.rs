//! A JSON body extractor whose refusals use the API error shape: 400 for JSON that does not
//! parse, 422 for JSON of the wrong shape (naming the field when serde can).

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// Largest management API body.
const MAX_API_BODY: usize = 2 * 1024 * 1024;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let body = axum::body::to_bytes(req.into_body(), MAX_API_BODY).await.map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is too large",
            )
        })?;
        let bytes: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &body };
        serde_json::from_slice(bytes).map(JsonBody).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::unprocessable(e.to_string()),
            _ => ApiError::bad_request(format!("the body is not valid JSON: {e}")),
        })
    }
}
