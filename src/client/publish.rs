//! `publish`: a client publishes into a channel it may publish to.

use super::{ClientState, Handled};
use crate::engine::PublishRequest as EnginePublish;
use crate::policy::Action;
use crate::protocol::command::PublishRequest;
use crate::protocol::reply::{Empty, Publication, ReplyBody};

impl ClientState {
    pub(super) async fn publish(&mut self, req: PublishRequest) -> Handled {
        let handle = self.connected()?.handle.clone();
        let options = self
            .node
            .policy()
            .authorize(handle.user(), &req.channel, Action::Publish)
            .await?;
        let publication = Publication {
            data: req.data,
            info: Some(handle.info().clone()),
            offset: 0,
            tags: None,
        };
        self.node
            .engine()
            .publish(
                &req.channel,
                EnginePublish {
                    publication,
                    history: options.history,
                },
            )
            .await?;
        Ok(Some(ReplyBody::Publish(Empty {})))
    }
}
