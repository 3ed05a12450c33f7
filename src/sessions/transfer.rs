//! Export, import and fork: a whole session as one JSON document, and a new
//! session branched from another's history.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::error::DomainError;
use super::events::{Copied, CopySource, SessionEvent};
use super::import;
use super::model::{
    new_id, Asset, ChatMessage, Collaborator, Event, Mission, Role, Session, SessionStatus,
    Timestamp,
};
use super::patch::PatchBudget;
use super::replay::Replayed;
use super::service::{Change, Outcome, SessionService};
use super::validate;
use crate::engine::EngineError;
use crate::sessions::store::{EventDraft, MessageRange, SessionRecord};

/// Format name of export documents.
pub const EXPORT_FORMAT: &str = "tandem.session/1";

/// A whole session: what `export` returns and `import` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// When it was exported.
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: Timestamp,
    /// The session (with its collaborators).
    pub session: Session,
    /// The mission.
    pub mission: Option<Mission>,
    /// Assets.
    pub assets: Vec<Asset>,
    /// Every chat message.
    pub messages: Vec<ChatMessage>,
    /// Every event, from offset 1.
    pub events: Vec<Event>,
}

/// Most events read at once by export and fork.
const ALL: usize = usize::MAX;

impl SessionService {
    /// Exports a session the caller can see.
    pub async fn export(&self, actor: &str, id: Uuid) -> Result<SessionExport, DomainError> {
        let (record, _) = self.load_visible(actor, id).await?;
        let messages = self
            .store()
            .messages(
                id,
                MessageRange {
                    limit: ALL,
                    ..Default::default()
                },
            )
            .await?;
        let events = self.store().events(id, 1, ALL).await?;
        Ok(SessionExport {
            format: EXPORT_FORMAT.to_owned(),
            exported_at: Utc::now(),
            session: record.session,
            mission: record.mission,
            assets: record.assets,
            messages,
            events,
        })
    }

    /// Creates a new session, owned by the caller, from an export document.
    ///
    /// The document's events are the source of truth: they are checked one by
    /// one against the same limits as live writes (`import.rs`), re-attributed
    /// to the importer with the original actor kept as an `imported` mark, and
    /// replayed to rebuild the session, its messages, mission and assets, which
    /// must agree with the document's own lists. Collaborators are not kept
    /// (the caller is the only member until they share it).
    pub async fn import(&self, actor: &str, doc: SessionExport) -> Result<Session, DomainError> {
        if doc.format != EXPORT_FORMAT {
            return Err(DomainError::Invalid(format!(
                "format must be {EXPORT_FORMAT:?}"
            )));
        }
        let limits = self.limits().clone();
        let origin = doc.session.id;
        let history_bytes = validate::json_size(&doc.events);
        let events = doc
            .events
            .into_iter()
            .map(|event| import::mark(event, actor, origin, &limits))
            .collect::<Result<Vec<_>, _>>()?;
        let mut state = Replayed::with_budget(
            limits.clone(),
            PatchBudget::for_history(&limits, history_bytes),
        );
        state
            .apply_all(&events)
            .map_err(|e| DomainError::Invalid(format!("events: {e}")))?;
        import::check_agrees(&state, &doc.messages, &doc.assets, doc.mission.as_ref())?;
        import::check_state(&state, &limits)?;
        let mut session = state
            .session
            .ok_or_else(|| DomainError::Invalid("the events never create the session".into()))?;
        // Name, metadata and status are the importer's to choose ("import as");
        // the closing `session.imported` event records them, so a replay of the
        // new stream still gives the snapshot.
        session.name = validate::name("name", &doc.session.name, &limits)?;
        validate::metadata("metadata", &doc.session.metadata, &limits)?;
        session.metadata = doc.session.metadata;
        session.status = doc.session.status;
        self.check_owned_sessions(actor).await?;
        let from = CopySource {
            session_id: origin,
            offset: None,
        };
        session.id = new_id();
        session.owner = actor.to_owned();
        // Access is granted explicitly: a document cannot add anyone to the new
        // session. The importer owns it and can share it afterwards.
        session.collaborators = vec![owner(actor)];
        session.message_count = state.messages.len() as u64;
        self.create_with_history(
            actor,
            session,
            state.mission,
            state.assets,
            state.messages,
            events,
            SessionEvent::SessionImported,
            from,
        )
        .await
    }

