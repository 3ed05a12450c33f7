//! The REST API's errors: one type, [`ApiError`], rendered as
//! `{"error": {"code", "message"}}` with the right HTTP status.
//!
//! Domain errors are mapped once, through [`crate::errors::http_status`], so
//! REST statuses and RPC error codes never disagree. 5xx causes are logged
//! and hidden from the client.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::auth::jwt::AuthError;
use crate::sessions::DomainError;

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// `error` of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `stale_revision`.
    pub code: String,
    /// Human-readable explanation (never internals).
    pub message: String,
    /// Only with `stale_revision` (409): the mission's current revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<u64>,
}

/// Why the caller is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    Missing,
    /// The header is there but is not `Bearer <token>`.
    Malformed,
    /// The token is expired (or not yet valid).
    Expired,
    /// Bad signature, algorithm, claims…
    Invalid,
}

/// Everything a REST handler or extractor can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The sessions service refused or failed.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Missing or unusable credentials (401).
    #[error("{}", auth_message(*.0))]
    Unauthorized(AuthFailure),
    /// The request body could not be used (400, 413, 415 or 422).
    #[error("{message}")]
    Body {
        /// The status the rejection stands for.
        status: StatusCode,
        /// Why.
        message: String,
    },
    /// A path parameter is malformed, e.g. not a UUID (400).
    #[error("invalid path parameter: {0}")]
    Path(String),
    /// The query string is malformed (400).
    #[error("invalid query string: {0}")]
    Query(String),
    /// A header is malformed (400).
    #[error("invalid header {name}: {message}")]
    Header {
        /// The header.
        name: &'static str,
        /// Why.
        message: String,
    },
    /// No such API route (404).
    #[error("no such API endpoint")]
    NoRoute,
    /// The route exists but not with this method (405).
    #[error("this endpoint does not accept this method")]
    MethodNotAllowed,
    /// The server API is off: no `TANDEM_SERVER_API_KEY` (404).
    #[error("the server API is off: set TANDEM_SERVER_API_KEY to enable it")]
    ServerApiDisabled,
    /// No API key, or not one of `TANDEM_SERVER_API_KEY` (401).
    #[error("{}", if *.0 { "missing API key: send X-API-Key: <key> or Authorization: Bearer <key>" } else { "the API key is not valid" })]
    ApiKey(bool),
    /// The request (its body included) took longer than `TANDEM_HTTP_BODY_TIMEOUT` (408).
    #[error("the request took too long to arrive (TANDEM_HTTP_BODY_TIMEOUT)")]
    Timeout,
}

fn auth_message(failure: AuthFailure) -> &'static str {
    match failure {
        AuthFailure::Missing => "missing Authorization: Bearer <token> header",
        AuthFailure::Malformed => "the Authorization header must be 'Bearer <token>'",
        AuthFailure::Expired => "the token has expired",
        AuthFailure::Invalid => "the token is not valid",
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Expired => ApiError::Unauthorized(AuthFailure::Expired),
            AuthError::Invalid(_) => ApiError::Unauthorized(AuthFailure::Invalid),
        }
    }
}

