//! `publish`: a client publishes into a channel the policy lets it publish to.

use super::{ClientState, Handled};
use crate::engine::Publication;
use crate::protocol::command::PublishRequest;
use crate::protocol::reply::{Empty, ReplyBody};

impl ClientState {
    pub(super) async fn publish(&mut self, req: PublishRequest) -> Handled {
        let handle = self.connected()?.handle.clone();
        let publication = Publication {
            info: Some(handle.info().clone()),
            ..Publication::of(req.data.to_payload())
        };
        self.node
            .publish(handle.user(), &req.channel, publication)
            .await?;
        Ok(Some(ReplyBody::Publish(Empty {})))
    }
}
