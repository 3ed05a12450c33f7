//! Rebuilding a session's state from its events: what a client does with the
//! live feed, and what `fork` does with the history up to an offset.
//!
//! Applying the events of a stream in offset order to an empty state gives the
//! same session, mission, assets and messages as the server's snapshot.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{Asset, ChatMessage, Collaborator, Event, Mission, Session, SessionStatus};

/// State built from events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Replayed {
    /// The session (after `session.created`).
    pub session: Option<Session>,
    /// The mission (after `mission.linked`).
    pub mission: Option<Mission>,
    /// Assets in order.
    pub assets: Vec<Asset>,
    /// Messages in order.
    pub messages: Vec<ChatMessage>,
    /// Whether `session.deleted` was seen.
    pub deleted: bool,
    /// The last offset applied.
    pub offset: u64,
}

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// An event's data did not have the expected shape.
    #[error("event {offset} ({kind}) is malformed: {why}")]
    Malformed {
        /// Offset.
        offset: u64,
        /// Type.
        kind: String,
        /// Why.
        why: String,
    },
    /// An offset was skipped or repeated.
    #[error("expected offset {expected}, got {got}")]
    Gap {
        /// The next offset expected.
        expected: u64,
        /// What came.
        got: u64,
    },
}

fn field<T: serde::de::DeserializeOwned>(event: &Event, name: &str) -> Result<T, ReplayError> {
    let value = event.data.get(name).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| ReplayError::Malformed {
        offset: event.offset,
        kind: event.kind.clone(),
        why: format!("{name}: {e}"),
    })
}

impl Replayed {
    /// Applies one event; offsets must follow each other.
    pub fn apply(&mut self, event: &Event) -> Result<(), ReplayError> {
        if event.offset != self.offset + 1 {
            return Err(ReplayError::Gap {
                expected: self.offset + 1,
                got: event.offset,
            });
        }
        self.offset = event.offset;
        match event.kind.as_str() {
            "session.created" => self.session = Some(field(event, "session")?),
            "session.imported" | "session.forked" => {
                let session: Session = field(event, "session")?;
                // The copied history now belongs to the new session.
                for message in &mut self.messages {
                    message.session_id = session.id;
                }
                self.session = Some(session);
                self.mission = field(event, "mission")?;
            }
            "session.updated" => {
                if let Some(session) = self.session.as_mut() {
                    if let Some(name) = event.data.get("name").and_then(Value::as_str) {
                        session.name = name.to_owned();
                    }
                    if event.data.get("metadata").is_some() {
                        session.metadata = field(event, "metadata")?;
                    }
                    session.updated_at = event.at;
                }
            }
            "session.status_changed" => {
                let to: SessionStatus = field(event, "to")?;
                if let Some(session) = self.session.as_mut() {
                    session.status = to;
                    session.updated_at = event.at;
                }
            }
            "session.deleted" => self.deleted = true,
            "collaborator.added" | "collaborator.updated" => {
                let c: Collaborator = field(event, "collaborator")?;
                if let Some(session) = self.session.as_mut() {
                    match session
                        .collaborators
                        .iter_mut()
                        .find(|e| e.user_id == c.user_id)
                    {
                        Some(existing) => existing.role = c.role,
                        None => session.collaborators.push(c),
                    }
                    session.updated_at = event.at;
                }
            }
            "collaborator.removed" => {
                let user: String = field(event, "user_id")?;
                if let Some(session) = self.session.as_mut() {
                    session.collaborators.retain(|c| c.user_id != user);
                    session.updated_at = event.at;
                }
            }
            "chat.message" => {
                let mut message: ChatMessage = field(event, "message")?;
                message.offset = event.offset;
                if let Some(session) = self.session.as_mut() {
                    session.message_count += 1;
                }
                self.messages.push(message);
            }
            "mission.linked" => {
                let mission: Mission = field(event, "mission")?;
                if let Some(session) = self.session.as_mut() {
                    session.mission_id = Some(mission.id);
                    session.updated_at = event.at;
                }
                self.mission = Some(mission);
            }
            "mission.updated" => {
                let ops: json_patch::Patch = field(event, "patch")?;
                let revision: u64 = field(event, "revision")?;
                if let Some(mission) = self.mission.as_mut() {
                    let mut doc =
                        serde_json::to_value(&*mission).map_err(|e| malformed(event, e))?;
                    json_patch::patch(&mut doc, &ops.0).map_err(|e| malformed(event, e))?;
                    let mut updated: Mission =
                        serde_json::from_value(doc).map_err(|e| malformed(event, e))?;
                    updated.revision = revision;
                    updated.updated_at = event.at;
                    *mission = updated;
                }
            }
            "asset.added" => self.assets.push(field(event, "asset")?),
            _ => {}
        }
        if let Some(session) = self.session.as_mut() {
            session.last_activity_at = session.last_activity_at.max(event.at);
        }
        Ok(())
    }

    /// Applies events in order.
    pub fn apply_all<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<(), ReplayError> {
        events.into_iter().try_for_each(|e| self.apply(e))
    }
}

fn malformed(event: &Event, e: impl std::fmt::Display) -> ReplayError {
    ReplayError::Malformed {
        offset: event.offset,
        kind: event.kind.clone(),
        why: e.to_string(),
    }
}
