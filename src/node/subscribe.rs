//! Subscribing a connection to a channel (with recovery, presence and
//! join), and ending a subscription.
//!
//! Order of a subscribe, so that nothing is lost between history and live
//! delivery (SPEC §4.2): register a pending subscriber in the hub (live
//! publications are buffered from here on) → make sure the engine feeds this
//! node → add presence → read history or the stream top → merge buffered and
//! recovered publications, queue the reply and switch to live in one step →
//! announce the join. The engine work is bounded by the subscribe timeout.

use bytes::Bytes;

use super::error::NodeError;
use super::policy::{Action, ChannelOptions};
use super::Node;
use crate::engine::{EngineError, HistoryFilter, HistoryPage, Publication, StreamPosition};
use crate::hub::subscriber::merge;
use crate::hub::ClientHandle;
use crate::protocol::Disconnect;

/// What a client asks of a subscription.
#[derive(Debug, Clone, Default)]
pub struct SubscribeRequest {
    /// Recover from `offset`/`epoch`.
    pub recover: bool,
    /// The last offset the client saw.
    pub offset: u64,
    /// The epoch of that offset.
    pub epoch: String,
    /// The client wants join/leave pushes.
    pub join_leave: bool,
    /// Fail with [`NodeError::Unrecoverable`] rather than answer
    /// `recovered:false` when `recover` cannot be served (the client then
    /// reloads its state and subscribes from the new position).
    pub reject_unrecovered: bool,
}

/// A live subscription of one connection; give it back to
/// [`Node::unsubscribe`] to end it.
#[derive(Debug, Clone)]
pub struct Subscription {
    channel: String,
    options: ChannelOptions,
    /// Whether the engine counted this subscriber (undone exactly once).
    engine: bool,
}

impl Subscription {
    /// The channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// How the channel behaves.
    pub fn options(&self) -> ChannelOptions {
        self.options
    }
}

/// What the subscribe reply says.
#[derive(Debug)]
pub struct Subscribed<'a> {
    /// Publications carry offsets and the subscription can recover.
    pub positioned: bool,
    /// The stream's epoch.
    pub epoch: &'a str,
    /// The offset the client is at once it has the reply's publications.
    pub offset: u64,
    /// Whether the client asked to recover.
    pub was_recovering: bool,
    /// Whether recovery succeeded.
    pub recovered: bool,
    /// Publications for the reply, in offset order.
    pub publications: &'a [Publication],
}

/// What history says about the client's position.
struct Recovery {
    /// Publications to deliver with the reply (only when recovered).
    publications: Vec<Publication>,
    /// The stream's top.
    top: StreamPosition,
    /// Whether the client's position could be served without a gap.
    recovered: bool,
}

