//! `subscribe` (with recovery) and `unsubscribe`.
//!
//! Order of a subscribe, so that nothing is lost between history and live
//! delivery (SPEC §4.2): register a pending subscriber in the hub (live
//! publications are buffered from here on) → make sure the engine feeds this
//! node → add presence → read history or the stream top → merge buffered and
//! recovered publications, queue the reply and switch to live in one step →
//! announce the join.

use super::{ClientState, Failure, Handled, Subscription};
use crate::engine::{EngineError, HistoryFilter, HistoryPage, StreamPosition};
use crate::hub::subscriber::merge;
use crate::hub::Control;
use crate::policy::{Action, ChannelOptions};
use crate::protocol::command::SubscribeRequest;
use crate::protocol::push::{Push, PushBody, PushEnvelope};
use crate::protocol::reply::{Empty, Reply, ReplyBody, SubscribeResult};
use crate::protocol::{Disconnect, ProtocolError};

/// What history says about the client's position.
struct Recovery {
    /// Publications to deliver with the reply (only when recovered).
    publications: Vec<crate::protocol::reply::Publication>,
    /// The stream's top.
    top: StreamPosition,
    /// Whether the client's position could be served without a gap.
    recovered: bool,
}

impl ClientState {
    pub(super) async fn subscribe(&mut self, id: u32, req: SubscribeRequest) -> Handled {
        let handle = self.connected()?.handle.clone();
        let channel = req.channel.clone();
        if self.subscriptions.contains_key(&channel) {
            return Err(ProtocolError::already_subscribed().into());
        }
        if self.subscriptions.len() >= self.node.limits().max_channels {
            return Err(ProtocolError::limit_exceeded().into());
        }
        let options = self
            .node
            .policy()
            .authorize(handle.user(), &channel, Action::Subscribe)
            .await?;
        let join_leave = options.join_leave || req.join_leave;
        let Some(added) = self
            .node
            .hub()
            .add_subscriber(&channel, &handle, join_leave)
        else {
            return Err(ProtocolError::already_subscribed().into());
        };
        self.subscriptions.insert(
            channel.clone(),
            Subscription {
                options,
                engine: false,
            },
        );

        let limit = self.node.limits().subscribe_timeout;
        let prepared =
            match tokio::time::timeout(limit, self.prepare(&channel, &req, options)).await {
                Ok(prepared) => prepared,
                Err(_) => {
                    tracing::warn!(channel = %channel, ?limit, "subscribe timed out");
                    Err(Failure::Reply(ProtocolError::internal()))
                }
            };
        match prepared {
            Ok(recovery) => {
                let codec = self.codec;
                added.subscriber.activate(|buffered| {
                    let recovering = req.recover && recovery.as_ref().is_some_and(|r| r.recovered);
                    let (result, from) = subscribe_result(&req, options, recovery);
                    let merged = merge(from, result.1, buffered, recovering)?;
                    let last = merged.last_offset(from);
                    let mut result = result.0;
                    result.publications = merged.in_reply;
                    let reply = Reply {
                        id,
                        body: ReplyBody::Subscribe(result),
                    };
                    let mut messages = vec![codec
                        .encode_reply(&reply)
                        .map_err(|_| Disconnect::INTERNAL)?];
                    for publication in &merged.after_reply {
                        let push = PushEnvelope {
                            push: Push {
                                channel: Some(&channel),
                                body: PushBody::Pub(publication),
                            },
                        };
                        messages.push(codec.encode_push(&push).map_err(|_| Disconnect::INTERNAL)?);
                    }
                    Ok((messages, last))
                });
                if options.join_leave {
                    if let Err(err) = self
                        .node
                        .engine()
                        .publish_join(&channel, handle.info())
                        .await
                    {
                        tracing::warn!(channel = %channel, error = %err, "join not announced");
                    }
                }
                // The reply went out with the activation.
                Ok(None)
            }
            Err(failure) => {
                self.leave(&channel).await;
                Err(failure)
            }
        }
    }

