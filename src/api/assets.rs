//! Assets attached to a session, its mission or one hop.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::sessions::assets::NewAsset;
use crate::sessions::model::Asset;
use crate::state::AppState;

/// The session's assets.
#[utoipa::path(
    get,
    operation_id = "listAssets",
    path = "/api/sessions/{id}/assets",
    tag = "assets",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The assets", body = Vec<Asset>),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<Asset>>, ApiError> {
    Ok(Json(state.node.sessions().assets(&user.id, id).await?))
}

/// Attach an asset: exactly one of inline `content` (small) and `uri`.
#[utoipa::path(
    post,
    operation_id = "addAsset",
    path = "/api/sessions/{id}/assets",
    tag = "assets",
    params(("id" = Uuid, Path, description = "Session id")),
    request_body = NewAsset,
    responses(
        (status = 201, description = "The new asset", body = Asset),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session is archived", body = ErrorBody),
        (status = 413, description = "Inline content or metadata over a limit", body = ErrorBody),
        (status = 422, description = "Bad media type, scope, or content/uri combination", body = ErrorBody),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<NewAsset>,
) -> Result<(StatusCode, Json<Asset>), ApiError> {
    let asset = state.node.sessions().add_asset(&user.id, id, input).await?;
    Ok((StatusCode::CREATED, Json(asset)))
}

/// Remove an asset (editors and owners).
#[utoipa::path(
    delete,
    operation_id = "removeAsset",
    path = "/api/sessions/{id}/assets/{asset_id}",
    tag = "assets",
    params(
        ("id" = Uuid, Path, description = "Session id"),
        ("asset_id" = Uuid, Path, description = "Asset id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session or asset", body = ErrorBody),
        (status = 409, description = "The session is archived", body = ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath((id, asset_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state
        .node
        .sessions()
        .remove_asset(&user.id, id, asset_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
