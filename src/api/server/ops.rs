//! The server API's operations: one function per operation (used by its
//! endpoint and by the batch call), and the endpoints.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::ServerKey;
use crate::api::chat::IDEMPOTENCY_KEY;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{header_str, ApiJson, ApiPath, ApiQuery};
use crate::channels;
use crate::sessions::chat::ServerMessage;
use crate::sessions::mission::{StepUpdate, SERVER_ACTOR};
use crate::sessions::model::{ChatMessage, Mission};
use crate::sessions::service::Position;
use crate::sessions::validate;
use crate::state::AppState;

/// An ephemeral event to publish on a session's channel.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct EventInput {
    /// Event type, e.g. `agent.thinking` (a-z, 0-9, `.`, `_`, `-`; not a
    /// stored event's type).
    #[serde(rename = "type")]
    pub kind: String,
    /// Any JSON (within `TANDEM_MAX_METADATA_BYTES` and `TANDEM_MAX_JSON_DEPTH`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Value,
    /// Who it is from (the event's `actor`). Defaults to `server`.
    #[serde(default)]
    pub author: Option<String>,
}

/// How to disconnect a user.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct DisconnectInput {
    /// `true`: the clients may reconnect at once (3011 force reconnect);
    /// `false` (default): they stop (3503 force disconnect).
    #[serde(default)]
    pub reconnect: bool,
}

/// One connection present in a session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct PresenceEntry {
    /// Connection id.
    pub client: String,
    /// User id.
    pub user: String,
}

/// Who is in a session, on every node.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct SessionPresence {
    /// The session.
    pub session_id: Uuid,
    /// Connections subscribed to the session's channel.
    pub clients: Vec<PresenceEntry>,
    /// Distinct users among them, sorted.
    pub users: Vec<String>,
}

/// Which channel to describe.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelQuery {
    /// `session:<id>` or `user:<id>`.
    pub channel: String,
}

/// One channel seen from this node.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ChannelStatsBody {
    /// The channel.
    pub channel: String,
    /// Connections subscribed on this node.
    pub local_subscribers: usize,
    /// Connections present, on every node (0 where presence is off).
    pub presence_clients: usize,
    /// Distinct users present, on every node.
    pub presence_users: usize,
    /// The stream's position (channels with history).
    pub position: Option<Position>,
}

/// This node's load.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NodeStatsBody {
    /// This node's id (unique per process run).
    pub node_id: String,
    /// The engine (`memory`, `redis`).
    pub engine: String,
    /// Connected clients.
    pub clients: usize,
    /// Distinct users connected.
    pub users: usize,
    /// Channels with subscribers here.
    pub channels: usize,
    /// Subscriptions here.
    pub subscriptions: usize,
}

/// Counts a server API operation in the metrics, by name and result.
fn counted<T>(
    state: &AppState,
    op: &'static str,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    state.node.metrics().server_api_call(op, result.is_ok());
    result
}

/// Appends a message as an agent or tool.
pub async fn append_message(
    state: &AppState,
    session_id: Uuid,
    input: ServerMessage,
) -> Result<ChatMessage, ApiError> {
    let result = state
        .node
        .sessions()
        .post_as_server(session_id, input)
        .await;
    counted(state, "append_message", result.map_err(ApiError::from))
}

/// Sets a mission step's status and result.
pub async fn update_step(
    state: &AppState,
    session_id: Uuid,
    step_id: &str,
    update: StepUpdate,
) -> Result<Mission, ApiError> {
    let result = state
        .node
        .sessions()
        .update_step_as_server(session_id, step_id, update)
        .await;
    counted(state, "update_step", result.map_err(ApiError::from))
}

/// Publishes an ephemeral event on the session's channel.
pub async fn publish_event(
    state: &AppState,
    session_id: Uuid,
    input: EventInput,
) -> Result<(), ApiError> {
    let author = input.author.as_deref().unwrap_or(SERVER_ACTOR);
    let result = state
        .node
        .sessions()
        .event_as_server(session_id, author, &input.kind, input.data)
        .await;
    counted(state, "publish_event", result.map_err(ApiError::from))
}

