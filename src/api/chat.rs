//! Chat: page through messages, send one (idempotent with a key).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use uuid::Uuid;

use super::error::{ApiError, ErrorBody};
use super::extract::{header_str, ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::sessions::chat::{MessagePage, SendMessage};
use crate::sessions::model::ChatMessage;
use crate::state::AppState;

/// The header that makes a send safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A page of messages in offset order (oldest first).
#[utoipa::path(
    get,
    operation_id = "listMessages",
    path = "/api/sessions/{id}/messages",
    tag = "chat",
    params(("id" = Uuid, Path, description = "Session id"), MessagePage),
    responses(
        (status = 200, description = "Messages, oldest first", body = Vec<ChatMessage>),
        (status = 400, description = "Malformed query string", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<MessagePage>,
) -> Result<Json<Vec<ChatMessage>>, ApiError> {
    Ok(Json(
        state.node.sessions().messages(&user.id, id, page).await?,
    ))
}

/// Send a message. With an `Idempotency-Key` header (or an
/// `idempotency_key` field; the header wins) a retry returns the first
/// message, again with `201`, instead of adding a second one.
#[utoipa::path(
    post,
    operation_id = "sendMessage",
    path = "/api/sessions/{id}/messages",
    tag = "chat",
    params(
        ("id" = Uuid, Path, description = "Session id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 128 bytes; overrides the body's idempotency_key"),
    ),
    request_body = SendMessage,
    responses(
        (status = 201, description = "The message (also for a replayed retry)", body = ChatMessage),
        (status = 403, description = "The caller is a viewer", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session is archived", body = ErrorBody),
        (status = 413, description = "Content or metadata over a limit", body = ErrorBody),
        (status = 422, description = "Empty content or a bad idempotency key", body = ErrorBody),
    )
)]
pub async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(mut input): ApiJson<SendMessage>,
) -> Result<(StatusCode, Json<ChatMessage>), ApiError> {
    if let Some(key) = header_str(&headers, IDEMPOTENCY_KEY)? {
        input.idempotency_key = Some(key.to_owned());
    }
    let message = state
        .node
        .sessions()
        .send_message(&user.id, id, input)
        .await?;
    Ok((StatusCode::CREATED, Json(message)))
}
