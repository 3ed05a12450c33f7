//! The hub: which connections exist and who is subscribed to what, and the
//! fan-out of publications, joins and leaves to local subscribers.
//!
//! The hub never awaits: it encodes each broadcast once into shared [`Bytes`]
//! and hands clones to each subscriber's bounded queue with `try_send`
//! (see [`client::Outbox`]). It implements [`EngineEvents`], so engines push
//! channel events into it without knowing it exists.

pub mod broadcast;
pub mod client;
pub mod subscriber;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dashmap::DashMap;

use crate::engine::{ClientInfo, EngineEvents, Publication};
use broadcast::{Broadcast, Item};
pub use client::{ClientHandle, Control, ControlQueue, Outbox, OutboxReceiver, Unsubscribed};
pub use subscriber::{Delivery, Subscriber};

/// The node's registry of connections and subscriptions. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    /// Publications a pending subscriber may buffer.
    buffer_limit: usize,
    clients: DashMap<String, ClientHandle>,
    /// user id → ids of that user's connections on this node.
    users: DashMap<String, HashSet<String>>,
    /// Most connections per user on this node (0 = no limit).
    max_per_user: usize,
    /// channel → client id → subscriber.
    channels: DashMap<String, HashMap<String, Arc<Subscriber>>>,
}

/// A user already holds the most connections allowed on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a user may hold {limit} connections on one node (TANDEM_MAX_CONNECTIONS_PER_USER)")]
pub struct TooManyConnections {
    /// The limit.
    pub limit: usize,
}

impl Hub {
    /// An empty hub; pending subscribers may buffer `buffer_limit`
    /// publications; a user may hold `max_per_user` connections (0 = any).
    pub fn new(buffer_limit: usize, max_per_user: usize) -> Self {
        Self {
            inner: Arc::new(HubInner {
                buffer_limit,
                clients: DashMap::new(),
                users: DashMap::new(),
                max_per_user,
                channels: DashMap::new(),
            }),
        }
    }

    /// Registers a connected client, unless its user already holds as many
    /// connections on this node as allowed.
    pub fn add_client(&self, client: ClientHandle) -> Result<(), TooManyConnections> {
        {
            let mut ids = self
                .inner
                .users
                .entry(client.user().to_owned())
                .or_default();
            if self.inner.max_per_user > 0 && ids.len() >= self.inner.max_per_user {
                return Err(TooManyConnections {
                    limit: self.inner.max_per_user,
                });
            }
            ids.insert(client.id().to_owned());
        }
        self.inner.clients.insert(client.id().to_owned(), client);
        Ok(())
    }

    /// Forgets a client (its subscriptions are removed separately).
    pub fn remove_client(&self, client_id: &str) {
        let Some((_, client)) = self.inner.clients.remove(client_id) else {
            return;
        };
        if let Some(mut ids) = self.inner.users.get_mut(client.user()) {
            ids.remove(client_id);
        }
        self.inner
            .users
            .remove_if(client.user(), |_, ids| ids.is_empty());
    }

    /// The connections of `user` on this node.
    pub fn clients_of(&self, user: &str) -> Vec<ClientHandle> {
        let ids: Vec<String> = self
            .inner
            .users
            .get(user)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        ids.iter()
            .filter_map(|id| self.inner.clients.get(id).map(|c| c.clone()))
            .collect()
    }

    /// Adds a subscriber, pending until activated, or `None` if the client
    /// is already subscribed.
    pub fn add_subscriber(
        &self,
        channel: &str,
        client: &ClientHandle,
        join_leave: bool,
    ) -> Option<Arc<Subscriber>> {
        let mut subs = self.inner.channels.entry(channel.to_owned()).or_default();
        if subs.contains_key(client.id()) {
            return None;
        }
        let subscriber = Arc::new(Subscriber::new(
            client.clone(),
            join_leave,
            self.inner.buffer_limit,
        ));
        subs.insert(client.id().to_owned(), subscriber.clone());
        Some(subscriber)
    }

    /// Removes a subscriber (and the channel's entry after its last one).
    pub fn remove_subscriber(&self, channel: &str, client_id: &str) {
        let last = match self.inner.channels.get_mut(channel) {
            Some(mut subs) => {
                subs.remove(client_id);
                subs.is_empty()
            }
            None => return,
        };
        if last {
            self.inner
                .channels
                .remove_if(channel, |_, subs| subs.is_empty());
        }
    }

    /// Whether any local client is subscribed to `channel`.
    pub fn has_subscribers(&self, channel: &str) -> bool {
        self.inner
            .channels
            .get(channel)
            .is_some_and(|subs| !subs.is_empty())
    }

    /// Closes one connection; whether it was here.
    pub fn disconnect_client(
        &self,
        client_id: &str,
        disconnect: crate::protocol::Disconnect,
    ) -> bool {
        match self.inner.clients.get(client_id) {
            Some(client) => {
                client.outbox().close(disconnect);
                true
            }
            None => false,
        }
    }