impl Node {
    /// Subscribes `client` to `channel`. `reply` encodes the subscribe reply
    /// (in the client's codec); it is queued, with any publications that
    /// arrived meanwhile after it, in the same step that makes the
    /// subscriber live, so no live push can overtake it.
    pub async fn subscribe(
        &self,
        client: &ClientHandle,
        channel: &str,
        request: &SubscribeRequest,
        reply: impl FnOnce(&Subscribed<'_>) -> Option<Bytes>,
    ) -> Result<Subscription, NodeError> {
        let options = self
            .policy()
            .authorize(client.user(), channel, Action::Subscribe)
            .await?;
        let join_leave = options.join_leave || request.join_leave;
        let Some(added) = self.hub().add_subscriber(channel, client, join_leave) else {
            return Err(NodeError::AlreadySubscribed);
        };
        let mut subscription = Subscription {
            channel: channel.to_owned(),
            options,
            engine: false,
        };
        let limit = self.limits().subscribe_timeout;
        let prepared =
            tokio::time::timeout(limit, self.prepare(client, &mut subscription, request))
                .await
                .unwrap_or_else(|_| {
                    tracing::warn!(channel, ?limit, "subscribe timed out");
                    Err(NodeError::Timeout)
                });
        let recovery = match prepared {
            Ok(recovery) => recovery,
            Err(err) => {
                self.unsubscribe(client, subscription).await;
                return Err(err);
            }
        };
        let unrecovered = recovery.as_ref().is_some_and(|r| !r.recovered);
        if request.recover && request.reject_unrecovered && unrecovered {
            self.unsubscribe(client, subscription).await;
            return Err(NodeError::Unrecoverable);
        }
        let codec = client.codec();
        added.activate(|buffered| {
            let recovering = request.recover && recovery.as_ref().is_some_and(|r| r.recovered);
            let (position, recovered, from) = match &recovery {
                Some(r) if r.recovered => (Some(&r.top), r.publications.clone(), request.offset),
                Some(r) => (Some(&r.top), Vec::new(), r.top.offset),
                None => (None, Vec::new(), 0),
            };
            let merged = merge(from, recovered, buffered, recovering)?;
            let subscribed = Subscribed {
                positioned: position.is_some(),
                epoch: position.map_or("", |p| p.epoch.as_str()),
                offset: if position.is_some() { from } else { 0 },
                was_recovering: position.is_some() && request.recover,
                recovered: recovering,
                publications: &merged.in_reply,
            };
            let mut messages = vec![reply(&subscribed).ok_or(Disconnect::INTERNAL)?];
            for publication in &merged.after_reply {
                let push = codec
                    .encode_publication(channel, publication)
                    .map_err(|_| Disconnect::INTERNAL)?;
                messages.push(push);
            }
            Ok((messages, merged.last_offset(from)))
        });
        if options.join_leave {
            if let Err(err) = self.broker().publish_join(channel, client.info()).await {
                tracing::warn!(channel, error = %err, "join not announced");
            }
        }
        Ok(subscription)
    }

    /// Engine work of a subscribe, done while the subscriber is pending: the
    /// node's feed of the channel, presence, the history read.
    async fn prepare(
        &self,
        client: &ClientHandle,
        subscription: &mut Subscription,
        request: &SubscribeRequest,
    ) -> Result<Option<Recovery>, NodeError> {
        let engine = self.broker();
        let channel = subscription.channel.as_str();
        engine.subscribe(channel).await?;
        subscription.engine = true;
        let options = subscription.options;
        if options.presence {
            engine.add_presence(channel, client.info()).await?;
        }
        if !options.history {
            return Ok(None);
        }
        if request.recover {
            let since = StreamPosition {
                offset: request.offset,
                epoch: request.epoch.clone(),
            };
            let filter = HistoryFilter {
                limit: self.limits().history_cap,
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
                            first.offset == request.offset + 1 && last.offset == position.offset
                        }
                        _ => position.offset == request.offset,
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

    /// Ends a subscription everywhere: hub, presence, engine feed; announces
    /// the leave. Failures are logged: the subscription is gone regardless.
    pub async fn unsubscribe(&self, client: &ClientHandle, subscription: Subscription) {
        let channel = subscription.channel.as_str();
        self.hub().remove_subscriber(channel, client.id());
        let engine = self.broker();
        if subscription.options.presence {
            if let Err(err) = engine.remove_presence(channel, client.id()).await {
                tracing::warn!(channel, error = %err, "presence not removed");
            }
        }
        if subscription.options.join_leave {
            if let Err(err) = engine.publish_leave(channel, client.info()).await {
                tracing::warn!(channel, error = %err, "leave not announced");
            }
        }
        if subscription.engine {
            if let Err(err) = engine.unsubscribe(channel).await {
                tracing::warn!(channel, error = %err, "engine unsubscribe failed");
            }
        }
    }

    /// Re-adds `client`'s presence in `subscriptions` so it does not expire.
    pub async fn refresh_presence<'a>(
        &self,
        client: &ClientHandle,
        subscriptions: impl IntoIterator<Item = &'a Subscription>,
    ) {
        for subscription in subscriptions {
            if subscription.options.presence {
                let channel = subscription.channel.as_str();
                if let Err(err) = self.broker().add_presence(channel, client.info()).await {
                    tracing::warn!(channel, error = %err, "presence refresh failed");
                }
            }
        }
    }
}
