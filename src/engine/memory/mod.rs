//! The embedded engine: one process, no services, no durability (SPEC §6).
//!
//! Streams and presence live in this process's memory; a restart gives every
//! stream a new epoch, so clients are told to reload instead of recovering
//! from a position that no longer exists.

mod presence;
mod sessions;
mod stream;

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Broker, ClientInfo, EngineConfig, EngineError, EngineEvents, HistoryFilter, HistoryPage,
    Payload, PresenceMap, Publication, PublishRequest, StreamPosition,
};
use crate::sessions::model::{ChatMessage, Event, Mission, Session, SessionStatus};
use crate::sessions::store::{
    Commit, CommitOutcome, EventDraft, MessageRange, SessionRecord, SessionStore, Snapshot,
};
use presence::PresenceTable;
use sessions::{lock, select_messages, SessionTable};
pub(crate) use stream::new_epoch;
use stream::Streams;

/// The memory engine. Cheap to clone (shares its state).
#[derive(Clone)]
pub struct MemoryEngine {
    inner: Arc<Inner>,
}

struct Inner {
    streams: Streams,
    presence: PresenceTable,
    sessions: SessionTable,
    events: Arc<dyn EngineEvents>,
    config: EngineConfig,
}

impl MemoryEngine {
    /// Creates an engine that reports to `events`.
    pub fn new(config: EngineConfig, events: Arc<dyn EngineEvents>) -> Self {
        Self {
            inner: Arc::new(Inner {
                streams: Streams::new(config.history_size, config.history_ttl),
                presence: PresenceTable::new(config.presence_ttl),
                sessions: SessionTable::default(),
                events,
                config,
            }),
        }
    }

    /// Drops expired history and presence entries every few seconds until `stop`.
    pub async fn run_cleanup(self, stop: CancellationToken) {
        let period =
            (self.inner.config.presence_ttl / 2).max(std::time::Duration::from_millis(100));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    self.inner.streams.purge_expired();
                    self.inner.presence.purge_expired();
                }
            }
        }
    }
}

impl Inner {
    /// Appends one event to the session's stream and delivers it.
    fn append_event(
        &self,
        channel: &str,
        draft: EventDraft,
    ) -> Result<(Event, StreamPosition), EngineError> {
        let mut stored = None;
        let position = self.streams.append_with(
            channel,
            true,
            |offset| {
                let event = draft.at_offset(offset);
                let data =
                    Payload::from_json(&event).map_err(|e| EngineError::Internal(e.to_string()))?;
                stored = Some(event);
                Ok(Publication::of(data))
            },
            |publication| self.events.publication(channel, publication),
        )?;
        let event = stored.ok_or_else(|| EngineError::Internal("event not built".into()))?;
        Ok((event, position))
    }
}

#[async_trait]
impl SessionStore for MemoryEngine {
    async fn load(&self, id: Uuid) -> Result<Option<SessionRecord>, EngineError> {
        Ok(self
            .inner
            .sessions
            .get(id)
            .map(|e| lock(&e).record.clone())
            .filter(|r| r.version > 0))
    }

    async fn snapshot(&self, id: Uuid, messages: usize) -> Result<Option<Snapshot>, EngineError> {
        let Some(entry) = self.inner.sessions.get(id) else {
            return Ok(None);
        };
        let e = lock(&entry);
        if e.record.version == 0 {
            return Ok(None);
        }
        let range = MessageRange {
            limit: messages,
            ..Default::default()
        };
        Ok(Some(Snapshot {
            record: e.record.clone(),
            messages: select_messages(&e.messages, range),
            position: self.inner.streams.position(&crate::channels::session(id)),
        }))
    }

    async fn commit(&self, commit: Commit) -> Result<CommitOutcome, EngineError> {
        let Commit {
            mut record,
            messages,
            events,
            idempotency,
            expect_activity_at_most,
            // The in-process index knows who was in the session.
            members_before: _,
        } = commit;
        let id = record.session.id;
        let read_version = record.version;
        let entry = if read_version == 0 {
            self.inner.sessions.get_or_create(&record)
        } else {
            match self.inner.sessions.get(id) {
                Some(entry) => entry,
                None => return Ok(CommitOutcome::Conflict),
            }
        };
        let mut e = lock(&entry);
        if let Some((key, _)) = &idempotency {
            if let Some(first) = e.idempotency.get(key) {
                return Ok(CommitOutcome::Duplicate(first.clone()));
            }
        }
        if e.record.version != read_version {
            return Ok(CommitOutcome::Conflict);
        }
        if expect_activity_at_most.is_some_and(|at| e.record.session.last_activity_at > at) {
            return Ok(CommitOutcome::Conflict);
        }
        let channel = crate::channels::session(id);
        let mut stored = Vec::with_capacity(events.len());
        let mut position = None;
        for draft in events {
            match self.inner.append_event(&channel, draft) {
                Ok((event, pos)) => {
                    stored.push(event);
                    position = Some(pos);
                }
                Err(err) => {
                    drop(e);
                    self.inner.sessions.forget_if_empty(id);
                    return Err(err);
                }
            }
        }
        let position = position.unwrap_or_else(|| self.inner.streams.position(&channel));
        let first_offset = stored
            .first()
            .map(|ev| ev.offset)
            .unwrap_or(position.offset);
        for mut message in messages {
            if message.offset == 0 {
                message.offset = first_offset;
            }
            e.messages.push(message);
        }
        record.session.last_activity_at = record
            .session
            .last_activity_at
            .max(e.record.session.last_activity_at);
        record.version = read_version + 1;
        let old = std::mem::replace(&mut e.record, record);
        e.events.extend(stored.iter().cloned());
        if let Some((key, mut response)) = idempotency {
            if let Some(object) = response.as_object_mut() {
                object.insert("offset".into(), first_offset.into());
            }
            e.idempotency.insert(key, response);
        }
        self.inner.sessions.reindex(Some(&old), &e.record);
        self.inner.sessions.index_idle(&e.record);
        Ok(CommitOutcome::Committed {
            events: stored,
            position,
        })
    }