    /// Number of distinct users connected on this node.
    pub fn user_count(&self) -> usize {
        self.inner.users.len()
    }

    /// Number of local subscribers of `channel`.
    pub fn subscriber_count(&self, channel: &str) -> usize {
        self.inner
            .channels
            .get(channel)
            .map_or(0, |subs| subs.len())
    }

    /// Number of connected clients on this node.
    pub fn client_count(&self) -> usize {
        self.inner.clients.len()
    }

    /// Number of channels with local subscribers.
    pub fn channel_count(&self) -> usize {
        self.inner.channels.len()
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
        let broadcast = Broadcast::new(channel, Item::Presence(info, join));
        for sub in subscribers.iter().filter(|s| s.wants_join_leave()) {
            sub.deliver_live(&broadcast);
        }
    }
}

impl EngineEvents for Hub {
    fn publication(&self, channel: &str, publication: &Publication) {
        let subscribers = self.subscribers(channel);
        if subscribers.is_empty() {
            return;
        }
        let broadcast = Broadcast::new(channel, Item::Publication(publication));
        for sub in &subscribers {
            if sub.deliver(&broadcast) == Delivery::Gap {
                tracing::warn!(
                    channel,
                    offset = publication.offset,
                    "a subscriber missed publications; it recovers"
                );
                sub.client().outbox().control(Control::Unsubscribe {
                    channel: channel.to_owned(),
                    reason: Unsubscribed::InsufficientState,
                });
            }
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
                reason: Unsubscribed::Revoked,
            });
        }
    }

    fn disconnect_user(&self, user: &str, reconnect: bool) {
        let disconnect = if reconnect {
            crate::protocol::Disconnect::FORCE_RECONNECT
        } else {
            crate::protocol::Disconnect::FORCE_DISCONNECT
        };
        for client in self.clients_of(user) {
            client.outbox().close(disconnect);
        }
    }

    fn insufficient_state(&self, channel: &str) {
        for sub in self.subscribers(channel) {
            sub.mark_stale();
            sub.client().outbox().control(Control::Unsubscribe {
                channel: channel.to_owned(),
                reason: Unsubscribed::InsufficientState,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Payload;
    use crate::protocol::Codec;

    fn publication(offset: u64) -> Publication {
        Publication {
            offset,
            ..Publication::of(Payload::from_json(&offset).unwrap())
        }
    }

    #[test]
    fn insufficient_state_unsubscribes_to_recover_and_stops_deliveries() {
        let hub = Hub::new(16, 0);
        let (outbox, mut rx, mut control) = Outbox::new(16, usize::MAX);
        let info = ClientInfo {
            user: "alice".into(),
            client: "c1".into(),
            conn_info: None,
            chan_info: None,
        };
        let client = ClientHandle::new(info, outbox, Codec::Json);
        hub.add_client(client.clone()).unwrap();
        let added = hub.add_subscriber("user:alice", &client, false).unwrap();
        added.activate(|_| Ok((Vec::new(), 0)));
        hub.publication("user:alice", &publication(1));
        assert!(rx.try_recv().is_ok(), "live delivery before the gap");
        hub.insufficient_state("user:alice");
        assert_eq!(
            control.try_recv().unwrap(),
            Control::Unsubscribe {
                channel: "user:alice".into(),
                reason: Unsubscribed::InsufficientState,
            }
        );
        // Nothing after the gap reaches the client before it recovers.
        hub.publication("user:alice", &publication(3));
        assert!(rx.try_recv().is_err());
    }
}

#[cfg(test)]
mod user_index_tests {
    use super::*;

    fn client(id: &str, user: &str) -> ClientHandle {
        let (outbox, _rx, _control) = Outbox::new(4, usize::MAX);
        let info = ClientInfo {
            user: user.into(),
            client: id.into(),
            conn_info: None,
            chan_info: None,
        };
        ClientHandle::new(info, outbox, crate::protocol::Codec::Json)
    }

    #[test]
    fn connections_are_indexed_and_limited_per_user() {
        let hub = Hub::new(4, 2);
        hub.add_client(client("c1", "alice")).unwrap();
        hub.add_client(client("c2", "alice")).unwrap();
        hub.add_client(client("c3", "bob")).unwrap();
        assert_eq!(
            hub.add_client(client("c4", "alice")),
            Err(TooManyConnections { limit: 2 })
        );
        let mut ids: Vec<String> = hub
            .clients_of("alice")
            .iter()
            .map(|c| c.id().to_owned())
            .collect();
        ids.sort();
        assert_eq!(ids, vec!["c1", "c2"]);
        hub.remove_client("c1");
        hub.add_client(client("c4", "alice")).unwrap();
        hub.remove_client("c2");
        hub.remove_client("c4");
        assert!(hub.clients_of("alice").is_empty());
        assert_eq!(hub.client_count(), 1);
    }
}