impl From<crate::node::NodeError> for ApiError {
    fn from(error: crate::node::NodeError) -> Self {
        ApiError::Domain(crate::errors::node_as_domain(error))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::Body {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        ApiError::Body {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::Path(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Query(rejection.body_text())
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Domain(e) => StatusCode::from_u16(crate::errors::http_status(e))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Body { status, .. } => *status,
            ApiError::Path(_) | ApiError::Query(_) | ApiError::Header { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NoRoute | ApiError::ServerApiDisabled => StatusCode::NOT_FOUND,
            ApiError::ApiKey(_) => StatusCode::UNAUTHORIZED,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Domain(e) => e.code(),
            ApiError::Unauthorized(AuthFailure::Missing | AuthFailure::Malformed) => "unauthorized",
            ApiError::Unauthorized(AuthFailure::Expired) => "token_expired",
            ApiError::Unauthorized(AuthFailure::Invalid) => "invalid_token",
            ApiError::Body { status, .. } => match *status {
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
                StatusCode::BAD_REQUEST => "malformed_json",
                _ => "bad_request",
            },
            ApiError::Path(_) => "invalid_path",
            ApiError::Query(_) => "invalid_query",
            ApiError::Header { .. } => "invalid_header",
            ApiError::NoRoute => "not_found",
            ApiError::ServerApiDisabled => "server_api_disabled",
            ApiError::ApiKey(true) => "unauthorized",
            ApiError::ApiKey(false) => "invalid_api_key",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Timeout => "request_timeout",
        }
    }

    /// The JSON body; 5xx messages are generic.
    pub fn body(&self) -> ErrorBody {
        let status = self.status();
        let message = match status {
            StatusCode::SERVICE_UNAVAILABLE => "service unavailable, retry".to_owned(),
            s if s.is_server_error() => "internal error".to_owned(),
            _ => self.to_string(),
        };
        let current_revision = match self {
            ApiError::Domain(DomainError::StaleRevision { current }) => Some(*current),
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message,
                current_revision,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            if status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::warn!(error = %self, "api request failed: unavailable");
            } else {
                tracing::error!(error = %self, "api request failed");
            }
        }
        let mut response = (status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(AuthFailure::Missing | AuthFailure::Malformed) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// Answers unknown `/api/...` paths with the JSON error shape.
pub async fn no_route() -> ApiError {
    ApiError::NoRoute
}

/// Answers a known path asked with another method, with the JSON error shape.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineError;
    use crate::sessions::model::SessionStatus;

    async fn render(error: ApiError) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn every_domain_error_maps_to_its_status_and_code() {
        let cases: Vec<(DomainError, u16, &str)> = vec![
            (DomainError::NotFound("session"), 404, "not_found"),
            (DomainError::Forbidden("nope"), 403, "forbidden"),
            (
                DomainError::IllegalTransition {
                    from: SessionStatus::Completed,
                    to: SessionStatus::Completed,
                },
                409,
                "illegal_transition",
            ),
            (DomainError::Archived, 409, "archived"),
            (
                DomainError::StaleRevision { current: 7 },
                409,
                "stale_revision",
            ),
            (DomainError::Invalid("bad".into()), 422, "invalid"),
            (
                DomainError::TooLarge {
                    what: "name",
                    limit: "3 characters".into(),
                    setting: "TANDEM_MAX_NAME_CHARS",
                },
                413,
                "too_large",
            ),
            (DomainError::Contention, 503, "contention"),
            (
                DomainError::Engine(EngineError::Unavailable("redis down".into())),
                503,
                "unavailable",
            ),
            (
                DomainError::Engine(EngineError::Internal("secret detail".into())),
                500,
                "internal",
            ),
        ];
        for (error, status, code) in cases {
            let expected = crate::errors::http_status(&error);
            assert_eq!(expected, status);
            let (got, _, body) = render(ApiError::from(error)).await;
            assert_eq!(got.as_u16(), status);
            assert_eq!(body["error"]["code"], code);
            assert!(body["error"]["message"].is_string());
        }
    }

    #[tokio::test]
    async fn stale_revision_carries_the_current_revision() {
        let (status, _, body) = render(DomainError::StaleRevision { current: 12 }.into()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"]["current_revision"], 12);
        let (_, _, other) = render(DomainError::Archived.into()).await;
        assert!(other["error"].get("current_revision").is_none());
    }

    #[tokio::test]
    async fn server_errors_hide_their_cause() {
        let (status, _, body) = render(
            DomainError::Engine(EngineError::Internal("db password is hunter2".into())).into(),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["message"], "internal error");
        let (status, headers, body) = render(
            DomainError::Engine(EngineError::Unavailable("10.0.0.3:6379 refused".into())).into(),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["message"], "service unavailable, retry");
        assert!(headers.contains_key(header::RETRY_AFTER));
    }

    #[tokio::test]
    async fn auth_failures_are_401_with_a_challenge() {
        for (failure, code) in [
            (AuthFailure::Missing, "unauthorized"),
            (AuthFailure::Malformed, "unauthorized"),
            (AuthFailure::Expired, "token_expired"),
            (AuthFailure::Invalid, "invalid_token"),
        ] {
            let (status, headers, body) = render(ApiError::Unauthorized(failure)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(body["error"]["code"], code);
            assert!(headers.contains_key(header::WWW_AUTHENTICATE));
        }
        let from_jwt: ApiError = AuthError::Expired.into();
        assert!(matches!(
            from_jwt,
            ApiError::Unauthorized(AuthFailure::Expired)
        ));
    }

    #[tokio::test]
    async fn body_rejections_keep_their_status() {
        for (status, code) in [
            (StatusCode::BAD_REQUEST, "malformed_json"),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ] {
            let (got, _, body) = render(ApiError::Body {
                status,
                message: "x".into(),
            })
            .await;
            assert_eq!(got, status);
            assert_eq!(body["error"]["code"], code);
        }
        let (got, _, body) = render(ApiError::NoRoute).await;
        assert_eq!(got, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
    }
}
