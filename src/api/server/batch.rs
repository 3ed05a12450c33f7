//! Several server API operations in one request, each with its own result
//! (an HTTP status and a body or an error), in order. One failing call does
//! not stop the others; calls run one after another.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::ops::{self, DisconnectInput, EventInput};
use super::ServerKey;
use crate::api::error::{ApiError, ErrorBody, ErrorDetail};
use crate::api::extract::ApiJson;
use crate::sessions::chat::ServerMessage;
use crate::sessions::mission::StepUpdate;
use crate::sessions::validate;
use crate::state::AppState;

/// One call of a batch: `op` names the operation, the other fields are its
/// input (as in the operation's own endpoint, plus the ids of its path).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum BatchCall {
    /// `POST /api/server/sessions/{id}/messages`.
    AppendMessage {
        /// Session id.
        session_id: Uuid,
        /// The message.
        #[serde(flatten)]
        message: ServerMessage,
    },
    /// `PATCH /api/server/sessions/{id}/mission/steps/{step_id}`.
    UpdateStep {
        /// Session id.
        session_id: Uuid,
        /// Step id.
        step_id: String,
        /// The update.
        #[serde(flatten)]
        update: StepUpdate,
    },
    /// `POST /api/server/sessions/{id}/events`.
    PublishEvent {
        /// Session id.
        session_id: Uuid,
        /// The event.
        #[serde(flatten)]
        event: EventInput,
    },
    /// `POST /api/server/users/{user_id}/disconnect`.
    DisconnectUser {
        /// User id.
        user_id: String,
        /// Whether the clients may reconnect at once.
        #[serde(default)]
        reconnect: bool,
    },
    /// `GET /api/server/sessions/{id}/presence`.
    Presence {
        /// Session id.
        session_id: Uuid,
    },
    /// `GET /api/server/channels/stats`.
    ChannelStats {
        /// The channel.
        channel: String,
    },
    /// `GET /api/server/node`.
    NodeStats,
}

/// A batch.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct BatchRequest {
    /// The calls, run in order (at most `TANDEM_SERVER_API_MAX_BATCH`).
    #[schema(value_type = Vec<BatchCall>)]
    pub calls: Vec<Value>,
}

/// The result of one call.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    /// The HTTP status the call would have had on its own.
    pub status: u16,
    /// Its response body (absent for 204 and errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    /// Its error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The results of a batch.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    /// One result per call, in order.
    pub results: Vec<BatchResult>,
}

/// Run several operations in one request; each call gets its own result
/// (`status` and `body`, or `status` and `error`). A malformed call fails
/// alone (422 `invalid_body`).
#[utoipa::path(
    post,
    operation_id = "serverBatch",
    path = "/api/server/batch",
    tag = "server",
    security(("server_api_key" = [])),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One result per call, in order", body = BatchResponse),
        (status = 404, description = "The server API is off", body = ErrorBody),
        (status = 413, description = "More calls than TANDEM_SERVER_API_MAX_BATCH", body = ErrorBody),
    )
)]
pub async fn batch(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiJson(request): ApiJson<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    let max = state.server_api.as_ref().map_or(0, |s| s.max_batch);
    if request.calls.len() > max {
        return Err(validate::too_large(
            "batch",
            format!("{max} calls"),
            "TANDEM_SERVER_API_MAX_BATCH",
        )
        .into());
    }
    let mut results = Vec::with_capacity(request.calls.len());
    for call in request.calls {
        let result = match serde_json::from_value::<BatchCall>(call) {
            Ok(call) => run(&state, call).await,
            Err(err) => Err(ApiError::Body {
                status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                message: format!("not a call: {err}"),
            }),
        };
        results.push(match result {
            Ok((status, body)) => BatchResult {
                status,
                body,
                error: None,
            },
            Err(err) => BatchResult {
                status: err.status().as_u16(),
                body: None,
                error: Some(err.body().error),
            },
        });
    }
    Ok(Json(BatchResponse { results }))
}

fn json<T: Serialize>(status: u16, value: &T) -> Result<(u16, Option<Value>), ApiError> {
    let body = serde_json::to_value(value).map_err(|e| {
        ApiError::Domain(crate::sessions::DomainError::Engine(
            crate::engine::EngineError::Internal(e.to_string()),
        ))
    })?;
    Ok((status, Some(body)))
}

async fn run(state: &AppState, call: BatchCall) -> Result<(u16, Option<Value>), ApiError> {
    match call {
        BatchCall::AppendMessage {
            session_id,
            message,
        } => json(201, &ops::append_message(state, session_id, message).await?),
        BatchCall::UpdateStep {
            session_id,
            step_id,
            update,
        } => json(
            200,
            &ops::update_step(state, session_id, &step_id, update).await?,
        ),
        BatchCall::PublishEvent { session_id, event } => {
            ops::publish_event(state, session_id, event).await?;
            Ok((204, None))
        }
        BatchCall::DisconnectUser { user_id, reconnect } => {
            ops::disconnect_user(state, &user_id, DisconnectInput { reconnect }).await?;
            Ok((204, None))
        }
        BatchCall::Presence { session_id } => json(200, &ops::presence(state, session_id).await?),
        BatchCall::ChannelStats { channel } => {
            json(200, &ops::channel_stats(state, &channel).await?)
        }
        BatchCall::NodeStats => json(200, &ops::node_stats(state)),
    }
}
