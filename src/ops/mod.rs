//! Operations endpoints: `/healthz` (the process answers) and `/readyz` (the engine answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// `GET /healthz`.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the engine can serve requests, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let engine = state.node.engine_name();
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
