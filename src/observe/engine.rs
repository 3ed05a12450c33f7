//! The one place engine calls are measured: [`MeteredEngine`] wraps the
//! engine the node, the sessions service and the sweeper use, and records
//! each call's latency and result, errors by kind, and publications.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{namespace, Metrics};
use crate::engine::{
    Broker, ClientInfo, Engine, EngineError, HistoryFilter, HistoryPage, PresenceMap,
    PublishRequest, StreamPosition,
};
use crate::sessions::model::{ChatMessage, Event, Mission, Session, SessionStatus};
use crate::sessions::store::{
    Commit, CommitOutcome, EventDraft, MessageRange, SessionRecord, SessionStore, Snapshot,
};

/// An engine whose every call is counted and timed.
pub struct MeteredEngine {
    inner: Arc<dyn Engine>,
    metrics: Metrics,
}

impl MeteredEngine {
    /// Wraps `inner`; a disabled `metrics` makes this a plain pass-through.
    pub fn wrap(inner: Arc<dyn Engine>, metrics: Metrics) -> Arc<dyn Engine> {
        if !metrics.is_enabled() {
            return inner;
        }
        Arc::new(Self { inner, metrics })
    }

    async fn timed<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let started = Instant::now();
        let result = call.await;
        let error = result.as_ref().err().map(error_kind);
        self.metrics.engine_call(op, started.elapsed(), error);
        result
    }
}

/// The label of an error kind (bounded; no message).
pub fn error_kind(error: &EngineError) -> &'static str {
    match error {
        EngineError::Unavailable(_) => "unavailable",
        EngineError::UnrecoverablePosition => "unrecoverable_position",
        EngineError::Internal(_) => "internal",
        EngineError::Corrupt(_) => "corrupt",
    }
}

#[async_trait]
impl SessionStore for MeteredEngine {
    async fn load(&self, id: Uuid) -> Result<Option<SessionRecord>, EngineError> {
        self.timed("load", self.inner.load(id)).await
    }

    async fn snapshot(&self, id: Uuid, messages: usize) -> Result<Option<Snapshot>, EngineError> {
        self.timed("snapshot", self.inner.snapshot(id, messages))
            .await
    }

    async fn commit(&self, commit: Commit) -> Result<CommitOutcome, EngineError> {
        let outcome = self.timed("commit", self.inner.commit(commit)).await;
        if let Ok(CommitOutcome::Committed { events, .. }) = &outcome {
            self.metrics
                .publications("session", u64::try_from(events.len()).unwrap_or(u64::MAX));
        }
        outcome
    }

    async fn messages(
        &self,
        id: Uuid,
        range: MessageRange,
    ) -> Result<Vec<ChatMessage>, EngineError> {
        self.timed("messages", self.inner.messages(id, range)).await
    }

    async fn events(&self, id: Uuid, from: u64, limit: usize) -> Result<Vec<Event>, EngineError> {
        self.timed("events", self.inner.events(id, from, limit))
            .await
    }

    async fn sessions_of(&self, user: &str) -> Result<Vec<Session>, EngineError> {
        self.timed("sessions_of", self.inner.sessions_of(user))
            .await
    }

    async fn listed_sessions(&self, user: &str) -> Result<usize, EngineError> {
        self.timed("listed_sessions", self.inner.listed_sessions(user))
            .await
    }

    async fn touch(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, EngineError> {
        self.timed("touch", self.inner.touch(id, at)).await
    }

    async fn delete(&self, id: Uuid, farewell: EventDraft) -> Result<bool, EngineError> {
        let deleted = self.timed("delete", self.inner.delete(id, farewell)).await;
        if let Ok(true) = deleted {
            self.metrics.publications("session", 1);
        }
        deleted
    }

    async fn members(&self, id: Uuid) -> Result<Option<(String, Vec<String>)>, EngineError> {
        self.timed("members", self.inner.members(id)).await
    }

    async fn put_mission(&self, mission: Mission) -> Result<(), EngineError> {
        self.timed("put_mission", self.inner.put_mission(mission))
            .await
    }

    async fn mission(&self, id: Uuid) -> Result<Option<(Mission, Option<Uuid>)>, EngineError> {
        self.timed("mission", self.inner.mission(id)).await
    }

    async fn remove_unlinked_mission(&self, id: Uuid) -> Result<(), EngineError> {
        self.timed(
            "remove_unlinked_mission",
            self.inner.remove_unlinked_mission(id),
        )
        .await
    }

    async fn due_sessions(
        &self,
        status: SessionStatus,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Uuid>, EngineError> {
        self.timed(
            "due_sessions",
            self.inner.due_sessions(status, before, limit),
        )
        .await
    }
}

#[async_trait]
impl Broker for MeteredEngine {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn publish(
        &self,
        channel: &str,
        request: PublishRequest,
    ) -> Result<StreamPosition, EngineError> {
        let position = self
            .timed("publish", self.inner.publish(channel, request))
            .await;
        if position.is_ok() {
            self.metrics.publications(namespace(channel), 1);
        }
        position
    }

    async fn publish_join(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError> {
        self.timed("publish_join", self.inner.publish_join(channel, info))
            .await
    }

    async fn publish_leave(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError> {
        self.timed("publish_leave", self.inner.publish_leave(channel, info))
            .await
    }

    async fn unsubscribe_user(&self, channel: &str, user: &str) -> Result<(), EngineError> {
        self.timed(
            "unsubscribe_user",
            self.inner.unsubscribe_user(channel, user),
        )
        .await
    }

    async fn disconnect_user(&self, user: &str, reconnect: bool) -> Result<(), EngineError> {
        self.timed(
            "disconnect_user",
            self.inner.disconnect_user(user, reconnect),
        )
        .await
    }

    async fn subscribe(&self, channel: &str) -> Result<(), EngineError> {
        self.timed("subscribe", self.inner.subscribe(channel)).await
    }

    async fn unsubscribe(&self, channel: &str) -> Result<(), EngineError> {
        self.timed("unsubscribe", self.inner.unsubscribe(channel))
            .await
    }

    async fn history(
        &self,
        channel: &str,
        filter: HistoryFilter,
    ) -> Result<HistoryPage, EngineError> {
        self.timed("history", self.inner.history(channel, filter))
            .await
    }

    async fn add_presence(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError> {
        self.timed("add_presence", self.inner.add_presence(channel, info))
            .await
    }

    async fn remove_presence(&self, channel: &str, client_id: &str) -> Result<(), EngineError> {
        self.timed(
            "remove_presence",
            self.inner.remove_presence(channel, client_id),
        )
        .await
    }

    async fn presence(&self, channel: &str) -> Result<PresenceMap, EngineError> {
        self.timed("presence", self.inner.presence(channel)).await
    }

    async fn health(&self) -> Result<(), EngineError> {
        self.timed("health", self.inner.health()).await
    }
}
