//! The service: the one way REST and RPC read and change sessions.

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::time::Instant;
use uuid::Uuid;

use super::error::DomainError;
use super::events::SessionEvent;
use super::feed::{ActivityFeed, Notice};
use super::gates::WriteGates;
use super::limits::DomainLimits;
use super::model::{new_id, Collaborator, Event, Role, Session, SessionStatus, Timestamp};
use super::status;
use super::store::{Commit, CommitOutcome, EventDraft, SessionRecord, SessionStore};
use super::touch::TouchThrottle;
use super::validate;
use crate::channels;
use crate::engine::{Broker, EngineError, Payload, Publication, PublishRequest};

/// The actor of changes the server makes by itself (the sweeper).
pub const SYSTEM_ACTOR: &str = "system";

/// How many times a write is retried when concurrent writers conflict.
const MAX_ATTEMPTS: usize = 32;

/// The sessions service. Cheap to clone.
#[derive(Clone)]
pub struct SessionService {
    pub(super) inner: Arc<ServiceInner>,
}

pub(super) struct ServiceInner {
    /// Where sessions are kept.
    pub(super) store: Arc<dyn SessionStore>,
    /// Channels: publications, presence, subscriptions.
    pub(super) broker: Arc<dyn Broker>,
    pub(super) limits: DomainLimits,
    /// When each session's activity was last stored by this node.
    last_touch: TouchThrottle,
    /// This node's writers queue per session (see `gates.rs`).
    gates: WriteGates,
    /// Coalesced `session.activity` notices.
    pub(super) feed: ActivityFeed,
}

/// A change being prepared on a loaded record.
pub(crate) struct Change {
    /// The new state (starts as a copy of the loaded one).
    pub record: SessionRecord,
    /// Events to append, in order.
    pub events: Vec<EventDraft>,
    /// Chat messages to append (offset 0 = the first event's offset).
    pub messages: Vec<super::model::ChatMessage>,
    /// Idempotency key and the response to replay.
    pub idempotency: Option<(String, Value)>,
    /// Notices for users' personal feeds, sent after the commit.
    pub notices: Vec<(String, Value)>,
    /// Users whose live subscriptions to the session end after the commit.
    pub revoke: Vec<String>,
    /// The collaborators of the record the change was built on.
    members_before: Vec<String>,
    /// The acting user.
    pub actor: String,
    /// The time of the change.
    pub at: Timestamp,
}

impl Change {
    /// An empty change of `record` by `actor` at `at`.
    pub fn new(record: SessionRecord, actor: &str, at: Timestamp) -> Self {
        Self {
            // A record being created (version 0) has no stored members yet.
            members_before: if record.version == 0 {
                Vec::new()
            } else {
                user_ids(&record.session.collaborators)
            },
            record,
            events: Vec::new(),
            messages: Vec::new(),
            idempotency: None,
            notices: Vec::new(),
            revoke: Vec::new(),
            actor: actor.to_owned(),
            at,
        }
    }

    /// Adds an event.
    pub fn emit(&mut self, event: SessionEvent) {
        self.events
            .push(EventDraft::new(event, self.actor.clone(), self.at));
    }

    /// Tells every collaborator (before and after the change) about it on their feed.
    pub fn notify_all(&mut self, notice: Value) {
        for c in &self.record.session.collaborators {
            self.notices.push((c.user_id.clone(), notice.clone()));
        }
    }

    /// Marks the change as activity: revives an abandoned session (with its
    /// own status event), refuses archived ones, and bumps `last_activity_at`.
    pub fn activity(&mut self) -> Result<(), DomainError> {
        let from = self.record.session.status;
        let to = status::on_activity(from)?;
        if to != from {
            self.set_status(to);
        }
        self.record.session.last_activity_at = self.at;
        Ok(())
    }

    /// Changes the status, with the event and the feed notices.
    pub fn set_status(&mut self, to: SessionStatus) {
        let from = self.record.session.status;
        self.record.session.status = to;
        self.record.session.updated_at = self.at;
        self.emit(SessionEvent::StatusChanged { from, to });
        let notice = json!({ "type": "session.status_changed", "session_id": self.record.session.id, "from": from, "to": to });
        self.notify_all(notice);
    }
}

