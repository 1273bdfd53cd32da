//! The one error type at the HTTP edge. Every failure becomes `{"error": {"code", "message"}}`
//! with a status a client can act on; internal failures are logged here and answered with a
//! generic message, so no query, path or stack ever reaches a caller.

use std::time::Duration;

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::model::EmbedError;
use crate::pipeline::PipelineError;
use crate::store::StoreError;
use crate::systems::hook::HookError;
use crate::systems::SystemError;

/// Seconds a client is told to wait when the model is full: a batch or two.
const OVERLOADED_RETRY_SECS: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("`text` has nothing to read: it is empty, or only spaces or markup")]
    EmptyText,
    #[error("send `Authorization: Bearer <agent token>`; agent endpoints need it")]
    Unauthorized,
    #[error("the call's signature does not match its body")]
    BadSignature,
    #[error("{0}")]
    NotFound(String),
    #[error("no such endpoint")]
    NoRoute,
    #[error("this endpoint does not take that method")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than this server accepts")]
    PayloadTooLarge,
    #[error("too many requests; try again in {wait_secs} s")]
    TooManyRequests { wait_secs: u64 },
    #[error("the model is busy; try again in {} s", OVERLOADED_RETRY_SECS)]
    Overloaded,
    #[error("the ticket system did not answer; send the call again later")]
    SystemUnavailable,
    #[error("something went wrong on the server; it has been logged")]
    Internal,
}

impl ApiError {
    /// A refusal by the rate limit, which said how long the client has to wait: the message
    /// and `Retry-After` give the same whole seconds, rounded up.
    pub fn too_many_requests(wait: Duration) -> Self {
        let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::TooManyRequests {
            wait_secs: whole.max(1),
        }
    }

    /// Seconds to put in `Retry-After`, for the refusals that pass.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyRequests { wait_secs } => Some(*wait_secs),
            ApiError::Overloaded => Some(OVERLOADED_RETRY_SECS),
            _ => None,
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::EmptyText => (StatusCode::BAD_REQUEST, "empty_text"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::BadSignature => (StatusCode::UNAUTHORIZED, "bad_signature"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "no_route"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::SystemUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "system_unavailable"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if matches!(self, ApiError::Unauthorized) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchTicket(_)
            | StoreError::NoSuchProblem(_)
            | StoreError::NotTriaged(_) => ApiError::NotFound(e.to_string()),
            StoreError::Review(message) => ApiError::Conflict(message),
            other => {
                tracing::error!(error = %other, "store failure behind an API call");
                ApiError::Internal
            }
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Store(e) => e.into(),
            PipelineError::Unusable(_) => ApiError::EmptyText,
            PipelineError::Embed(EmbedError::Overloaded) => ApiError::Overloaded,
            other => {
                tracing::error!(error = %other, "pipeline failure behind an API call");
                ApiError::Internal
            }
        }
    }
}

impl From<HookError> for ApiError {
    fn from(e: HookError) -> Self {
        match e {
            HookError::Off(_) => ApiError::NotFound(e.to_string()),
            HookError::Signature => ApiError::BadSignature,
            HookError::Malformed(_) => ApiError::BadRequest(e.to_string()),
            HookError::System(SystemError::Unavailable(message)) => {
                tracing::warn!(error = %message, "a webhook's ticket could not be read now");
                ApiError::SystemUnavailable
            }
            HookError::System(other) => {
                tracing::error!(error = %other, "a webhook's ticket could not be read");
                ApiError::Internal
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::BadRequest(
                "send a JSON body with `Content-Type: application/json`".into(),
            ),
            _ => ApiError::BadRequest(rejection.body_text()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::BadRequest(rejection.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_the_same_wait_in_its_message_and_header() {
        for (wait, seconds) in [
            (Duration::from_millis(100), "1"),
            (Duration::from_secs(6), "6"),
            (Duration::from_millis(6001), "7"),
            (Duration::ZERO, "1"),
        ] {
            let error = ApiError::too_many_requests(wait);
            assert_eq!(
                error.to_string(),
                format!("too many requests; try again in {seconds} s")
            );
            let response = error.into_response();
            assert_eq!(response.headers()[header::RETRY_AFTER], seconds, "{wait:?}");
        }
        let busy = ApiError::Overloaded;
        assert!(busy
            .to_string()
            .ends_with(&format!("{OVERLOADED_RETRY_SECS} s")));
        assert_eq!(
            busy.into_response().headers()[header::RETRY_AFTER],
            OVERLOADED_RETRY_SECS.to_string().as_str()
        );
    }
}
