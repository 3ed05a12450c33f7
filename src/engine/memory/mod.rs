//! The embedded engine: one process, no services, no durability (SPEC §6).
//!
//! Streams and presence live in this process's memory; a restart gives every
//! stream a new epoch, so clients are told to reload instead of recovering
//! from a position that no longer exists.

mod presence;
mod stream;

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{
    Engine, EngineConfig, EngineError, EngineEvents, HistoryFilter, HistoryPage, PresenceMap,
    PublishRequest, StreamPosition,
};
use crate::protocol::reply::ClientInfo;
use presence::PresenceTable;
use stream::Streams;

/// The memory engine. Cheap to clone (shares its state).
#[derive(Clone)]
pub struct MemoryEngine {
    inner: Arc<Inner>,
}

struct Inner {
    streams: Streams,
    presence: PresenceTable,
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

#[async_trait]
impl Engine for MemoryEngine {
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
