//! Export, import, fork and statistics.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, AuthUser};
use super::sessions::created;
use crate::sessions::model::Session;
use crate::sessions::stats::SessionStats;
use crate::sessions::transfer::SessionExport;
use crate::state::AppState;

/// Body of `POST /api/sessions/{id}/fork` (optional; an empty body forks at the latest event).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ForkRequest {
    /// Fork with the history up to and including this offset (default: all of it).
    #[serde(default)]
    pub at_offset: Option<u64>,
}

/// The whole session as one JSON document (format `tandem.session/1`).
#[utoipa::path(
    get,
    operation_id = "exportSession",
    path = "/api/sessions/{id}/export",
    tag = "transfer",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The export document", body = SessionExport),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SessionExport>, ApiError> {
    Ok(Json(state.node.sessions().export(&user.id, id).await?))
}

/// A new session owned by the caller from an export document (the body is
/// the document itself). History, messages, mission and assets are kept.
#[utoipa::path(
    post,
    operation_id = "importSession",
    path = "/api/sessions/import",
    tag = "transfer",
    request_body = SessionExport,
    responses(
        (status = 201, description = "The imported session (new id)", body = Session,
            headers(("Location" = String, description = "URL of the session"))),
        (status = 413, description = "Too many collaborators, or the document is over the import body limit", body = ErrorBody),
        (status = 422, description = "Wrong format, or events/messages that do not replay", body = ErrorBody),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(doc): ApiJson<SessionExport>,
) -> Result<impl IntoResponse, ApiError> {
    let session = state.node.sessions().import(&user.id, doc).await?;
    Ok(created(session))
}

/// A new session owned by the caller, branched from this one's history up to
/// `at_offset`. The body is optional.
#[utoipa::path(
    post,
    operation_id = "forkSession",
    path = "/api/sessions/{id}/fork",
    tag = "transfer",
    params(("id" = Uuid, Path, description = "Session id")),
    request_body(content = Option<ForkRequest>, description = "Optional; empty forks at the latest event"),
    responses(
        (status = 201, description = "The fork (new id)", body = Session,
            headers(("Location" = String, description = "URL of the session"))),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 422, description = "at_offset out of range", body = ErrorBody),
    )
)]
pub async fn fork(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    body: Option<ApiJson<ForkRequest>>,
) -> Result<impl IntoResponse, ApiError> {
    let at_offset = body.and_then(|ApiJson(b)| b.at_offset);
    let session = state.node.sessions().fork(&user.id, id, at_offset).await?;
    Ok(created(session))
}

/// Counts: messages per author and role, events per type, steps per status.
#[utoipa::path(
    get,
    operation_id = "sessionStats",
    path = "/api/sessions/{id}/stats",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The statistics", body = SessionStats),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SessionStats>, ApiError> {
    Ok(Json(state.node.sessions().stats(&user.id, id).await?))
}
