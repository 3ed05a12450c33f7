//! Operations endpoints: `/healthz` (the process answers) and `/readyz` (the engine answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::app::AppState;

/// `GET /healthz`.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the engine can serve requests, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let engine = state.node.engine();
    match engine.health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "engine": engine.name() })),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "engine": engine.name() })),
            )
        }
    }
}
