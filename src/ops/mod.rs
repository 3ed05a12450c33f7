//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the
//! engine answers) and `/metrics` (Prometheus text, see [`crate::observe`]).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
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

/// `GET /metrics` (`TANDEM_METRICS_PATH`): every series in the Prometheus
/// text format; the load gauges are read from the node at each scrape. 404
/// when metrics are off.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let node = &state.node;
    let metrics = node.metrics();
    let stats = node.stats();
    metrics.node_load(
        stats.clients,
        stats.users,
        stats.channels,
        stats.subscriptions,
    );
    match metrics.render() {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "metrics are off (TANDEM_METRICS=false)\n",
        )
            .into_response(),
    }
}