/// Closes every connection of `user` on every node.
pub async fn disconnect_user(
    state: &AppState,
    user: &str,
    input: DisconnectInput,
) -> Result<(), ApiError> {
    let result = async {
        validate::user_id(user)?;
        state.node.disconnect_user(user, input.reconnect).await?;
        Ok(())
    }
    .await;
    counted(state, "disconnect_user", result)
}

/// Who is present in a session.
pub async fn presence(state: &AppState, session_id: Uuid) -> Result<SessionPresence, ApiError> {
    let result = async {
        state.node.sessions().session_for_server(session_id).await?;
        let map = state
            .node
            .presence_for_server(&channels::session(session_id))
            .await?;
        let clients: Vec<PresenceEntry> = map
            .values()
            .map(|info| PresenceEntry {
                client: info.client.clone(),
                user: info.user.clone(),
            })
            .collect();
        let users: BTreeSet<String> = clients.iter().map(|c| c.user.clone()).collect();
        Ok(SessionPresence {
            session_id,
            clients,
            users: users.into_iter().collect(),
        })
    }
    .await;
    counted(state, "presence", result)
}

/// A channel seen from this node.
pub async fn channel_stats(state: &AppState, channel: &str) -> Result<ChannelStatsBody, ApiError> {
    let result = async {
        let stats = state.node.channel_stats(channel).await?;
        Ok(ChannelStatsBody {
            channel: channel.to_owned(),
            local_subscribers: stats.local_subscribers,
            presence_clients: stats.presence.clients,
            presence_users: stats.presence.users,
            position: stats.position.map(|p| Position {
                offset: p.offset,
                epoch: p.epoch,
            }),
        })
    }
    .await;
    counted(state, "channel_stats", result)
}

/// This node's load.
pub fn node_stats(state: &AppState) -> NodeStatsBody {
    let node = &state.node;
    let stats = node.stats();
    node.metrics().server_api_call("node_stats", true);
    NodeStatsBody {
        node_id: node.id().to_owned(),
        engine: node.engine_name().to_owned(),
        clients: stats.clients,
        users: stats.users,
        channels: stats.channels,
        subscriptions: stats.subscriptions,
    }
}

/// Post a message as an agent, the system or a tool. With an
/// `Idempotency-Key` header (or `idempotency_key`; the header wins) a retry
/// returns the first message, again with `201`.
#[utoipa::path(
    post,
    operation_id = "serverAppendMessage",
    path = "/api/server/sessions/{id}/messages",
    tag = "server",
    security(("server_api_key" = [])),
    params(
        ("id" = Uuid, Path, description = "Session id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 128 bytes; overrides the body's idempotency_key"),
    ),
    request_body = ServerMessage,
    responses(
        (status = 201, description = "The message (also for a replayed retry)", body = ChatMessage),
        (status = 404, description = "No such session, or the server API is off", body = ErrorBody),
        (status = 409, description = "The session is archived", body = ErrorBody),
        (status = 413, description = "Content or metadata over a limit", body = ErrorBody),
        (status = 422, description = "Role `user`, an empty content, a bad author or idempotency key", body = ErrorBody),
    )
)]
pub async fn post_message(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(mut input): ApiJson<ServerMessage>,
) -> Result<(StatusCode, Json<ChatMessage>), ApiError> {
    if let Some(key) = header_str(&headers, IDEMPOTENCY_KEY)? {
        input.idempotency_key = Some(key.to_owned());
    }
    let message = append_message(&state, id, input).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// Set a step of the session's mission: its status and (optionally) its
/// result, stored as the step's `outputs`. Subscribers get the usual
/// `mission.updated` event.
#[utoipa::path(
    patch,
    operation_id = "serverUpdateStep",
    path = "/api/server/sessions/{id}/mission/steps/{step_id}",
    tag = "server",
    security(("server_api_key" = [])),
    params(
        ("id" = Uuid, Path, description = "Session id"),
        ("step_id" = String, Path, description = "The step's id"),
    ),
    request_body = StepUpdate,
    responses(
        (status = 200, description = "The mission after the update", body = Mission),
        (status = 404, description = "No such session, mission or step, or the server API is off", body = ErrorBody),
        (status = 409, description = "Archived session, or a stale base_revision", body = ErrorBody),
        (status = 413, description = "The result makes the mission too large or too deep", body = ErrorBody),
        (status = 422, description = "A bad author or step id", body = ErrorBody),
    )
)]
pub async fn patch_step(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiPath((id, step_id)): ApiPath<(Uuid, String)>,
    ApiJson(update): ApiJson<StepUpdate>,
) -> Result<Json<Mission>, ApiError> {
    Ok(Json(update_step(&state, id, &step_id, update).await?))
}

