//! Missions: create, read and patch (RFC 6902, optionally conditional on a
//! base revision) by id or through their session, and linking.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::sessions::mission::{MissionPatch, NewMission};
use crate::sessions::model::Mission;
use crate::state::AppState;

/// Create a mission owned by the caller, not linked to a session yet.
#[utoipa::path(
    post,
    operation_id = "createMission",
    path = "/api/missions",
    tag = "missions",
    request_body = NewMission,
    responses(
        (status = 201, description = "The new mission (revision 1)", body = Mission,
            headers(("Location" = String, description = "URL of the mission"))),
        (status = 413, description = "Mission over the size limit", body = ErrorBody),
        (status = 422, description = "Empty title, or duplicate hop/step ids", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<NewMission>,
) -> Result<impl IntoResponse, ApiError> {
    let mission = state
        .node
        .sessions()
        .create_mission(&user.id, input)
        .await?;
    let location = format!("/api/missions/{}", mission.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(mission),
    ))
}

/// A mission visible to the caller (through its session, or as its owner).
#[utoipa::path(
    get,
    operation_id = "getMission",
    path = "/api/missions/{id}",
    tag = "missions",
    params(("id" = Uuid, Path, description = "Mission id")),
    responses(
        (status = 200, description = "The mission", body = Mission),
        (status = 404, description = "No such mission, or not visible", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Mission>, ApiError> {
    Ok(Json(state.node.sessions().mission(&user.id, id).await?))
}

/// Patch a mission by id (RFC 6902 `ops`, optional `base_revision`).
#[utoipa::path(
    patch,
    operation_id = "patchMission",
    path = "/api/missions/{id}",
    tag = "missions",
    params(("id" = Uuid, Path, description = "Mission id")),
    request_body = MissionPatch,
    responses(
        (status = 200, description = "The patched mission (revision + 1)", body = Mission),
        (status = 403, description = "The caller is a viewer of the linked session", body = ErrorBody),
        (status = 404, description = "No such mission", body = ErrorBody),
        (status = 409, description = "Stale base_revision (error.current_revision tells the current one), or the session is archived", body = ErrorBody),
        (status = 413, description = "Too many operations, or the result is too large", body = ErrorBody),
        (status = 422, description = "The patch fails or yields an invalid mission", body = ErrorBody),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<MissionPatch>,
) -> Result<Json<Mission>, ApiError> {
    Ok(Json(
        state
            .node
            .sessions()
            .patch_mission(&user.id, id, input)
            .await?,
    ))
}

/// Link an unlinked mission the caller owns to a session (idempotent).
#[utoipa::path(
    post,
    operation_id = "linkMission",
    path = "/api/sessions/{id}/link-mission/{mission_id}",
    tag = "missions",
    params(
        ("id" = Uuid, Path, description = "Session id"),
        ("mission_id" = Uuid, Path, description = "Mission id"),
    ),
    responses(
        (status = 200, description = "The linked mission", body = Mission),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session or mission", body = ErrorBody),
        (status = 409, description = "The session is archived", body = ErrorBody),
        (status = 422, description = "The session already has a mission, or the mission is linked elsewhere", body = ErrorBody),
    )
)]
pub async fn link(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((id, mission_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Mission>, ApiError> {
    Ok(Json(
        state
            .node
            .sessions()
            .link_mission(&user.id, id, mission_id)
            .await?,
    ))
}

/// The session's mission.
#[utoipa::path(
    get,
    operation_id = "getSessionMission",
    path = "/api/sessions/{id}/mission",
    tag = "missions",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The mission", body = Mission),
        (status = 404, description = "No such session, or it has no mission", body = ErrorBody),
    )
)]
pub async fn session_mission(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Mission>, ApiError> {
    Ok(Json(
        state.node.sessions().session_mission(&user.id, id).await?,
    ))
}

/// Patch the session's mission; setting its status to `completed` completes
/// an active session.
#[utoipa::path(
    patch,
    operation_id = "patchSessionMission",
    path = "/api/sessions/{id}/mission",
    tag = "missions",
    params(("id" = Uuid, Path, description = "Session id")),
    request_body = MissionPatch,
    responses(
        (status = 200, description = "The patched mission (revision + 1)", body = Mission),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session, or it has no mission", body = ErrorBody),
        (status = 409, description = "Stale base_revision (error.current_revision tells the current one), or the session is archived", body = ErrorBody),
        (status = 413, description = "Too many operations, or the result is too large", body = ErrorBody),
        (status = 422, description = "The patch fails or yields an invalid mission", body = ErrorBody),
    )
)]
pub async fn patch_session_mission(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<MissionPatch>,
) -> Result<Json<Mission>, ApiError> {
    Ok(Json(
        state
            .node
            .sessions()
            .patch_session_mission(&user.id, id, input)
            .await?,
    ))
}
