//! The node's operations besides subscribing: registering connections,
//! publishing, history and presence reads, disconnects, stats.

use std::collections::HashSet;

use super::error::NodeError;
use super::policy::Action;
use super::Node;
use crate::engine::{
    ClientInfo, EngineError, HistoryFilter, HistoryPage, PresenceMap, Publication, PublishRequest,
    StreamPosition,
};
use crate::hub::{ClientHandle, Outbox};
use crate::protocol::{Codec, Disconnect};

/// How many are present in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceStats {
    /// Connections.
    pub clients: usize,
    /// Distinct users.
    pub users: usize,
}

/// One channel, seen from this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStats {
    /// Connections subscribed on this node.
    pub local_subscribers: usize,
    /// Presence across every node (zero on channels without presence).
    pub presence: PresenceStats,
    /// The stream's position (on channels with history).
    pub position: Option<StreamPosition>,
}

/// This node's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStats {
    /// Connected clients.
    pub clients: usize,
    /// Distinct users connected.
    pub users: usize,
    /// Channels with local subscribers.
    pub channels: usize,
    /// Subscriptions (a connection in a channel) on this node.
    pub subscriptions: usize,
}

impl Node {
    /// Registers an authenticated connection speaking `codec`, writing to
    /// `outbox`; refused when its user holds the most connections allowed.
    pub fn register(
        &self,
        info: ClientInfo,
        outbox: Outbox,
        codec: Codec,
    ) -> Result<ClientHandle, NodeError> {
        let client = ClientHandle::new(info, outbox, codec);
        self.hub().add_client(client.clone())?;
        Ok(client)
    }

    /// Forgets a connection (its subscriptions are ended separately).
    pub fn unregister(&self, client: &ClientHandle) {
        self.hub().remove_client(client.id());
    }

    /// Publishes into `channel` on behalf of `user` (when the policy lets
    /// clients publish there); returns the stream position.
    pub async fn publish(
        &self,
        user: &str,
        channel: &str,
        publication: Publication,
    ) -> Result<StreamPosition, NodeError> {
        let options = self
            .policy()
            .authorize(user, channel, Action::Publish)
            .await?;
        let request = PublishRequest {
            publication,
            history: options.history,
        };
        Ok(self.broker().publish(channel, request).await?)
    }

    /// Reads `channel`'s history for `user` (at most the history cap).
    pub async fn history(
        &self,
        user: &str,
        channel: &str,
        mut filter: HistoryFilter,
    ) -> Result<HistoryPage, NodeError> {
        let options = self
            .policy()
            .authorize(user, channel, Action::History)
            .await?;
        if !options.history {
            return Err(NodeError::NotAvailable);
        }
        filter.limit = filter.limit.min(self.limits().history_cap);
        Ok(self.broker().history(channel, filter).await?)
    }

    /// Who is present in `channel`, for `user`.
    pub async fn presence(&self, user: &str, channel: &str) -> Result<PresenceMap, NodeError> {
        let options = self
            .policy()
            .authorize(user, channel, Action::Presence)
            .await?;
        if !options.presence {
            return Err(NodeError::NotAvailable);
        }
        Ok(self.broker().presence(channel).await?)
    }

    /// Who is present in `channel`, whoever asks (no policy: for
    /// application backends through the server API).
    pub async fn presence_for_server(&self, channel: &str) -> Result<PresenceMap, NodeError> {
        if !self.policy().options_of(channel)?.presence {
            return Err(NodeError::NotAvailable);
        }
        Ok(self.broker().presence(channel).await?)
    }

    /// How many are present in `channel`, for `user`.
    pub async fn presence_stats(
        &self,
        user: &str,
        channel: &str,
    ) -> Result<PresenceStats, NodeError> {
        Ok(count(&self.presence(user, channel).await?))
    }

    /// Closes every connection of `user`, on every node: with a reconnect
    /// code (3011) when they may come back at once, terminally (3503) otherwise.
    pub async fn disconnect_user(&self, user: &str, reconnect: bool) -> Result<(), NodeError> {
        Ok(self.broker().disconnect_user(user, reconnect).await?)
    }

    /// Closes one connection of this node; whether it was here.
    pub fn disconnect_client(&self, client_id: &str, disconnect: Disconnect) -> bool {
        self.hub().disconnect_client(client_id, disconnect)
    }

    /// `channel` seen from this node (no policy: for operators and backends).
    pub async fn channel_stats(&self, channel: &str) -> Result<ChannelStats, NodeError> {
        let options = self.policy().options_of(channel)?;
        let presence = if options.presence {
            count(&self.broker().presence(channel).await?)
        } else {
            PresenceStats {
                clients: 0,
                users: 0,
            }
        };
        let position = if options.history {
            Some(
                self.broker()
                    .history(channel, HistoryFilter::default())
                    .await?
                    .position,
            )
        } else {
            None
        };
        Ok(ChannelStats {
            local_subscribers: self.hub().subscriber_count(channel),
            presence,
            position,
        })
    }

    /// How many connections `user` holds on this node.
    pub fn connections_of(&self, user: &str) -> usize {
        self.hub().clients_of(user).len()
    }

    /// This node's load.
    pub fn stats(&self) -> NodeStats {
        let hub = self.hub();
        NodeStats {
            clients: hub.client_count(),
            users: hub.user_count(),
            channels: hub.channel_count(),
            subscriptions: hub.subscription_count(),
        }
    }

    /// Whether the engine can serve (for `/readyz`).
    pub async fn health(&self) -> Result<(), EngineError> {
        self.broker().health().await
    }

    /// The engine's short name (`memory`, `redis`).
    pub fn engine_name(&self) -> &'static str {
        self.broker().name()
    }
}

fn count(presence: &PresenceMap) -> PresenceStats {
    let users: HashSet<&str> = presence.values().map(|info| info.user.as_str()).collect();
    PresenceStats {
        clients: presence.len(),
        users: users.len(),
    }
}
