//! Domain storage: sessions and everything in them (SPEC §2, §4.1–4.3).
//!
//! # Model
//! A session is stored as one [`SessionRecord`] (session, mission, assets) with
//! a version, plus two append-only lists: chat messages and events. Every
//! change goes through [`SessionStore::commit`], a compare-and-set on the
//! record's version that, in one atomic step, replaces the record, appends the
//! message (if any), appends the events to the full event log **and publishes
//! them to the `session:<id>` channel**, where each event's offset is assigned.
//! So the live feed, the recovery history and the audit trail are one stream,
//! and nothing is acknowledged before it is stored.
//!
//! Domain logic (roles, validation, the status machine, JSON Patch) runs in the
//! service layer on a loaded record; the store only checks the version. Two
//! writers racing on one session: one commits, the other gets
//! [`CommitOutcome::Conflict`] and the service retries on the fresh record.
//!
//! This contract belongs to the domain: engines implement it (the memory
//! engine in `engine/memory/sessions.rs`, Redis in `engine/redis/store.rs`)
//! and pass one contract suite (`tests/it/engine_contract.rs`). The broker
//! half of an engine (`crate::engine::Broker`) knows nothing of it.
//!
//! # What is one step, and what may follow it
//! **Part of the atomic step** of [`SessionStore::commit`] (and of
//! [`SessionStore::delete`]), on every engine, and relied on by the domain:
//! the version check, the record, the appended messages, the appended events,
//! their offsets and their publication on `session:<id>`, the idempotency
//! entry, and the session's own per-session keys. A reader never sees a
//! record without its events, an event that was not stored, or an
//! acknowledged write that was not published.
//!
//! **Indexes that may follow the step** (eventually consistent): the
//! per-user lists read by [`SessionStore::sessions_of`], the sweeper's idle
//! index read by [`SessionStore::due_sessions`], and the index of linked
//! missions. The memory engine and the Redis engine on one Redis update them
//! inside the same step (one script); on a Redis Cluster the Redis engine
//! writes them after the step, with a journal and a repair task that bound
//! the lag (docs/redis.md), so callers must not depend on it. Readers are written for that: `sessions_of` re-checks
//! each listed session's membership on its record (an index entry that lags
//! never shows a session to a removed collaborator), and the sweeper reloads
//! the record and re-checks its status and quiet time before it acts on a due
//! entry (a stale idle entry changes nothing). What an index that lags may
//! cost is a session missing from a list, or a sweep that comes late, until
//! the follow-up write or the repair lands.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::engine::{EngineError, StreamPosition};

use super::events::SessionEvent;
use super::model::{Asset, ChatMessage, Event, ImportedEvent, Mission, Session, SessionStatus};

/// A session's mutable state, versioned as a whole.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    /// The session's own fields.
    pub session: Session,
    /// The linked mission, stored with the session so edits are atomic with it.
    pub mission: Option<Mission>,
    /// Assets.
    pub assets: Vec<Asset>,
    /// Increments on every commit; 0 means "does not exist yet".
    pub version: u64,
}

/// An event before the store gives it an offset.
#[derive(Debug, Clone)]
pub struct EventDraft {
    /// Event type.
    pub kind: String,
    /// Who caused it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Payload.
    pub data: Value,
    /// Set on events copied from an imported document.
    pub imported: Option<ImportedEvent>,
}

impl EventDraft {
    /// A new event by `actor` at `at`, in its stored form.
    pub fn new(event: SessionEvent, actor: String, at: DateTime<Utc>) -> Self {
        let (kind, data) = event.into_parts();
        Self {
            kind,
            actor,
            at,
            data,
            imported: None,
        }
    }

    /// The event this draft becomes at `offset`.
    pub fn at_offset(self, offset: u64) -> Event {
        Event {
            offset,
            kind: self.kind,
            actor: self.actor,
            at: self.at,
            data: self.data,
            imported: self.imported,
        }
    }
}

impl From<Event> for EventDraft {
    fn from(event: Event) -> Self {
        Self {
            kind: event.kind,
            actor: event.actor,
            at: event.at,
            data: event.data,
            imported: event.imported,
        }
    }
}

/// One atomic change to a session.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The record as it must be stored; `record.version` is the version the
    /// writer read (0 to create). The store saves it with version + 1.
    pub record: SessionRecord,
    /// Chat messages to append. A message with offset 0 gets the first
    /// event's offset (so writers put a new message's event first); others
    /// (imports, forks) keep theirs.
    pub messages: Vec<ChatMessage>,
    /// Events to append and publish, in order (at least one).
    pub events: Vec<EventDraft>,
    /// Idempotency: a key and the response to replay for later retries. When
    /// the response is a JSON object, the store sets its `offset` to the first
    /// event's offset before saving it.
    pub idempotency: Option<(String, Value)>,
    /// A guard for changes decided on the session's idleness (the sweeper):
    /// when set, the commit is refused ([`CommitOutcome::Conflict`]) if the
    /// stored last activity is later than this. Activity pings
    /// ([`SessionStore::touch`]) do not bump the version, so the version check
    /// alone would not see them.
    pub expect_activity_at_most: Option<DateTime<Utc>>,
    /// The collaborators' user ids at the version the writer read
    /// (`record.version`), when the writer knows them: the store then need
    /// not read them back to find the users the change removed. `None`: the
    /// store reads them. The version check makes either exact.
    pub members_before: Option<Vec<String>>,
}

