//! Rebuilding a session's state from its events: what a client does with the
//! live feed, what `fork` does with the history up to an offset, and how
//! `import` checks and rebuilds a document.
//!
//! Applying the events of a stream in offset order to an empty state gives the
//! same session, mission, assets and messages as the server's snapshot.
//!
//! Replay costs what the events are, not what they do: the mission is kept
//! as a JSON document while patches are applied (with the same bounded patch
//! engine and the same limits as live edits, see `patch.rs`) and decoded once
//! at the end of [`Replayed::apply_all`].

use serde_json::Value;

use super::events::SessionEvent;
use super::limits::DomainLimits;
use super::mission::roll_up_doc;
use super::model::{Asset, ChatMessage, Event, Mission, Session};
use super::patch::{PatchBudget, Patched};

/// State built from events.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The session (after `session.created`).
    pub session: Option<Session>,
    /// The mission (after `mission.linked`), as of the last `apply`/`apply_all`.
    pub mission: Option<Mission>,
    /// Assets in order.
    pub assets: Vec<Asset>,
    /// Messages in order.
    pub messages: Vec<ChatMessage>,
    /// Whether `session.deleted` was seen.
    pub deleted: bool,
    /// The last offset applied.
    pub offset: u64,
    /// The mission while events are applied.
    mission_doc: Option<Patched>,
    limits: DomainLimits,
    budget: PatchBudget,
}

impl Default for Replayed {
    fn default() -> Self {
        Self::with_limits(DomainLimits::default())
    }
}

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// An event's data did not have the expected shape, or a patch failed.
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

fn malformed(event: &Event, why: impl std::fmt::Display) -> ReplayError {
    ReplayError::Malformed {
        offset: event.offset,
        kind: event.kind.clone(),
        why: why.to_string(),
    }
}

impl Replayed {
    /// An empty state whose mission patches are bounded by `limits` and
    /// share the work `budget`.
    pub fn with_budget(limits: DomainLimits, budget: PatchBudget) -> Self {
        Self {
            session: None,
            mission: None,
            assets: Vec::new(),
            messages: Vec::new(),
            deleted: false,
            offset: 0,
            mission_doc: None,
            budget,
            limits,
        }
    }

    /// An empty state bounded by `limits` with one request's work budget.
    pub fn with_limits(limits: DomainLimits) -> Self {
        let budget = PatchBudget::new(&limits);
        Self::with_budget(limits, budget)
    }

    /// Applies one event; offsets must follow each other.
    pub fn apply(&mut self, event: &Event) -> Result<(), ReplayError> {
        self.step(event)?;
        self.settle(event)
    }

    /// Applies events in order.
    pub fn apply_all<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<(), ReplayError> {
        let mut last = None;
        for event in events {
            self.step(event)?;
            last = Some(event);
        }
        match last {
            Some(event) => self.settle(event),
            None => Ok(()),
        }
    }

    /// Decodes the mission document into [`Replayed::mission`].
    fn settle(&mut self, event: &Event) -> Result<(), ReplayError> {
        self.mission = match &self.mission_doc {
            Some(doc) => Some(
                serde_json::from_value(doc.doc.clone())
                    .map_err(|e| malformed(event, format!("the mission is not valid: {e}")))?,
            ),
            None => None,
        };
        Ok(())
    }

    fn set_mission(&mut self, mission: Option<Value>) {
        self.mission_doc = mission.filter(|m| !m.is_null()).map(|mut doc| {
            roll_up_doc(&mut doc);
            Patched::new(doc)
        });
    }

    fn step(&mut self, event: &Event) -> Result<(), ReplayError> {
        if event.offset != self.offset + 1 {
            return Err(ReplayError::Gap {
                expected: self.offset + 1,
                got: event.offset,
            });
        }
        self.offset = event.offset;
        let decoded = SessionEvent::decode(event).map_err(|e| malformed(event, e))?;
        // A type this version does not know changes nothing it replays.
        let Some(decoded) = decoded else {
            return Ok(());
        };
        match decoded {
            SessionEvent::SessionCreated { session } => self.session = Some(session),
            SessionEvent::SessionImported(copied) | SessionEvent::SessionForked(copied) => {
                let session = copied.session;
                // The copied history now belongs to the new session.
                for message in &mut self.messages {
                    message.session_id = session.id;
                }
                self.session = Some(session);
                self.set_mission(copied.mission);
            }
            SessionEvent::SessionUpdated { name, metadata } => {
                if let Some(session) = self.session.as_mut() {
                    if let Some(name) = name {
                        session.name = name;
                    }
                    if let Some(metadata) = metadata {
                        session.metadata = metadata;
                    }
                    session.updated_at = event.at;
                }
            }
            SessionEvent::StatusChanged { to, .. } => {
                if let Some(session) = self.session.as_mut() {
                    session.status = to;
                    session.updated_at = event.at;
                }
            }
            SessionEvent::SessionDeleted { .. } => self.deleted = true,
            SessionEvent::CollaboratorAdded { collaborator: c }
            | SessionEvent::CollaboratorUpdated { collaborator: c } => {
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
            SessionEvent::CollaboratorRemoved { user_id } => {
                if let Some(session) = self.session.as_mut() {
                    session.collaborators.retain(|c| c.user_id != user_id);
                    session.updated_at = event.at;
                }
            }
            SessionEvent::ChatMessage { mut message } => {
                message.offset = event.offset;
                if let Some(session) = self.session.as_mut() {
                    session.message_count += 1;
                }
                self.messages.push(message);
            }
            SessionEvent::MissionLinked { mission } => {
                if let Some(session) = self.session.as_mut() {
                    let id = mission.get("id").cloned().unwrap_or(Value::Null);
                    session.mission_id = Some(
                        serde_json::from_value(id)
                            .map_err(|e| malformed(event, format!("mission.id: {e}")))?,
                    );
                    session.updated_at = event.at;
                }
                self.set_mission(Some(mission));
            }
            SessionEvent::MissionUpdated {
                patch, revision, ..
            } => {
                if let Some(doc) = self.mission_doc.as_mut() {
                    doc.apply(
                        &patch.0,
                        self.limits.max_mission_bytes,
                        &self.limits,
                        &mut self.budget,
                    )
                    .map_err(|e| malformed(event, e))?;
                    roll_up_doc(&mut doc.doc);
                    if let Some(fields) = doc.doc.as_object_mut() {
                        fields.insert("revision".into(), revision.into());
                        fields.insert(
                            "updated_at".into(),
                            serde_json::to_value(event.at).map_err(|e| malformed(event, e))?,
                        );
                    }
                }
            }
            SessionEvent::AssetAdded { asset } => self.assets.push(asset),
            SessionEvent::AssetRemoved { asset_id } => {
                self.assets.retain(|a| a.id != asset_id);
            }
        }
        if let Some(session) = self.session.as_mut() {
            session.last_activity_at = session.last_activity_at.max(event.at);
        }
        Ok(())
    }
}
