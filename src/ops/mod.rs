//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the
//! node takes new clients: its engine answers and it is not draining),
//! `/metrics` (Prometheus text, see [`crate::observe`]), and the `tandem
//! health` probe of them.

pub mod probe;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
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
