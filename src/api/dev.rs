//! `POST /api/dev/token`: the demo login. Only routed in dev mode (`--dev`):
//! mints a short-lived connection token for any user name, so a newcomer can
//! connect at once without an identity provider.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::AppState;

/// Lifetime of demo tokens; clients refresh them through the same endpoint.
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// Request body.
#[derive(Debug, Deserialize)]
pub struct DemoLogin {
    /// The user name to sign in as.
    user: String,
}

/// Longest accepted demo user name.
const MAX_USER_LEN: usize = 64;

/// Handler.
pub async fn token(
    State(state): State<AppState>,
    Json(login): Json<DemoLogin>,
) -> (StatusCode, Json<Value>) {
    let user = login.user.trim();
    let valid = !user.is_empty()
        && user.len() <= MAX_USER_LEN
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(
                json!({"error": {"code": "invalid_user", "message": format!("user must be 1 to {MAX_USER_LEN} letters, digits, '-', '_' or '.'")}}),
            ),
        );
    }
    let Some(minter) = &state.minter else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "not_found", "message": "demo login is off"}})),
        );
    };
    match minter.mint(user, DEMO_TOKEN_TTL, Some(json!({ "name": user }))) {
        Ok(token) => (
            StatusCode::OK,
            Json(json!({ "user": user, "token": token, "expires_in": DEMO_TOKEN_TTL.as_secs() })),
        ),
        Err(err) => {
            tracing::error!(error = %err, "could not mint a demo token");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": {"code": "internal", "message": "internal error"}})),
            )
        }
    }
}
