//! Sharing: list, add/change (`PUT`) and revoke collaborators (owner only
//! for changes).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::sessions::model::{Collaborator, Role};
use crate::state::AppState;

/// Body of `PUT /api/sessions/{id}/collaborators/{user_id}`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ShareRequest {
    /// `editor` or `viewer` (`owner` is refused).
    pub role: Role,
}

/// Everyone with access to the session, the owner included.
#[utoipa::path(
    get,
    operation_id = "listCollaborators",
    path = "/api/sessions/{id}/collaborators",
    tag = "collaborators",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The collaborators", body = Vec<Collaborator>),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<Collaborator>>, ApiError> {
    Ok(Json(
        state.node.sessions().collaborators(&user.id, id).await?,
    ))
}

/// Share the session with a user, or change their role (owner only).
#[utoipa::path(
    put,
    operation_id = "shareSession",
    path = "/api/sessions/{id}/collaborators/{user_id}",
    tag = "collaborators",
    params(
        ("id" = Uuid, Path, description = "Session id"),
        ("user_id" = String, Path, description = "The user to add or change"),
    ),
    request_body = ShareRequest,
    responses(
        (status = 200, description = "The collaborator as stored", body = Collaborator),
        (status = 403, description = "The caller is not the owner", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session is archived", body = ErrorBody),
        (status = 413, description = "Too many collaborators", body = ErrorBody),
        (status = 422, description = "Role `owner`, the owner's own role, or a bad user id", body = ErrorBody),
    )
)]
pub async fn share(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((id, user_id)): ApiPath<(Uuid, String)>,
    ApiJson(input): ApiJson<ShareRequest>,
) -> Result<Json<Collaborator>, ApiError> {
    Ok(Json(
        state
            .node
            .sessions()
            .share(&user.id, id, &user_id, input.role)
            .await?,
    ))
}

/// Remove a collaborator and end their live subscription (owner only).
#[utoipa::path(
    delete,
    operation_id = "revokeCollaborator",
    path = "/api/sessions/{id}/collaborators/{user_id}",
    tag = "collaborators",
    params(
        ("id" = Uuid, Path, description = "Session id"),
        ("user_id" = String, Path, description = "The user to remove"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "The caller is not the owner", body = ErrorBody),
        (status = 404, description = "No such session or collaborator", body = ErrorBody),
        (status = 409, description = "The session is archived", body = ErrorBody),
        (status = 422, description = "The owner cannot be removed", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((id, user_id)): ApiPath<(Uuid, String)>,
) -> Result<StatusCode, ApiError> {
    state.node.sessions().revoke(&user.id, id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
