//! One error type for every HTTP answer that is not a success: a stable `code`, the status,
//! a message that says what to do; internal details are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pier_api_types::error::FieldError;
use pier_api_types::ErrorBody;
use pier_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub data: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), data: None }
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{what} not found"))
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "UNPROCESSABLE_ENTITY", message)
    }
    /// 422 naming the offending field (`data.field`).
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        FieldError::new(field, message).into()
    }
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "CONFLICT", message)
    }
    pub fn unavailable() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "storage is unavailable; retry shortly")
    }
    pub fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error; see the server log")
    }
    pub fn with_data(mut self, data: serde_json::Value) -> ApiError {
        self.data = Some(data);
        self
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> ApiError {
        ApiError::unprocessable(e.to_string()).with_data(serde_json::json!({"field": e.field, "message": e.message}))
    }
}

impl ApiError {
    /// A store error, with `NotFound` named after the object (`source not found`).
    pub fn from_store(e: StoreError, what: &str) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found(what),
            other => other.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found("object"),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::InvalidReference(m) => ApiError::unprocessable(m),
            StoreError::InvalidQuery(m) => ApiError::unprocessable(m),
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "storage unavailable");
                ApiError::unavailable()
            }
            StoreError::Internal(m) => {
                tracing::error!(error = %m, "storage error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.to_string(),
            status: self.status.as_u16(),
            message: self.message,
            data: self.data,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