    async fn messages(
        &self,
        id: Uuid,
        range: MessageRange,
    ) -> Result<Vec<ChatMessage>, EngineError> {
        Ok(self
            .inner
            .sessions
            .get(id)
            .map(|e| select_messages(&lock(&e).messages, range))
            .unwrap_or_default())
    }

    async fn events(&self, id: Uuid, from: u64, limit: usize) -> Result<Vec<Event>, EngineError> {
        Ok(self
            .inner
            .sessions
            .get(id)
            .map(|e| {
                lock(&e)
                    .events
                    .iter()
                    .filter(|ev| ev.offset >= from)
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn sessions_of(&self, user: &str) -> Result<Vec<Session>, EngineError> {
        Ok(self.inner.sessions.sessions_of(user))
    }

    async fn listed_sessions(&self, user: &str) -> Result<usize, EngineError> {
        Ok(self.inner.sessions.listed(user))
    }

    async fn touch(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, EngineError> {
        let Some(entry) = self.inner.sessions.get(id) else {
            return Ok(false);
        };
        let mut e = lock(&entry);
        if e.record.version == 0 {
            return Ok(false);
        }
        if at > e.record.session.last_activity_at {
            e.record.session.last_activity_at = at;
            self.inner.sessions.index_idle(&e.record);
        }
        Ok(true)
    }

    async fn delete(&self, id: Uuid, farewell: EventDraft) -> Result<bool, EngineError> {
        let Some(entry) = self.inner.sessions.get(id) else {
            return Ok(false);
        };
        {
            let e = lock(&entry);
            if e.record.version == 0 {
                return Ok(false);
            }
            let channel = crate::channels::session(id);
            self.inner.append_event(&channel, farewell)?;
            self.inner.streams.remove(&channel);
        }
        Ok(self.inner.sessions.remove(id).is_some())
    }

    async fn members(&self, id: Uuid) -> Result<Option<(String, Vec<String>)>, EngineError> {
        Ok(self.inner.sessions.get(id).and_then(|entry| {
            let e = lock(&entry);
            (e.record.version > 0).then(|| {
                let session = &e.record.session;
                let users = session.collaborators.iter().map(|c| c.user_id.clone());
                (session.owner.clone(), users.collect())
            })
        }))
    }

    async fn put_mission(&self, mission: Mission) -> Result<(), EngineError> {
        self.inner.sessions.put_mission(mission);
        Ok(())
    }

    async fn mission(&self, id: Uuid) -> Result<Option<(Mission, Option<Uuid>)>, EngineError> {
        Ok(self.inner.sessions.mission(id))
    }

    async fn remove_unlinked_mission(&self, id: Uuid) -> Result<(), EngineError> {
        self.inner.sessions.remove_unlinked_mission(id);
        Ok(())
    }

    async fn due_sessions(
        &self,
        status: SessionStatus,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Uuid>, EngineError> {
        Ok(self.inner.sessions.due(status, before, limit))
    }
}

#[async_trait]
impl Broker for MemoryEngine {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn publish(
        &self,
        channel: &str,
        request: PublishRequest,
    ) -> Result<StreamPosition, EngineError> {
        let events = &self.inner.events;
        Ok(self.inner.streams.append(channel, request, |publication| {
            events.publication(channel, publication)
        }))
    }

    async fn publish_join(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError> {
        self.inner.events.join(channel, info);
        Ok(())
    }

    async fn publish_leave(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError> {
        self.inner.events.leave(channel, info);
        Ok(())
    }

    async fn unsubscribe_user(&self, channel: &str, user: &str) -> Result<(), EngineError> {
        self.inner.events.unsubscribe_user(channel, user);
        Ok(())
    }

    async fn disconnect_user(&self, user: &str, reconnect: bool) -> Result<(), EngineError> {
        self.inner.events.disconnect_user(user, reconnect);
        Ok(())
    }

    async fn subscribe(&self, _channel: &str) -> Result<(), EngineError> {
        // One process: every publication already reaches the local hub.
        Ok(())
    }

    async fn unsubscribe(&self, _channel: &str) -> Result<(), EngineError> {
        Ok(())
    }

    async fn history(
        &self,
        channel: &str,
        filter: HistoryFilter,
    ) -> Result<HistoryPage, EngineError> {
        self.inner.streams.read(channel, &filter)
    }

    async fn add_presence(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError> {
        self.inner.presence.add(channel, info);
        Ok(())
    }

    async fn remove_presence(&self, channel: &str, client_id: &str) -> Result<(), EngineError> {
        self.inner.presence.remove(channel, client_id);
        Ok(())
    }

    async fn presence(&self, channel: &str) -> Result<PresenceMap, EngineError> {
        Ok(self.inner.presence.list(channel))
    }

    async fn health(&self) -> Result<(), EngineError> {
        Ok(())
    }
}
