//! Chat: sending messages (idempotent with a client key), paging through
//! them, and the ephemeral typing signal.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error::DomainError;
use super::events::SessionEvent;
use super::model::{new_id, ChatMessage, MessageRole, Role};
use super::service::{Outcome, SessionService};
use super::validate;
use crate::engine::EngineError;
use crate::sessions::store::MessageRange;

/// Input of `send_message`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct SendMessage {
    /// Message role; defaults to `user`.
    #[serde(default = "default_role")]
    pub role: MessageRole,
    /// Text.
    pub content: String,
    /// Optional JSON object.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// Makes retries safe: the same key returns the first message.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

fn default_role() -> MessageRole {
    MessageRole::User
}

/// Which page of messages to read.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, utoipa::ToSchema, utoipa::IntoParams,
)]
#[into_params(parameter_in = Query)]
pub struct MessagePage {
    /// Only messages before this offset.
    #[serde(default)]
    pub before: Option<u64>,
    /// Only messages after this offset.
    #[serde(default)]
    pub after: Option<u64>,
    /// Page size (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Input of `post_as_server`: a message an application backend (an AI
/// agent, a tool runner) posts into a session.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ServerMessage {
    /// `assistant`, `system` or `tool` (`user` is refused: people write
    /// through their own connection).
    pub role: MessageRole,
    /// The name shown as the message's author (same rules as a user id).
    pub author: String,
    /// Text.
    pub content: String,
    /// Optional JSON object.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// Makes retries safe: the same key returns the first message.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Who appends a message, and so which checks apply.
enum Writer<'a> {
    /// A collaborator (editor or owner).
    User(&'a str),
    /// An application backend writing as `author` (server API).
    Server(&'a str),
}

impl SessionService {
    /// Sends a chat message. With an idempotency key, a retry returns the
    /// first message instead of adding a second one.
    pub async fn send_message(
        &self,
        actor: &str,
        id: Uuid,
        input: SendMessage,
    ) -> Result<ChatMessage, DomainError> {
        self.append_message(Writer::User(actor), id, input).await
    }

    /// Posts a message from an application backend (the server API) as
    /// `author` with role `assistant`, `system` or `tool`; idempotent with a
    /// key like [`Self::send_message`], in a key space of its own.
    pub async fn post_as_server(
        &self,
        id: Uuid,
        input: ServerMessage,
    ) -> Result<ChatMessage, DomainError> {
        validate::server_role(input.role)?;
        validate::user_id(&input.author)?;
        let ServerMessage {
            role,
            author,
            content,
            metadata,
            idempotency_key,
        } = input;
        let message = SendMessage {
            role,
            content,
            metadata,
            idempotency_key,
        };
        self.append_message(Writer::Server(&author), id, message)
            .await
    }

    async fn append_message(
        &self,
        writer: Writer<'_>,
        id: Uuid,
        input: SendMessage,
    ) -> Result<ChatMessage, DomainError> {
        let limits = self.limits().clone();
        validate::message_content(&input.content, &limits)?;
        if let Some(meta) = &input.metadata {
            validate::metadata("message metadata", meta, &limits)?;
        }
        if let Some(key) = &input.idempotency_key {
            validate::idempotency_key(key)?;
        }
        let (actor, scope) = match writer {
            Writer::User(actor) => (actor, actor.to_owned()),
            // A backend's keys live apart from every user's (user ids have
            // no control characters, so they never start with U+0001).
            Writer::Server(author) => (author, format!("\u{1}server\u{0}{author}")),
        };
        let message_id = new_id();
        let build = |_: &_, change: &mut super::service::Change| {
            let message = ChatMessage {
                id: message_id,
                session_id: id,
                author: actor.to_owned(),
                role: input.role,
                content: input.content.clone(),
                created_at: change.at,
                offset: 0,
                metadata: input.metadata.clone(),
                idempotency_key: input.idempotency_key.clone(),
                imported: None,
            };
            change.record.session.message_count += 1;
            // The message's offset is 0 until stored, so it is left out
            // of the payload: the event's own offset is the message's.
            change.emit(SessionEvent::ChatMessage {
                message: message.clone(),
            });
            change.messages.push(message.clone());
            // After the message's event: the store gives the message the
            // commit's first offset, and a revived session's status event follows.
            change.activity()?;
            if let Some(key) = &input.idempotency_key {
                // Keys are per author: another user's key never matches.
                change.idempotency = Some((format!("{scope}\u{0}{key}"), json!(message)));
            }
            Ok(message)
        };
        let outcome = match writer {
            Writer::User(_) => self.mutate(actor, id, Role::Editor, build).await?,
            Writer::Server(_) => self.mutate_as_server(actor, id, build).await?,
        };
        match outcome {
            Outcome::Applied {
                mut value, events, ..
            } => {
                if let Some(event) = events.first() {
                    value.offset = event.offset;
                }
                Ok(value)
            }
            Outcome::Replayed(first) => serde_json::from_value(first).map_err(|e| {
                DomainError::Engine(EngineError::Internal(format!(
                    "bad idempotency record: {e}"
                )))
            }),
        }
    }

    /// A page of messages in offset order.
    pub async fn messages(
        &self,
        actor: &str,
        id: Uuid,
        page: MessagePage,
    ) -> Result<Vec<ChatMessage>, DomainError> {
        self.load_visible(actor, id).await?;
        let range = MessageRange {
            before: page.before,
            after: page.after,
            limit: page.limit.unwrap_or(50).clamp(1, 200),
        };
        Ok(self.store().messages(id, range).await?)
    }
}
