//! `presence` and `presence_stats`, and the periodic presence refresh.

use std::collections::HashSet;

use super::{ClientState, Handled};
use crate::engine::PresenceMap;
use crate::policy::Action;
use crate::protocol::reply::{PresenceResult, PresenceStatsResult, ReplyBody};
use crate::protocol::ProtocolError;

impl ClientState {
    async fn presence_map(&self, channel: &str) -> Result<PresenceMap, super::Failure> {
        let user = self.connected()?.handle.user().to_owned();
        let options = self
            .node
            .policy()
            .authorize(&user, channel, Action::Presence)
            .await?;
        if !options.presence {
            return Err(ProtocolError::not_available().into());
        }
        Ok(self.node.engine().presence(channel).await?)
    }

    pub(super) async fn presence(&mut self, channel: &str) -> Handled {
        let presence = self.presence_map(channel).await?;
        Ok(Some(ReplyBody::Presence(PresenceResult { presence })))
    }

    pub(super) async fn presence_stats(&mut self, channel: &str) -> Handled {
        let presence = self.presence_map(channel).await?;
        let users: HashSet<&str> = presence.values().map(|info| info.user.as_str()).collect();
        Ok(Some(ReplyBody::PresenceStats(PresenceStatsResult {
            num_clients: u32::try_from(presence.len()).unwrap_or(u32::MAX),
            num_users: u32::try_from(users.len()).unwrap_or(u32::MAX),
        })))
    }

    /// Re-adds this connection's presence entries so they do not expire.
    pub(super) async fn refresh_presence(&mut self) {
        let Some(connected) = &self.connected else {
            return;
        };
        let info = connected.handle.info().clone();
        for (channel, sub) in &self.subscriptions {
            if sub.options.presence {
                if let Err(err) = self.node.engine().add_presence(channel, &info).await {
                    tracing::warn!(channel = %channel, error = %err, "presence refresh failed");
                }
            }
        }
    }
}
