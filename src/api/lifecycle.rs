//! Lifecycle actions (`complete`, `archive`, `restore`, `reopen`) and the
//! activity ping. The status machine lives in `sessions::status`.

use axum::extract::State;
use axum::Json;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, AuthUser};
use crate::sessions::model::Session;
use crate::sessions::status::Transition;
use crate::state::AppState;

async fn transition(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    transition: Transition,
) -> Result<Json<Session>, ApiError> {
    Ok(Json(
        state
            .node
            .sessions()
            .transition(&user.id, id, transition)
            .await?,
    ))
}

/// `active → completed`. Editors and owners.
#[utoipa::path(
    post,
    operation_id = "completeSession",
    path = "/api/sessions/{id}/complete",
    tag = "lifecycle",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session, now completed", body = Session),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "Illegal transition from the current status", body = ErrorBody),
    )
)]
pub async fn complete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Session>, ApiError> {
    transition(&state, &user, id, Transition::Complete).await
}

/// `active | completed | abandoned → archived`. Editors and owners.
#[utoipa::path(
    post,
    operation_id = "archiveSession",
    path = "/api/sessions/{id}/archive",
    tag = "lifecycle",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session, now archived", body = Session),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "Illegal transition from the current status", body = ErrorBody),
    )
)]
pub async fn archive(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Session>, ApiError> {
    transition(&state, &user, id, Transition::Archive).await
}

/// `archived → active`. Editors and owners.
#[utoipa::path(
    post,
    operation_id = "restoreSession",
    path = "/api/sessions/{id}/restore",
    tag = "lifecycle",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session, active again", body = Session),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "Illegal transition from the current status", body = ErrorBody),
    )
)]
pub async fn restore(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Session>, ApiError> {
    transition(&state, &user, id, Transition::Restore).await
}

/// `abandoned → active`. Editors and owners.
#[utoipa::path(
    post,
    operation_id = "reopenSession",
    path = "/api/sessions/{id}/reopen",
    tag = "lifecycle",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session, active again", body = Session),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "Illegal transition from the current status", body = ErrorBody),
    )
)]
pub async fn reopen(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Session>, ApiError> {
    transition(&state, &user, id, Transition::Reopen).await
}

/// Activity ping: bumps `last_activity_at` (stored at most every
/// `activity_interval`) and revives an abandoned session. Any collaborator.
#[utoipa::path(
    post,
    operation_id = "sessionActivity",
    path = "/api/sessions/{id}/activity",
    tag = "lifecycle",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session", body = Session),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session is archived", body = ErrorBody),
    )
)]
pub async fn activity(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Session>, ApiError> {
    Ok(Json(state.node.sessions().activity(&user.id, id).await?))
}
