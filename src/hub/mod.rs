//! The hub: which connections exist and who is subscribed to what, and the
//! fan-out of publications, joins and leaves to local subscribers.
//!
//! The hub never awaits: it encodes each broadcast once into shared [`Bytes`]
//! and hands clones to each subscriber's bounded queue with `try_send`
//! (see [`client::Outbox`]). It implements [`EngineEvents`], so engines push
//! channel events into it without knowing it exists.

pub mod client;
pub mod subscriber;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;

use crate::engine::EngineEvents;
use crate::protocol::push::{Push, PushBody, PushEnvelope};
use crate::protocol::reply::{ClientInfo, Publication};
use crate::protocol::Codec;
pub use client::{ClientHandle, Control, Outbox};
pub use subscriber::Subscriber;

/// The node's registry of connections and subscriptions. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    codec: Codec,
    /// Publications a pending subscriber may buffer.
    buffer_limit: usize,
    clients: DashMap<String, ClientHandle>,
    /// channel → client id → subscriber.
    channels: DashMap<String, HashMap<String, Arc<Subscriber>>>,
}

/// Result of adding a subscriber.
pub struct Added {
    /// The new subscriber, pending until activated.
    pub subscriber: Arc<Subscriber>,
    /// Whether it is the channel's first subscriber on this node.
    pub first: bool,
}

impl Hub {
    /// An empty hub; pending subscribers may buffer `buffer_limit` publications.
    pub fn new(codec: Codec, buffer_limit: usize) -> Self {
        Self {
            inner: Arc::new(HubInner {
                codec,
                buffer_limit,
                clients: DashMap::new(),
                channels: DashMap::new(),
            }),
        }
    }

    /// Registers a connected client.
    pub fn add_client(&self, client: ClientHandle) {
        self.inner.clients.insert(client.id().to_owned(), client);
    }

    /// Forgets a client (its subscriptions are removed separately).
    pub fn remove_client(&self, client_id: &str) {
        self.inner.clients.remove(client_id);
    }

    /// Adds a pending subscriber, or `None` if the client is already subscribed.
    pub fn add_subscriber(
        &self,
        channel: &str,
        client: &ClientHandle,
        join_leave: bool,
    ) -> Option<Added> {
        let mut subs = self.inner.channels.entry(channel.to_owned()).or_default();
        if subs.contains_key(client.id()) {
            return None;
        }
        let first = subs.is_empty();
        let subscriber = Arc::new(Subscriber::new(
            client.clone(),
            join_leave,
            self.inner.buffer_limit,
        ));
        subs.insert(client.id().to_owned(), subscriber.clone());
        Some(Added { subscriber, first })
    }

    /// Removes a subscriber; returns whether it was the channel's last one here.
    pub fn remove_subscriber(&self, channel: &str, client_id: &str) -> bool {
        let last = match self.inner.channels.get_mut(channel) {
            Some(mut subs) => {
                subs.remove(client_id);
                subs.is_empty()
            }
            None => return false,
        };
        if last {
            self.inner
                .channels
                .remove_if(channel, |_, subs| subs.is_empty());
        }
        last
    }

    /// Whether any local client is subscribed to `channel`.
    pub fn has_subscribers(&self, channel: &str) -> bool {
        self.inner
            .channels
            .get(channel)
            .is_some_and(|subs| !subs.is_empty())
    }

    /// Number of connected clients on this node.
    pub fn client_count(&self) -> usize {
        self.inner.clients.len()
    }

    /// Number of channels with local subscribers.
    pub fn channel_count(&self) -> usize {
        self.inner.channels.len()
    }

    fn encode(&self, push: PushEnvelope<'_>) -> Option<Bytes> {
        match self.inner.codec.encode_push(&push) {
            Ok(bytes) => Some(bytes),
            Err(err) => {
                tracing::error!(error = %err, "could not encode push");
                None
            }
        }
    }

    /// Snapshot of a channel's subscribers, so no map lock is held while delivering.
    fn subscribers(&self, channel: &str) -> Vec<Arc<Subscriber>> {
        self.inner
            .channels
            .get(channel)
            .map(|subs| subs.values().cloned().collect())
            .unwrap_or_default()
    }

    fn broadcast_presence(&self, channel: &str, info: &ClientInfo, join: bool) {
        let subscribers = self.subscribers(channel);
        if !subscribers.iter().any(|s| s.wants_join_leave()) {
            return;
        }
        let body = if join {
            PushBody::Join { info }
        } else {
            PushBody::Leave { info }
        };
        let Some(push) = self.encode(PushEnvelope {
            push: Push {
                channel: Some(channel),
                body,
            },
        }) else {
            return;
        };
        for sub in subscribers.iter().filter(|s| s.wants_join_leave()) {
            sub.deliver_live(&push);
        }
    }
}

impl EngineEvents for Hub {
    fn publication(&self, channel: &str, publication: &Publication) {
        let subscribers = self.subscribers(channel);
        if subscribers.is_empty() {
            return;
        }
        let Some(push) = self.encode(PushEnvelope {
            push: Push {
                channel: Some(channel),
                body: PushBody::Pub(publication),
            },
        }) else {
            return;
        };
        for sub in &subscribers {
            sub.deliver(publication, &push);
        }
    }

    fn join(&self, channel: &str, info: &ClientInfo) {
        self.broadcast_presence(channel, info, true);
    }

    fn leave(&self, channel: &str, info: &ClientInfo) {
        self.broadcast_presence(channel, info, false);
    }

    fn unsubscribe_user(&self, channel: &str, user: &str) {
        for sub in self
            .subscribers(channel)
            .iter()
            .filter(|s| s.client().user() == user)
        {
            sub.client().outbox().control(Control::Unsubscribe {
                channel: channel.to_owned(),
                code: crate::protocol::codes::unsubscribe::SERVER,
                reason: "access revoked",
            });
        }
    }

    fn insufficient_state(&self, channel: &str) {
        for sub in self.subscribers(channel) {
            sub.mark_stale();
            sub.client().outbox().control(Control::Unsubscribe {
                channel: channel.to_owned(),
                code: crate::protocol::codes::unsubscribe::INSUFFICIENT_STATE,
                reason: "insufficient state",
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Json;

    fn publication(offset: u64) -> Publication {
        Publication {
            data: Json::from_value(&offset).unwrap(),
            info: None,
            offset,
            tags: None,
        }
    }

    #[test]
    fn insufficient_state_unsubscribes_with_2500_and_stops_deliveries() {
        let hub = Hub::new(Codec::Json, 16);
        let (outbox, mut rx, mut control) = Outbox::new(16);
        let info = ClientInfo {
            user: "alice".into(),
            client: "c1".into(),
            conn_info: None,
            chan_info: None,
        };
        let client = ClientHandle::new(info, outbox);
        hub.add_client(client.clone());
        let added = hub.add_subscriber("user:alice", &client, false).unwrap();
        added.subscriber.activate(|_| Ok((Vec::new(), 0)));
        hub.publication("user:alice", &publication(1));
        assert!(rx.try_recv().is_ok(), "live delivery before the gap");
        hub.insufficient_state("user:alice");
        assert_eq!(
            control.try_recv().unwrap(),
            Control::Unsubscribe {
                channel: "user:alice".into(),
                code: crate::protocol::codes::unsubscribe::INSUFFICIENT_STATE,
                reason: "insufficient state",
            }
        );
        // Nothing after the gap reaches the client before it recovers.
        hub.publication("user:alice", &publication(3));
        assert!(rx.try_recv().is_err());
    }
}