/// Publish an ephemeral event on the session's channel: delivered live as
/// `{type, actor, at, data}` without an offset, never stored or replayed.
#[utoipa::path(
    post,
    operation_id = "serverPublishEvent",
    path = "/api/server/sessions/{id}/events",
    tag = "server",
    security(("server_api_key" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    request_body = EventInput,
    responses(
        (status = 204, description = "Published"),
        (status = 404, description = "No such session, or the server API is off", body = ErrorBody),
        (status = 413, description = "Data over the limits", body = ErrorBody),
        (status = 422, description = "A bad type (or a stored event's type) or author", body = ErrorBody),
    )
)]
pub async fn post_event(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<EventInput>,
) -> Result<StatusCode, ApiError> {
    publish_event(&state, id, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Close every connection of a user, on every node.
#[utoipa::path(
    post,
    operation_id = "serverDisconnectUser",
    path = "/api/server/users/{user_id}/disconnect",
    tag = "server",
    security(("server_api_key" = [])),
    params(("user_id" = String, Path, description = "User id")),
    request_body(content = Option<DisconnectInput>, description = "Optional; `{}` or no body: terminal disconnect"),
    responses(
        (status = 204, description = "Every node was told"),
        (status = 404, description = "The server API is off", body = ErrorBody),
        (status = 422, description = "Not a valid user id", body = ErrorBody),
    )
)]
pub async fn post_disconnect(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiPath(user): ApiPath<String>,
    input: Option<ApiJson<DisconnectInput>>,
) -> Result<StatusCode, ApiError> {
    let input = input.map(|ApiJson(i)| i).unwrap_or_default();
    disconnect_user(&state, &user, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is present in a session, on every node.
#[utoipa::path(
    get,
    operation_id = "serverPresence",
    path = "/api/server/sessions/{id}/presence",
    tag = "server",
    security(("server_api_key" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "Connections and users present", body = SessionPresence),
        (status = 404, description = "No such session, or the server API is off", body = ErrorBody),
    )
)]
pub async fn get_presence(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SessionPresence>, ApiError> {
    Ok(Json(presence(&state, id).await?))
}

/// A channel seen from this node: local subscribers, presence on every
/// node, stream position.
#[utoipa::path(
    get,
    operation_id = "serverChannelStats",
    path = "/api/server/channels/stats",
    tag = "server",
    security(("server_api_key" = [])),
    params(ChannelQuery),
    responses(
        (status = 200, description = "The channel's stats", body = ChannelStatsBody),
        (status = 404, description = "The server API is off", body = ErrorBody),
        (status = 422, description = "Not a channel Tandem knows", body = ErrorBody),
    )
)]
pub async fn get_channel_stats(
    State(state): State<AppState>,
    _key: ServerKey,
    ApiQuery(query): ApiQuery<ChannelQuery>,
) -> Result<Json<ChannelStatsBody>, ApiError> {
    Ok(Json(channel_stats(&state, &query.channel).await?))
}

/// This node's load.
#[utoipa::path(
    get,
    operation_id = "serverNodeStats",
    path = "/api/server/node",
    tag = "server",
    security(("server_api_key" = [])),
    responses(
        (status = 200, description = "This node's load", body = NodeStatsBody),
        (status = 404, description = "The server API is off", body = ErrorBody),
    )
)]
pub async fn get_node_stats(State(state): State<AppState>, _key: ServerKey) -> Json<NodeStatsBody> {
    Json(node_stats(&state))
}