/// What a commit did.
#[derive(Debug, Clone)]
pub enum CommitOutcome {
    /// Stored and published.
    Committed {
        /// The events with their offsets.
        events: Vec<Event>,
        /// The stream position after the commit.
        position: StreamPosition,
    },
    /// The record changed since it was read; reload and retry.
    Conflict,
    /// The idempotency key was seen before: here is the first response.
    Duplicate(Value),
}

/// A consistent view of a session: record, recent messages and the stream
/// position they reflect (load-then-subscribe leaves no gap).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The record.
    pub record: SessionRecord,
    /// The newest messages, oldest first.
    pub messages: Vec<ChatMessage>,
    /// The stream position the snapshot reflects.
    pub position: StreamPosition,
}

/// Which messages to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageRange {
    /// Only messages with an offset below this.
    pub before: Option<u64>,
    /// Only messages with an offset above this.
    pub after: Option<u64>,
    /// At most this many (the newest ones with `before` or no bound, the oldest with `after`).
    pub limit: usize,
}

/// Where sessions, messages, missions and events are kept.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The session's record, if it exists.
    async fn load(&self, id: Uuid) -> Result<Option<SessionRecord>, EngineError>;

    /// Record, the last `messages` messages and the stream position, read atomically.
    async fn snapshot(&self, id: Uuid, messages: usize) -> Result<Option<Snapshot>, EngineError>;

    /// Applies a commit atomically (see the module docs).
    async fn commit(&self, commit: Commit) -> Result<CommitOutcome, EngineError>;

    /// Chat messages in offset order.
    async fn messages(
        &self,
        id: Uuid,
        range: MessageRange,
    ) -> Result<Vec<ChatMessage>, EngineError>;

    /// The full event log from `from` (inclusive), at most `limit` events.
    async fn events(&self, id: Uuid, from: u64, limit: usize) -> Result<Vec<Event>, EngineError>;

    /// Every session `user` collaborates on.
    async fn sessions_of(&self, user: &str) -> Result<Vec<Session>, EngineError>;

    /// How many entries `user`'s session list holds, without reading the
    /// sessions: cheap, and never fewer than the sessions `sessions_of`
    /// returns once the list has caught up (it may still hold entries that
    /// `sessions_of` filters out). Quotas use it as an upper bound.
    async fn listed_sessions(&self, user: &str) -> Result<usize, EngineError>;

    /// Records activity without a commit (cheap; no event). Returns false when
    /// the session does not exist.
    async fn touch(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, EngineError>;

    /// Deletes a session and everything in it, after publishing `farewell` on
    /// its channel. Returns false when it did not exist. Works on a record
    /// that cannot be decoded ([`EngineError::Corrupt`]) too.
    async fn delete(&self, id: Uuid, farewell: EventDraft) -> Result<bool, EngineError>;

    /// The owner and the collaborators' user ids of a stored session, read
    /// without decoding its record (so the owner of an undecodable one can
    /// still delete it). `None` when it does not exist or the owner is unknown.
    async fn members(&self, id: Uuid) -> Result<Option<(String, Vec<String>)>, EngineError>;

    /// Saves a mission that is not linked to a session.
    async fn put_mission(&self, mission: Mission) -> Result<(), EngineError>;

    /// A mission by id: `(mission, session it is linked to)`.
    async fn mission(&self, id: Uuid) -> Result<Option<(Mission, Option<Uuid>)>, EngineError>;

    /// Removes an unlinked mission (when it gets linked to a session).
    async fn remove_unlinked_mission(&self, id: Uuid) -> Result<(), EngineError>;

    /// Up to `limit` sessions with `status` that have been quiet since `before`
    /// or earlier, oldest first (the sweeper's index).
    ///
    /// "Quiet since" is [`quiet_since`]: the later of the last activity and
    /// the last change of the session's own fields (so an abandoned session is
    /// quiet since it was abandoned). The index is kept by `commit`, `touch`
    /// and `delete` (in their atomic step, or right after it on a Redis
    /// Cluster: see the module docs), so reading it costs what is due, not
    /// what exists.
    async fn due_sessions(
        &self,
        status: SessionStatus,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Uuid>, EngineError>;
}

/// The time a session has been quiet since: its last activity or the last
/// change of its own fields (a status change included), whichever is later.
pub fn quiet_since(session: &Session) -> DateTime<Utc> {
    session.last_activity_at.max(session.updated_at)
}
