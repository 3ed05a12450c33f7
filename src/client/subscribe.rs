//! `subscribe` (with recovery) and `unsubscribe`, and the hub's orders to
//! end a subscription. The work is the node's ([`Node::subscribe`]); this
//! file speaks the protocol: the request, the reply, the unsubscribe push.
//!
//! [`Node::subscribe`]: crate::node::Node::subscribe

use super::{ClientState, Handled};
use crate::hub::{Control, Unsubscribed};
use crate::node::{SubscribeRequest as NodeRequest, Subscribed};
use crate::protocol::codes::unsubscribe;
use crate::protocol::command::{flag, SubscribeRequest};
use crate::protocol::push::{Push, PushBody, PushEnvelope};
use crate::protocol::reply::{Empty, Publication, Reply, ReplyBody, SubscribeResult};
use crate::protocol::ProtocolError;

/// The protocol's subscribe result for what the node decided.
fn result(subscribed: &Subscribed<'_>) -> Option<SubscribeResult> {
    let publications = subscribed
        .publications
        .iter()
        .map(Publication::try_from)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some(SubscribeResult {
        recoverable: subscribed.positioned,
        positioned: subscribed.positioned,
        epoch: subscribed.epoch.to_owned(),
        offset: subscribed.offset,
        was_recovering: subscribed.was_recovering,
        recovered: subscribed.recovered,
        publications,
        ..Default::default()
    })
}

/// Refuses every subscribe option Tandem does not implement, so none is
/// silently ignored (docs/protocol.md, "Subscribe options"). The same on both
/// variants: they decode to the same request.
fn refuse_unsupported(req: &SubscribeRequest) -> Result<(), ProtocolError> {
    let refuse = |what: &str| Err(ProtocolError::bad_request(format!("{what} not supported")));
    if req.kind != 0 {
        // Map and shared-poll subscriptions: like Centrifugo without them configured.
        return Err(ProtocolError::not_available());
    }
    if req.phase != 0 || !req.cursor.is_empty() || req.limit != 0 || req.asc {
        return refuse("map subscription fields are");
    }
    if !req.delta.is_empty() {
        return refuse("delta compression is");
    }
    if req.tags_filter {
        return refuse("tags filter is");
    }
    if req.flag & !flag::KNOWN != 0 {
        return refuse("unknown subscribe flag bits are");
    }
    if !req.token.is_empty() {
        return refuse("subscription token is");
    }
    if req.data.is_some() {
        return refuse("subscribe data is");
    }
    Ok(())
}

impl ClientState {
    pub(super) async fn subscribe(&mut self, id: u32, req: SubscribeRequest) -> Handled {
        let handle = self.connected()?.handle.clone();
        refuse_unsupported(&req)?;
        let channel = req.channel.clone();
        if self.subscriptions.contains_key(&channel) {
            return Err(ProtocolError::already_subscribed().into());
        }
        if self.subscriptions.len() >= self.node.limits().max_channels {
            return Err(ProtocolError::limit_exceeded().into());
        }
        let request = NodeRequest {
            recover: req.recover,
            offset: req.offset,
            epoch: req.epoch,
            join_leave: req.join_leave,
            reject_unrecovered: req.flag & flag::REJECT_UNRECOVERED != 0,
        };
        let codec = self.codec;
        let subscription = self
            .node
            .subscribe(&handle, &channel, &request, |subscribed| {
                let reply = Reply {
                    id,
                    body: ReplyBody::Subscribe(result(subscribed)?),
                };
                codec.encode_reply(&reply).ok()
            })
            .await?;
        self.subscriptions.insert(channel, subscription);
        // The reply went out with the activation.
        Ok(None)
    }

    pub(super) async fn unsubscribe(&mut self, channel: &str) -> Handled {
        self.connected()?;
        self.leave(channel).await;
        Ok(Some(ReplyBody::Unsubscribe(Empty {})))
    }

    /// Carries out a hub order.
    pub async fn on_control(&mut self, order: Control) {
        match order {
            Control::Unsubscribe { channel, reason } => {
                if !self.subscriptions.contains_key(&channel) {
                    return;
                }
                let (code, reason) = match reason {
                    Unsubscribed::Revoked => (unsubscribe::SERVER, "access revoked"),
                    Unsubscribed::InsufficientState => {
                        (unsubscribe::INSUFFICIENT_STATE, "insufficient state")
                    }
                };
                let push = PushEnvelope {
                    push: Push {
                        channel: Some(&channel),
                        body: PushBody::Unsubscribe { code, reason },
                    },
                };
                match self.codec.encode_push(&push) {
                    Ok(bytes) => {
                        self.outbox.enqueue(bytes);
                    }
                    Err(err) => tracing::error!(error = %err, "could not encode unsubscribe push"),
                }
                self.leave(&channel).await;
            }
        }
    }

    /// Ends a subscription (the node undoes hub, presence and engine feed).
    pub(super) async fn leave(&mut self, channel: &str) {
        let Some(subscription) = self.subscriptions.remove(channel) else {
            return;
        };
        if let Some(connected) = &self.connected {
            self.node.unsubscribe(&connected.handle, subscription).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(req: SubscribeRequest) -> Option<u32> {
        refuse_unsupported(&req).err().map(|e| e.code)
    }

    #[test]
    fn known_options_pass_and_the_rest_are_refused() {
        let base = || SubscribeRequest {
            channel: "session:a".into(),
            ..Default::default()
        };
        assert_eq!(code(base()), None);
        assert_eq!(
            code(SubscribeRequest {
                flag: flag::KNOWN,
                recover: true,
                ..base()
            }),
            None
        );
        assert_eq!(code(SubscribeRequest { flag: 4, ..base() }), Some(107));
        assert_eq!(
            code(SubscribeRequest {
                delta: "fossil".into(),
                ..base()
            }),
            Some(107)
        );
        assert_eq!(
            code(SubscribeRequest {
                tags_filter: true,
                ..base()
            }),
            Some(107)
        );
        assert_eq!(code(SubscribeRequest { kind: 1, ..base() }), Some(108));
        assert_eq!(
            code(SubscribeRequest {
                cursor: "c".into(),
                ..base()
            }),
            Some(107)
        );
        assert_eq!(
            code(SubscribeRequest {
                token: "t".into(),
                ..base()
            }),
            Some(107)
        );
        let data = Some(crate::protocol::Json::from_text("{}").unwrap());
        assert_eq!(code(SubscribeRequest { data, ..base() }), Some(107));
    }
}
