//! `/api/sessions`: create, list, the caller's active session, get (the
//! snapshot), update and delete.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::sessions::model::Session;
use crate::sessions::service::{
    CreateSession, ListQuery, SessionPage, SessionSnapshot, UpdateSession,
};
use crate::state::AppState;

/// `201 Created` with a `Location` header and the session.
pub(super) fn created(session: Session) -> impl IntoResponse {
    let location = format!("/api/sessions/{}", session.id);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(session),
    )
}

/// Create a session owned by the caller.
#[utoipa::path(
    post,
    operation_id = "createSession",
    path = "/api/sessions",
    tag = "sessions",
    request_body = CreateSession,
    responses(
        (status = 201, description = "The new session", body = Session,
            headers(("Location" = String, description = "URL of the session"))),
        (status = 413, description = "Name, metadata or collaborators over a limit", body = ErrorBody),
        (status = 422, description = "Invalid name, collaborator or role", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<CreateSession>,
) -> Result<impl IntoResponse, ApiError> {
    let session = state.node.sessions().create(&user.id, input).await?;
    Ok(created(session))
}

/// The caller's sessions, most recently active first.
#[utoipa::path(
    get,
    operation_id = "listSessions",
    path = "/api/sessions",
    tag = "sessions",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of sessions", body = SessionPage),
        (status = 400, description = "Malformed query string", body = ErrorBody),
        (status = 422, description = "Unknown cursor", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<SessionPage>, ApiError> {
    Ok(Json(state.node.sessions().list(&user.id, query).await?))
}

/// The caller's most recently active session whose status is `active`.
#[utoipa::path(
    get,
    operation_id = "getActiveSession",
    path = "/api/sessions/active",
    tag = "sessions",
    responses(
        (status = 200, description = "The active session", body = Session),
        (status = 404, description = "The caller has no active session", body = ErrorBody),
    )
)]
pub async fn active(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Session>, ApiError> {
    Ok(Json(state.node.sessions().active(&user.id).await?))
}

/// A consistent snapshot: session, mission, newest messages, assets, the
/// caller's role and the stream position to subscribe from.
#[utoipa::path(
    get,
    operation_id = "getSession",
    path = "/api/sessions/{id}",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The snapshot", body = SessionSnapshot),
        (status = 404, description = "No such session, or not visible to the caller", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SessionSnapshot>, ApiError> {
    Ok(Json(state.node.sessions().snapshot(&user.id, id).await?))
}

/// Rename and/or merge metadata (`null` removes a key). Editors and owners.
#[utoipa::path(
    patch,
    operation_id = "updateSession",
    path = "/api/sessions/{id}",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "Session id")),
    request_body = UpdateSession,
    responses(
        (status = 200, description = "The updated session", body = Session),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session is archived", body = ErrorBody),
        (status = 413, description = "Name or metadata over a limit", body = ErrorBody),
        (status = 422, description = "Nothing to update, or an empty name", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<UpdateSession>,
) -> Result<Json<Session>, ApiError> {
    Ok(Json(
        state.node.sessions().update(&user.id, id, input).await?,
    ))
}

/// Delete a session for good (owner only). Export it first to keep a copy.
#[utoipa::path(
    delete,
    operation_id = "deleteSession",
    path = "/api/sessions/{id}",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The caller is not the owner", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.node.sessions().delete(&user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
