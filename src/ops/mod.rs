//! Operations endpoints: `/healthz` (the process answers) and `/readyz` (the
//! node takes new clients: its engine answers and it is not draining), and
//! the `tandem health` probe of them.

pub mod probe;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// `GET /healthz`: 200 while the process serves HTTP; `status` is `ok`, or
/// `draining` once shutdown began (the process is still alive: not a reason
/// to restart it).
pub async fn healthz(State(state): State<AppState>) -> Json<Value> {
    let status = if state.shutdown.is_draining() {
        "draining"
    } else {
        "ok"
    };
    Json(json!({ "status": status }))
}

/// `GET /readyz`: 200 `ready` when the engine can serve requests; 503
/// `draining` once shutdown began (take the node out of rotation), 503
/// `unavailable` when the engine does not answer.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let engine = state.node.engine_name();
    if state.shutdown.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining", "engine": engine })),
        );
    }
    match state.node.health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "engine": engine })),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "engine": engine })),
            )
        }
    }
}
