//! The audit trail: a session's events from an offset.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery, AuthUser};
use crate::sessions::model::Event;
use crate::state::AppState;

/// Default page size of the audit trail (as the RPC method).
pub const DEFAULT_EVENTS_LIMIT: usize = 100;

/// Query of `GET /api/sessions/{id}/events`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// First offset to return (inclusive; default 1).
    #[serde(default)]
    pub from: u64,
    /// Most events to return (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Events in offset order from `from` (inclusive).
#[utoipa::path(
    get,
    operation_id = "listEvents",
    path = "/api/sessions/{id}/events",
    tag = "events",
    params(("id" = Uuid, Path, description = "Session id"), EventsQuery),
    responses(
        (status = 200, description = "Events in offset order", body = Vec<Event>),
        (status = 400, description = "Malformed query string", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<Vec<Event>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_EVENTS_LIMIT);
    Ok(Json(
        state
            .node
            .sessions()
            .events(&user.id, id, query.from, limit)
            .await?,
    ))
}
