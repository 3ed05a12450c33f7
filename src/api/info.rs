//! `GET /api/info`: what server this is, without authentication, so a client
//! can tell dev mode (demo login) from production before signing in.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::state::AppState;

/// The answer of `GET /api/info`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServerInfo {
    /// Always `tandem`.
    pub name: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// Whether dev mode is on (the demo login `POST /api/dev/token` exists).
    pub dev: bool,
    /// The engine: `memory` or `redis`.
    pub engine: &'static str,
}

/// What server this is (no authentication).
#[utoipa::path(
    get,
    operation_id = "serverInfo",
    path = "/api/info",
    tag = "meta",
    security(()),
    responses((status = 200, description = "Name, version, dev mode and engine", body = ServerInfo))
)]
pub async fn info(State(state): State<AppState>) -> Json<ServerInfo> {
    Json(ServerInfo {
        name: "tandem",
        version: env!("CARGO_PKG_VERSION"),
        dev: state.minter.is_some(),
        engine: state.node.engine_name(),
    })
}