/// What a committed write produced.
pub(crate) enum Outcome<T> {
    /// Applied now.
    Applied {
        /// The operation's result.
        value: T,
        /// The stored events.
        events: Vec<Event>,
    },
    /// An earlier identical request (same idempotency key) was applied; its response.
    Replayed(Value),
}

/// Messages included in a snapshot.
pub const SNAPSHOT_MESSAGES: usize = 50;

/// Everything a client needs to show a session, and the stream position it
/// reflects: subscribe from `position` and nothing is missed or repeated.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionSnapshot {
    /// The session (collaborators included).
    pub session: Session,
    /// The linked mission.
    pub mission: Option<super::model::Mission>,
    /// The newest messages, oldest first.
    pub messages: Vec<super::model::ChatMessage>,
    /// Assets.
    pub assets: Vec<super::model::Asset>,
    /// Collaborators (same as `session.collaborators`).
    pub collaborators: Vec<Collaborator>,
    /// The caller's role.
    pub role: Role,
    /// Stream position the snapshot reflects.
    pub position: Position,
}

/// A stream position as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Position {
    /// Offset of the last event included.
    pub offset: u64,
    /// Stream epoch.
    pub epoch: String,
}

/// Input of `create`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CreateSession {
    /// Name.
    pub name: String,
    /// Metadata object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Initial collaborators besides the owner.
    #[serde(default)]
    pub collaborators: Vec<NewCollaborator>,
}

/// A collaborator to add.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewCollaborator {
    /// User id.
    pub user_id: String,
    /// Role (`editor` or `viewer`; `owner` is refused).
    pub role: Role,
}

/// Input of `update`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct UpdateSession {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// Keys to merge into the metadata (`null` removes a key).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
}

