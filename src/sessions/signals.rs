//! Ephemeral signals in a session: who is typing, who is editing which part
//! of the mission. Delivered live on `session:<id>` as publications without
//! an offset, never stored or replayed (SPEC §3). Only writers send them.

use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use super::error::DomainError;
use super::service::SessionService;
use super::validate;
use crate::channels;
use crate::engine::{EngineError, Payload, Publication, PublishRequest};

/// Longest JSON pointer accepted in an editing signal, in bytes.
pub const MAX_POINTER_BYTES: usize = 256;

impl SessionService {
    /// Tells the session that `actor` is (or stopped) typing.
    pub async fn typing(&self, actor: &str, id: Uuid, typing: bool) -> Result<(), DomainError> {
        self.signal(actor, id, "chat.typing", json!({ "typing": typing }))
            .await
    }

    /// Tells the session which part of the mission `actor` is editing (a
    /// JSON pointer such as `/hops/0/name`), or that they stopped (`None`).
    pub async fn editing(
        &self,
        actor: &str,
        id: Uuid,
        path: Option<String>,
    ) -> Result<(), DomainError> {
        if let Some(path) = &path {
            let pointer = path.is_empty() || path.starts_with('/');
            if !pointer || path.len() > MAX_POINTER_BYTES || path.chars().any(char::is_control) {
                return Err(DomainError::Invalid(format!(
                    "path must be a JSON pointer of at most {MAX_POINTER_BYTES} bytes"
                )));
            }
        }
        self.signal(actor, id, "mission.editing", json!({ "path": path }))
            .await
    }

    /// Publishes an ephemeral event from an application backend (server
    /// API) on the session's channel: `{type, actor: author, at, data}`,
    /// live, never stored (e.g. an agent's `agent.thinking`).
    pub async fn event_as_server(
        &self,
        id: Uuid,
        author: &str,
        kind: &str,
        data: Value,
    ) -> Result<(), DomainError> {
        validate::user_id(author)?;
        validate::event_type(kind)?;
        validate::event_data(&data, self.limits())?;
        self.load_any(id).await?;
        self.publish_signal(author, id, kind, data).await
    }

    /// Publishes `{type, actor, at, data}` live, without an offset.
    async fn signal(
        &self,
        actor: &str,
        id: Uuid,
        kind: &str,
        data: Value,
    ) -> Result<(), DomainError> {
        let (_, role) = self.load_visible(actor, id).await?;
        if !role.can_write() {
            return Err(DomainError::Forbidden("viewers cannot write"));
        }
        self.publish_signal(actor, id, kind, data).await
    }

    async fn publish_signal(
        &self,
        actor: &str,
        id: Uuid,
        kind: &str,
        data: Value,
    ) -> Result<(), DomainError> {
        let data = Payload::from_json(&json!({
            "type": kind,
            "actor": actor,
            "at": Utc::now(),
            "data": data,
        }))
        .map_err(|e| DomainError::Engine(EngineError::Internal(e.to_string())))?;
        let request = PublishRequest {
            publication: Publication::of(data),
            history: false,
        };
        self.broker()
            .publish(&channels::session(id), request)
            .await?;
        Ok(())
    }
}