    /// Engine work of a subscribe, done while the subscriber is pending:
    /// the node's feed of the channel, presence, the history read.
    async fn prepare(
        &mut self,
        channel: &str,
        req: &SubscribeRequest,
        options: ChannelOptions,
    ) -> Result<Option<Recovery>, Failure> {
        let engine = self.node.engine();
        engine.subscribe(channel).await?;
        if let Some(subscription) = self.subscriptions.get_mut(channel) {
            subscription.engine = true;
        }
        let engine = self.node.engine();
        if options.presence {
            if let Some(connected) = &self.connected {
                engine
                    .add_presence(channel, connected.handle.info())
                    .await?;
            }
        }
        if !options.history {
            return Ok(None);
        }
        let cap = self.node.limits().history_cap;
        if req.recover {
            let since = StreamPosition {
                offset: req.offset,
                epoch: req.epoch.clone(),
            };
            let filter = HistoryFilter {
                limit: cap,
                since: Some(since),
                reverse: false,
            };
            match engine.history(channel, filter).await {
                Ok(HistoryPage {
                    publications,
                    position,
                }) => {
                    let recovered = match (publications.first(), publications.last()) {
                        (Some(first), Some(last)) => {
                            first.offset == req.offset + 1 && last.offset == position.offset
                        }
                        _ => position.offset == req.offset,
                    };
                    return Ok(Some(Recovery {
                        publications: if recovered { publications } else { Vec::new() },
                        top: position,
                        recovered,
                    }));
                }
                Err(EngineError::UnrecoverablePosition) => {}
                Err(other) => return Err(other.into()),
            }
        }
        let top = engine
            .history(channel, HistoryFilter::default())
            .await?
            .position;
        Ok(Some(Recovery {
            publications: Vec::new(),
            top,
            recovered: false,
        }))
    }

    pub(super) async fn unsubscribe(&mut self, channel: &str) -> Handled {
        self.connected()?;
        self.leave(channel).await;
        Ok(Some(ReplyBody::Unsubscribe(Empty {})))
    }

    /// Carries out a hub order.
    pub async fn on_control(&mut self, order: Control) {
        match order {
            Control::Unsubscribe {
                channel,
                code,
                reason,
            } => {
                if !self.subscriptions.contains_key(&channel) {
                    return;
                }
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

    /// Drops a subscription everywhere: hub, presence, engine feed; announces the leave.
    pub(super) async fn leave(&mut self, channel: &str) {
        let Some(subscription) = self.subscriptions.remove(channel) else {
            return;
        };
        let Some(connected) = &self.connected else {
            return;
        };
        let handle = connected.handle.clone();
        self.node.hub().remove_subscriber(channel, handle.id());
        let engine = self.node.engine();
        if subscription.options.presence {
            if let Err(err) = engine.remove_presence(channel, handle.id()).await {
                tracing::warn!(channel = %channel, error = %err, "presence not removed");
            }
        }
        if subscription.options.join_leave {
            if let Err(err) = engine.publish_leave(channel, handle.info()).await {
                tracing::warn!(channel = %channel, error = %err, "leave not announced");
            }
        }
        if subscription.engine {
            if let Err(err) = engine.unsubscribe(channel).await {
                tracing::warn!(channel = %channel, error = %err, "engine unsubscribe failed");
            }
        }
    }
}

/// The subscribe result before buffered publications are merged in, the
/// recovered publications, and the offset the client is at before them.
fn subscribe_result(
    req: &SubscribeRequest,
    options: ChannelOptions,
    recovery: Option<Recovery>,
) -> (
    (SubscribeResult, Vec<crate::protocol::reply::Publication>),
    u64,
) {
    let Some(recovery) = recovery.filter(|_| options.history) else {
        return ((SubscribeResult::default(), Vec::new()), 0);
    };
    let mut result = SubscribeResult {
        recoverable: true,
        positioned: true,
        epoch: recovery.top.epoch.clone(),
        was_recovering: req.recover,
        recovered: recovery.recovered,
        ..Default::default()
    };
    if recovery.recovered {
        result.offset = req.offset;
        ((result, recovery.publications), req.offset)
    } else {
        result.offset = recovery.top.offset;
        ((result, Vec::new()), recovery.top.offset)
    }
}