/// Filters of `list`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this status.
    #[serde(default)]
    pub status: Option<SessionStatus>,
    /// Case-insensitive substring of the name.
    #[serde(default)]
    pub q: Option<String>,
    /// Page size (default 20, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Continue after this cursor (from the previous page).
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A page of sessions.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionPage {
    /// Sessions, newest activity first.
    pub items: Vec<Session>,
    /// Cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

impl SessionService {
    /// A service keeping sessions in `store` and publishing through `broker`.
    pub fn new(
        store: Arc<dyn SessionStore>,
        broker: Arc<dyn Broker>,
        limits: DomainLimits,
    ) -> Self {
        Self {
            inner: Arc::new(ServiceInner {
                feed: ActivityFeed::new(limits.activity_notice_interval),
                last_touch: TouchThrottle::new(limits.activity_interval),
                gates: WriteGates::default(),
                store,
                broker,
                limits,
            }),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &DomainLimits {
        &self.inner.limits
    }

    pub(super) fn store(&self) -> &dyn SessionStore {
        self.inner.store.as_ref()
    }

    pub(super) fn broker(&self) -> &dyn Broker {
        self.inner.broker.as_ref()
    }

    /// Loads a session the actor may see, with their role; 404 otherwise.
    pub(super) async fn load_visible(
        &self,
        actor: &str,
        id: Uuid,
    ) -> Result<(SessionRecord, Role), DomainError> {
        let record = self
            .store()
            .load(id)
            .await?
            .ok_or(DomainError::NotFound("session"))?;
        let role = record
            .session
            .role_of(actor)
            .ok_or(DomainError::NotFound("session"))?;
        Ok((record, role))
    }

    /// Loads a session whoever asks (the server API); 404 when it does not exist.
    pub(super) async fn load_any(&self, id: Uuid) -> Result<SessionRecord, DomainError> {
        self.store()
            .load(id)
            .await?
            .ok_or(DomainError::NotFound("session"))
    }

    /// A session as an application backend sees it (the server API: no
    /// collaborator check).
    pub async fn session_for_server(&self, id: Uuid) -> Result<Session, DomainError> {
        Ok(self.load_any(id).await?.session)
    }

    /// The write path: load, check role, let `build` change a copy, commit;
    /// retried on conflicts.
    pub(crate) async fn mutate<T>(
        &self,
        actor: &str,
        id: Uuid,
        need: Role,
        build: impl FnMut(&SessionRecord, &mut Change) -> Result<T, DomainError>,
    ) -> Result<Outcome<T>, DomainError> {
        self.mutate_with(actor, id, Some(need), build).await
    }

    /// The write path of an application backend (the server API): like
    /// [`Self::mutate`] without the collaborator check (the backend holds an
    /// API key, not a seat in the session); `author` is the actor its events name.
    pub(crate) async fn mutate_as_server<T>(
        &self,
        author: &str,
        id: Uuid,
        build: impl FnMut(&SessionRecord, &mut Change) -> Result<T, DomainError>,
    ) -> Result<Outcome<T>, DomainError> {
        self.mutate_with(author, id, None, build).await
    }

    async fn mutate_with<T>(
        &self,
        actor: &str,
        id: Uuid,
        need: Option<Role>,
        mut build: impl FnMut(&SessionRecord, &mut Change) -> Result<T, DomainError>,
    ) -> Result<Outcome<T>, DomainError> {
        let _turn = self.inner.gates.enter(id).await;
        for _ in 0..MAX_ATTEMPTS {
            let record = match need {
                Some(need) => {
                    let (record, role) = self.load_visible(actor, id).await?;
                    if role < need {
                        return Err(DomainError::Forbidden(match need {
                            Role::Owner => "only the owner may do this",
                            _ => "viewers cannot change a session",
                        }));
                    }
                    record
                }
                None => self.load_any(id).await?,
            };
            let mut change = Change::new(record.clone(), actor, Utc::now());
            let value = build(&record, &mut change)?;
            if let Some(outcome) = self.commit(change, value).await? {
                return Ok(outcome);
            }
        }
        Err(DomainError::Contention)
    }

    /// Commits a change; `None` on a version conflict.
    pub(super) async fn commit<T>(
        &self,
        change: Change,
        value: T,
    ) -> Result<Option<Outcome<T>>, DomainError> {
        self.commit_guarded(change, value, None).await
    }

    /// Commits a change that is refused (`None`, like a version conflict)
    /// when the stored last activity is later than `activity_at_most`.
    async fn commit_guarded<T>(
        &self,
        change: Change,
        value: T,
        activity_at_most: Option<Timestamp>,
    ) -> Result<Option<Outcome<T>>, DomainError> {
        if change.events.is_empty() {
            return Ok(Some(Outcome::Applied {
                value,
                events: Vec::new(),
            }));
        }
        let Change {
            record,
            events,
            messages,
            idempotency,
            notices,
            revoke,
            members_before,
            ..
        } = change;
        let session_id = record.session.id;
        let session = record.session.clone();
        let commit = Commit {
            record,
            messages,
            events,
            idempotency,
            expect_activity_at_most: activity_at_most,
            members_before: Some(members_before),
        };
        match self.store().commit(commit).await? {
            CommitOutcome::Conflict => Ok(None),
            CommitOutcome::Duplicate(response) => Ok(Some(Outcome::Replayed(response))),
            CommitOutcome::Committed { events, .. } => {
                self.after_commit(session_id, notices, revoke).await;
                if let Some(last) = events.last() {
                    self.activity_notice(session_id, Notice::after(&session, last))
                        .await;
                }
                Ok(Some(Outcome::Applied { value, events }))
            }
        }
    }

    /// Side effects that follow a commit: personal feed notices and revoked
    /// subscriptions. They are notifications: a failure is logged, the write stands.
    async fn after_commit(
        &self,
        session_id: Uuid,
        notices: Vec<(String, Value)>,
        revoke: Vec<String>,
    ) {
        for (user, notice) in notices {
            self.notify(&user, notice).await;
        }
        let channel = channels::session(session_id);
        for user in revoke {
            if let Err(err) = self.broker().unsubscribe_user(&channel, &user).await {
                tracing::warn!(error = %err, %user, "could not end a revoked subscription");
            }
        }
    }

    /// Publishes a notice on a user's personal feed.
    pub(super) async fn notify(&self, user: &str, notice: Value) {
        let data = match Payload::from_json(&notice) {
            Ok(data) => data,
            Err(err) => {
                tracing::error!(error = %err, "notice not serialisable");
                return;
            }
        };
        let request = PublishRequest {
            publication: Publication::of(data),
            history: true,
        };
        if let Err(err) = self.broker().publish(&channels::user(user), request).await {
            tracing::warn!(error = %err, %user, "user feed notice lost");
        }
    }

    /// Creates a session owned by `actor`.
    pub async fn create(&self, actor: &str, input: CreateSession) -> Result<Session, DomainError> {
        let limits = self.limits();
        let name = validate::name("name", &input.name, limits)?;
        validate::metadata("metadata", &input.metadata, limits)?;
        self.check_owned_sessions(actor).await?;
        let now = Utc::now();
        let mut collaborators = vec![Collaborator {
            user_id: actor.to_owned(),
            role: Role::Owner,
            added_at: now,
        }];
        for c in &input.collaborators {
            validate::user_id(&c.user_id)?;
            if c.role == Role::Owner {
                return Err(DomainError::Invalid(
                    "a session has exactly one owner".into(),
                ));
            }
            if collaborators.iter().any(|e| e.user_id == c.user_id) {
                return Err(DomainError::Invalid(format!(
                    "{} is listed twice",
                    c.user_id
                )));
            }
            collaborators.push(Collaborator {
                user_id: c.user_id.clone(),
                role: c.role,
                added_at: now,
            });
        }
        if collaborators.len() > limits.max_collaborators {
            return Err(validate::too_large(
                "collaborators",
                format!("{} per session", limits.max_collaborators),
                "TANDEM_MAX_COLLABORATORS",
            ));
        }
        let session = Session {
            id: new_id(),
            name,
            owner: actor.to_owned(),
            collaborators,
            status: SessionStatus::Active,
            metadata: input.metadata,
            mission_id: None,
            created_at: now,
            updated_at: now,
            last_activity_at: now,
            message_count: 0,
        };
        let record = SessionRecord {
            session: session.clone(),
            mission: None,
            assets: Vec::new(),
            version: 0,
        };
        let mut change = Change::new(record, actor, now);
        change.emit(SessionEvent::SessionCreated {
            session: session.clone(),
        });
        let notice = json!({ "type": "session.added", "session": session });
        change.notify_all(notice);
        match self.commit(change, session).await? {
            Some(Outcome::Applied { value, .. }) => Ok(value),
            _ => Err(DomainError::Contention),
        }
    }

    /// Refuses a new session for `actor` when they own as many as allowed.
    pub(super) async fn check_owned_sessions(&self, actor: &str) -> Result<(), DomainError> {
        let max = self.limits().max_sessions_per_user;
        // The list counts every session the user is in, owned or not: below
        // the limit it settles the question without reading one session.
        if self.store().listed_sessions(actor).await? < max {
            return Ok(());
        }
        let owned = self
            .store()
            .sessions_of(actor)
            .await?
            .iter()
            .filter(|s| s.owner == actor)
            .count();
        if owned >= max {
            return Err(validate::too_large(
                "sessions owned",
                format!("{max} per user"),
                "TANDEM_MAX_SESSIONS_PER_USER",
            ));
        }
        Ok(())
    }

    /// A consistent snapshot of a session the caller can see.
    pub async fn snapshot(&self, actor: &str, id: Uuid) -> Result<SessionSnapshot, DomainError> {
        let snapshot = self
            .store()
            .snapshot(id, SNAPSHOT_MESSAGES)
            .await?
            .ok_or(DomainError::NotFound("session"))?;
        let role = snapshot
            .record
            .session
            .role_of(actor)
            .ok_or(DomainError::NotFound("session"))?;
        let record = snapshot.record;
        Ok(SessionSnapshot {
            collaborators: record.session.collaborators.clone(),
            session: record.session,
            mission: record.mission,
            messages: snapshot.messages,
            assets: record.assets,
            role,
            position: Position {
                offset: snapshot.position.offset,
                epoch: snapshot.position.epoch,
            },
        })
    }

    /// The role of `user` in a session, or `None` if they cannot see it.
    pub async fn role_of(&self, user: &str, id: Uuid) -> Result<Option<Role>, DomainError> {
        Ok(self
            .store()
            .load(id)
            .await?
            .and_then(|r| r.session.role_of(user)))
    }

    /// The caller's sessions, newest activity first, filtered and paged.
    pub async fn list(&self, actor: &str, query: ListQuery) -> Result<SessionPage, DomainError> {
        let limit = query.limit.unwrap_or(20).clamp(1, 100);
        let mut sessions = self.store().sessions_of(actor).await?;
        if let Some(status) = query.status {
            sessions.retain(|s| s.status == status);
        }
        if let Some(q) = query
            .q
            .as_deref()
            .map(str::to_lowercase)
            .filter(|q| !q.is_empty())
        {
            sessions.retain(|s| s.name.to_lowercase().contains(&q));
        }
        sessions.sort_by(|a, b| {
            b.last_activity_at
                .cmp(&a.last_activity_at)
                .then(b.id.cmp(&a.id))
        });
        if let Some(cursor) = query.cursor.as_deref() {
            let (at, id) = decode_cursor(cursor)?;
            sessions.retain(|s| (s.last_activity_at, s.id) < (at, id));
        }
        let next_cursor = if sessions.len() > limit {
            sessions
                .get(limit - 1)
                .map(|s| encode_cursor(s.last_activity_at, s.id))
        } else {
            None
        };
        sessions.truncate(limit);
        Ok(SessionPage {
            items: sessions,
            next_cursor,
        })
    }

    /// The caller's most recently active `active` session.
    pub async fn active(&self, actor: &str) -> Result<Session, DomainError> {
        let sessions = self.store().sessions_of(actor).await?;
        sessions
            .into_iter()
            .filter(|s| s.status == SessionStatus::Active)
            .max_by_key(|s| (s.last_activity_at, s.id))
            .ok_or(DomainError::NotFound("active session"))
    }

    /// Renames and/or merges metadata.
    pub async fn update(
        &self,
        actor: &str,
        id: Uuid,
        input: UpdateSession,
    ) -> Result<Session, DomainError> {
        let limits = self.limits().clone();
        let name = input
            .name
            .as_deref()
            .map(|n| validate::name("name", n, &limits))
            .transpose()?;
        let outcome = self
            .mutate(actor, id, Role::Editor, |_, change| {
                change.activity()?;
                let session = &mut change.record.session;
                let mut new_metadata = None;
                if let Some(name) = &name {
                    session.name = name.clone();
                }
                if let Some(patch) = &input.metadata {
                    for (k, v) in patch {
                        if v.is_null() {
                            session.metadata.remove(k);
                        } else {
                            session.metadata.insert(k.clone(), v.clone());
                        }
                    }
                    validate::metadata("metadata", &session.metadata, &limits)?;
                    new_metadata = Some(session.metadata.clone());
                }
                if name.is_none() && new_metadata.is_none() {
                    return Err(DomainError::Invalid(
                        "nothing to update: give name and/or metadata".into(),
                    ));
                }
                session.updated_at = change.at;
                let session = session.clone();
                change.emit(SessionEvent::SessionUpdated {
                    name: name.clone(),
                    metadata: new_metadata,
                });
                Ok(session)
            })
            .await?;
        applied(outcome)
    }

    /// A lifecycle transition decided by the sweeper on `record` (as it
    /// loaded it), made as `system` at `at`: a compare-and-set on the record's
    /// version **and** its last activity, so a write or an activity ping that
    /// arrived since `record` was read (or another node's sweep of the same
    /// session) makes it a no-op. Returns whether this call made the transition.
    pub async fn sweep_transition(
        &self,
        record: &SessionRecord,
        transition: status::Transition,
        at: Timestamp,
    ) -> Result<bool, DomainError> {
        let to = status::apply(record.session.status, transition)?;
        let mut change = Change::new(record.clone(), SYSTEM_ACTOR, at);
        change.set_status(to);
        let guard = Some(record.session.last_activity_at);
        Ok(self.commit_guarded(change, (), guard).await?.is_some())
    }

    /// Deletes an archived session for the sweeper, as `system`, with the
    /// farewell event and the collaborators' notices. Returns false when it
    /// was gone already or is no longer archived.
    pub async fn sweep_delete(&self, id: Uuid, at: Timestamp) -> Result<bool, DomainError> {
        let Some(record) = self.store().load(id).await? else {
            return Ok(false);
        };
        if record.session.status != SessionStatus::Archived {
            return Ok(false);
        }
        let members = user_ids(&record.session.collaborators);
        self.delete_members(id, &members, SYSTEM_ACTOR, at).await
    }

    /// Deletes a session for good (owner only). A session whose stored
    /// record cannot be decoded can still be deleted by its owner.
    pub async fn delete(&self, actor: &str, id: Uuid) -> Result<(), DomainError> {
        let members = match self.load_visible(actor, id).await {
            Ok((record, role)) => {
                if role != Role::Owner {
                    return Err(DomainError::Forbidden(
                        "only the owner may delete a session",
                    ));
                }
                user_ids(&record.session.collaborators)
            }
            Err(DomainError::Engine(EngineError::Corrupt(why))) => {
                let Some((owner, members)) = self.store().members(id).await? else {
                    return Err(DomainError::NotFound("session"));
                };
                if !members.iter().any(|m| m == actor) {
                    return Err(DomainError::NotFound("session"));
                }
                if owner != actor {
                    return Err(DomainError::Forbidden(
                        "only the owner may delete a session",
                    ));
                }
                tracing::warn!(session = %id, error = %why, "deleting a session that cannot be decoded");
                members
            }
            Err(other) => return Err(other),
        };
        if !self.delete_members(id, &members, actor, Utc::now()).await? {
            return Err(DomainError::NotFound("session"));
        }
        Ok(())
    }

    /// Deletes a session: farewell event, notices to `members`, ends their
    /// subscriptions.
    async fn delete_members(
        &self,
        id: Uuid,
        members: &[String],
        actor: &str,
        at: Timestamp,
    ) -> Result<bool, DomainError> {
        let farewell = EventDraft::new(
            SessionEvent::SessionDeleted { session_id: id },
            actor.to_owned(),
            at,
        );
        if !self.store().delete(id, farewell).await? {
            return Ok(false);
        }
        let notice = json!({ "type": "session.removed", "session_id": id, "reason": "deleted" });
        for user in members {
            self.notify(user, notice.clone()).await;
        }
        let channel = channels::session(id);
        for user in members {
            if let Err(err) = self.broker().unsubscribe_user(&channel, user).await {
                tracing::warn!(error = %err, "could not end subscriptions of a deleted session");
            }
        }
        self.inner.last_touch.forget(id);
        Ok(true)
    }

    /// The audit trail from `from` (inclusive).
    pub async fn events(
        &self,
        actor: &str,
        id: Uuid,
        from: u64,
        limit: usize,
    ) -> Result<Vec<Event>, DomainError> {
        self.load_visible(actor, id).await?;
        Ok(self
            .store()
            .events(id, from.max(1), limit.clamp(1, 1000))
            .await?)
    }

    /// Records activity cheaply: at most once per `activity_interval` per
    /// session and node; revives an abandoned session.
    pub async fn activity(&self, actor: &str, id: Uuid) -> Result<Session, DomainError> {
        let (record, _) = self.load_visible(actor, id).await?;
        if record.session.status == SessionStatus::Abandoned {
            // Any collaborator's activity brings an abandoned session back.
            let outcome = self
                .mutate(actor, id, Role::Viewer, |_, change| {
                    change.activity()?;
                    Ok(change.record.session.clone())
                })
                .await?;
            return applied(outcome);
        }
        if record.session.status == SessionStatus::Archived {
            return Err(DomainError::Archived);
        }
        let now = Instant::now();
        let mut session = record.session;
        if self.inner.last_touch.due(id, now) {
            let at = Utc::now();
            self.store().touch(id, at).await?;
            self.inner.last_touch.record(id, now);
            session.last_activity_at = at;
        }
        Ok(session)
    }
}

/// The value of an applied outcome (replays only happen where callers pass a key).
pub(super) fn applied<T>(outcome: Outcome<T>) -> Result<T, DomainError> {
    match outcome {
        Outcome::Applied { value, .. } => Ok(value),
        Outcome::Replayed(_) => Err(DomainError::Contention),
    }
}

fn user_ids(collaborators: &[Collaborator]) -> Vec<String> {
    collaborators.iter().map(|c| c.user_id.clone()).collect()
}

fn encode_cursor(at: Timestamp, id: Uuid) -> String {
    format!("{}_{}", at.timestamp_micros(), id.simple())
}

fn decode_cursor(cursor: &str) -> Result<(Timestamp, Uuid), DomainError> {
    let bad = || DomainError::Invalid("cursor is not one this server gave".into());
    let (micros, id) = cursor.split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = chrono::DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    let id = Uuid::try_parse(id).map_err(|_| bad())?;
    Ok((at, id))
}
