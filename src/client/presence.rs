//! `presence` and `presence_stats`, and the periodic presence refresh.

use std::collections::BTreeMap;

use super::{ClientState, Failure, Handled};
use crate::protocol::reply::{ClientInfo, PresenceResult, PresenceStatsResult, ReplyBody};
use crate::protocol::ProtocolError;

impl ClientState {
    pub(super) async fn presence(&mut self, channel: &str) -> Handled {
        let user = self.connected()?.handle.user().to_owned();
        let presence = self
            .node
            .presence(&user, channel)
            .await?
            .iter()
            .map(|(id, info)| Ok((id.clone(), ClientInfo::try_from(info)?)))
            .collect::<Result<BTreeMap<_, _>, crate::protocol::convert::NotJson>>()
            .map_err(|err| {
                tracing::error!(error = %err, "a connection's info is not JSON");
                Failure::Reply(ProtocolError::internal())
            })?;
        Ok(Some(ReplyBody::Presence(PresenceResult { presence })))
    }

    pub(super) async fn presence_stats(&mut self, channel: &str) -> Handled {
        let user = self.connected()?.handle.user().to_owned();
        let stats = self.node.presence_stats(&user, channel).await?;
        Ok(Some(ReplyBody::PresenceStats(PresenceStatsResult {
            num_clients: u32::try_from(stats.clients).unwrap_or(u32::MAX),
            num_users: u32::try_from(stats.users).unwrap_or(u32::MAX),
        })))
    }

    /// Re-adds this connection's presence entries so they do not expire.
    pub(super) async fn refresh_presence(&mut self) {
        if let Some(connected) = &self.connected {
            self.node
                .refresh_presence(&connected.handle, self.subscriptions.values())
                .await;
        }
    }
}