    /// A new session owned by the caller with `id`'s history up to `at_offset`
    /// (default: now): its events, messages, mission and assets as they were then.
    pub async fn fork(
        &self,
        actor: &str,
        id: Uuid,
        at_offset: Option<u64>,
    ) -> Result<Session, DomainError> {
        self.load_visible(actor, id).await?;
        let events = self.store().events(id, 1, ALL).await?;
        let top = events.last().map_or(0, |e| e.offset);
        let at = at_offset.unwrap_or(top);
        if at == 0 || at > top {
            return Err(DomainError::Invalid(format!(
                "at_offset must be between 1 and {top}"
            )));
        }
        let history: Vec<Event> = events.into_iter().take_while(|e| e.offset <= at).collect();
        self.check_owned_sessions(actor).await?;
        let limits = self.limits().clone();
        let budget = PatchBudget::for_history(&limits, validate::json_size(&history));
        let mut state = Replayed::with_budget(limits, budget);
        state.apply_all(&history).map_err(|e| {
            DomainError::Engine(EngineError::Internal(format!(
                "history does not replay: {e}"
            )))
        })?;
        let mut session = state.session.ok_or(DomainError::NotFound("session"))?;
        let now = Utc::now();
        session.id = new_id();
        session.name = fork_name(&session.name, self.limits().max_name_chars);
        session.owner = actor.to_owned();
        session.collaborators = vec![owner(actor)];
        session.status = SessionStatus::Active;
        session.created_at = now;
        session.updated_at = now;
        session.message_count = state.messages.len() as u64;
        let from = CopySource {
            session_id: id,
            offset: Some(at),
        };
        self.create_with_history(
            actor,
            session,
            state.mission,
            state.assets,
            state.messages,
            history,
            SessionEvent::SessionForked,
            from,
        )
        .await
    }

    /// Stores a new session whose stream starts with `history` (copied as it
    /// was) followed by one `kind` event carrying the new session.
    #[allow(clippy::too_many_arguments)]
    async fn create_with_history(
        &self,
        actor: &str,
        mut session: Session,
        mission: Option<Mission>,
        assets: Vec<Asset>,
        messages: Vec<ChatMessage>,
        history: Vec<Event>,
        kind: fn(Copied) -> SessionEvent,
        from: CopySource,
    ) -> Result<Session, DomainError> {
        let now = Utc::now();
        // The closing event is the session's latest activity.
        session.last_activity_at = now;
        let mission = mission.map(|mut m| {
            m.id = new_id();
            m.session_id = Some(session.id);
            m
        });
        session.mission_id = mission.as_ref().map(|m| m.id);
        let messages = messages
            .into_iter()
            .map(|mut m| {
                m.session_id = session.id;
                m
            })
            .collect();
        let expected = history.len() as u64 + 1;
        let mut events: Vec<EventDraft> = history.into_iter().map(EventDraft::from).collect();
        let mission_doc = match &mission {
            Some(m) => Some(
                serde_json::to_value(m)
                    .map_err(|e| DomainError::Engine(EngineError::Internal(e.to_string())))?,
            ),
            None => None,
        };
        let copied = Copied {
            session: session.clone(),
            mission: mission_doc,
            from,
        };
        events.push(EventDraft::new(kind(copied), actor.to_owned(), now));
        let record = SessionRecord {
            session: session.clone(),
            mission,
            assets,
            version: 0,
        };
        let mut change = Change::new(record, actor, now);
        change.messages = messages;
        change.events = events;
        change.notices.push((
            actor.to_owned(),
            json!({ "type": "session.added", "session": session }),
        ));
        match self.commit(change, session).await? {
            Some(Outcome::Applied { value, events, .. }) => {
                if events.last().map(|e| e.offset) != Some(expected) {
                    return Err(DomainError::Engine(EngineError::Internal(
                        "copied history landed at other offsets".into(),
                    )));
                }
                Ok(value)
            }
            _ => Err(DomainError::Contention),
        }
    }
}

fn owner(user: &str) -> Collaborator {
    Collaborator {
        user_id: user.to_owned(),
        role: Role::Owner,
        added_at: Utc::now(),
    }
}

fn fork_name(name: &str, max: usize) -> String {
    let suffix = " (fork)";
    let keep = max.saturating_sub(suffix.chars().count());
    let base: String = name.chars().take(keep).collect();
    format!("{base}{suffix}")
}
