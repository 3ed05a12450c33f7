//! The request timeout (`TANDEM_HTTP_BODY_TIMEOUT`): a request whose body
//! has not arrived and been answered in time gets `408` with the JSON error
//! shape, and its connection is closed. Slow *headers* are the HTTP server's
//! (`http.rs`).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Runs the rest of the stack for at most `limit`.
pub async fn limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}
