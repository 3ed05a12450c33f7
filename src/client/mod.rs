//! One connection's protocol state machine: what a client may do, in which
//! order, and what each command does (SPEC §3, §4).
//!
//! [`ClientState`] knows nothing about sockets: it takes decoded commands and
//! timer ticks, and answers by queueing messages on its [`Outbox`] or by
//! returning a [`Disconnect`]. The WebSocket loop in `ws::connection` feeds it.
//! One file per command group: `connect` (connect, refresh), `subscribe`
//! (subscribe, unsubscribe), `publish`, `history`, `presence`, `rpc` (rpc, send).

mod connect;
mod history;
mod presence;
mod publish;
mod rate;
mod rpc;
mod subscribe;

use std::collections::HashMap;

use tokio::time::Instant;

use crate::errors;
use crate::hub::{ClientHandle, Outbox};
use crate::node::{Node, NodeError, Subscription};
use crate::protocol::command::{Command, Method};
use crate::protocol::reply::{Reply, ReplyBody};
use crate::protocol::{Codec, Disconnect, ProtocolError};
use rate::RateLimiter;

/// What a command handler can end in: a reply error, or closing the connection.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Reply with this error; the connection stays.
    Reply(ProtocolError),
    /// Close the connection.
    Close(Disconnect),
}

impl From<ProtocolError> for Failure {
    fn from(e: ProtocolError) -> Self {
        Failure::Reply(e)
    }
}

impl From<Disconnect> for Failure {
    fn from(d: Disconnect) -> Self {
        Failure::Close(d)
    }
}

impl From<NodeError> for Failure {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::ConnectionLimit(_) => Failure::Close(Disconnect::CONNECTION_LIMIT),
            NodeError::InsufficientState => Failure::Close(Disconnect::INSUFFICIENT_STATE),
            other => Failure::Reply(errors::node(other)),
        }
    }
}

type Handled = Result<Option<ReplyBody>, Failure>;

/// Authenticated part of the state.
struct Connected {
    handle: ClientHandle,
    /// When the token expires; `None` never happens today (exp is required) but
    /// is kept for tokens without expiry.
    expires_at: Option<Instant>,
}

/// The state of one connection.
pub struct ClientState {
    node: Node,
    codec: Codec,
    outbox: Outbox,
    client_id: String,
    connected: Option<Connected>,
    subscriptions: HashMap<String, Subscription>,
    rate: RateLimiter,
    opened_at: Instant,
    next_ping: Instant,
    awaiting_pong_since: Option<Instant>,
    next_presence_refresh: Instant,
}

impl ClientState {
    /// State for a new, not yet authenticated connection.
    pub fn new(node: Node, codec: Codec, outbox: Outbox) -> Self {
        let now = Instant::now();
        let limits = node.limits().clone();
        Self {
            client_id: uuid::Uuid::new_v4().to_string(),
            rate: RateLimiter::new(limits.max_commands_per_second, now),
            next_ping: now + limits.ping_interval,
            next_presence_refresh: now + limits.presence_refresh,
            node,
            codec,
            outbox,
            connected: None,
            subscriptions: HashMap::new(),
            opened_at: now,
            awaiting_pong_since: None,
        }
    }

    /// The connection id (given in the connect reply).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The user, once connected.
    pub fn user(&self) -> Option<&str> {
        self.connected.as_ref().map(|c| c.handle.user())
    }

    /// Handles every command of one frame, in order.
    pub async fn handle_commands(&mut self, commands: Vec<Command>) -> Result<(), Disconnect> {
        for command in commands {
            let id = command.id;
            let is_connect = matches!(command.method, Method::Connect(_));
            let method = command.method.name();
            let handled = self.handle(command).await;
            let result = match &handled {
                Ok(_) => "ok",
                Err(Failure::Reply(_)) => "error",
                Err(Failure::Close(_)) => "disconnect",
            };
            self.node.metrics().command(method, result);
            match handled {
                Ok(Some(body)) => self.reply(Reply { id, body }),
                Ok(None) => {}
                Err(Failure::Reply(error)) => {
                    self.reply(Reply::error(id, error));
                    if is_connect {
                        // Like Centrifugo: the rest of a frame after a failed connect is ignored.
                        return Ok(());
                    }
                }
                Err(Failure::Close(disconnect)) => return Err(disconnect),
            }
        }
        Ok(())
    }

    async fn handle(&mut self, command: Command) -> Handled {
        let Command { id, method } = command;
        if self.connected.is_none() && !matches!(method, Method::Connect(_)) {
            return Err(Disconnect::BAD_REQUEST.into());
        }
        if !matches!(method, Method::Pong) && !self.rate.allow(Instant::now()) {
            return Err(ProtocolError::too_many_requests().into());
        }
        if id == 0 && !matches!(method, Method::Pong | Method::Send(_)) {
            return Err(Disconnect::BAD_REQUEST.into());
        }
        match method {
            Method::Connect(req) => self.connect(req).await,
            Method::Refresh(req) => self.refresh(req).await,
            Method::Subscribe(req) => self.subscribe(id, req).await,
            Method::Unsubscribe(req) => self.unsubscribe(&req.channel).await,
            Method::Publish(req) => self.publish(req).await,
            Method::History(req) => self.history(req).await,
            Method::Presence(req) => self.presence(&req.channel).await,
            Method::PresenceStats(req) => self.presence_stats(&req.channel).await,
            Method::Rpc(req) => self.rpc(req).await,
            Method::Send(req) => self.send(req).await,
            Method::Ping | Method::SubRefresh(_) => Err(ProtocolError::not_available().into()),
            Method::Pong => {
                self.awaiting_pong_since = None;
                Ok(None)
            }
        }
    }

    fn connected(&self) -> Result<&Connected, Failure> {
        self.connected
            .as_ref()
            .ok_or(Failure::Close(Disconnect::BAD_REQUEST))
    }

    fn reply(&self, reply: Reply) {
        match self.codec.encode_reply(&reply) {
            Ok(bytes) => {
                self.outbox.enqueue(bytes);
            }
            Err(err) => {
                tracing::error!(error = %err, "could not encode reply");
                self.outbox.close(Disconnect::INTERNAL);
            }
        }
    }

    /// The next moment [`ClientState::on_timer`] has work to do.
    pub fn next_deadline(&self) -> Instant {
        let limits = self.node.limits();
        let Some(connected) = &self.connected else {
            return self.opened_at + limits.connect_timeout;
        };
        let mut next = self.next_ping.min(self.next_presence_refresh);
        if let Some(sent) = self.awaiting_pong_since {
            next = next.min(sent + limits.pong_timeout);
        }
        if let Some(expires) = connected.expires_at {
            next = next.min(expires + limits.expiry_grace);
        }
        next
    }

    /// Runs whatever timers are due: connect timeout, ping/pong, token expiry,
    /// presence refresh.
    pub async fn on_timer(&mut self) -> Result<(), Disconnect> {
        let now = Instant::now();
        let limits = self.node.limits().clone();
        let Some(connected) = &self.connected else {
            if now >= self.opened_at + limits.connect_timeout {
                return Err(Disconnect::STALE);
            }
            return Ok(());
        };
        if let Some(expires) = connected.expires_at {
            if now >= expires + limits.expiry_grace {
                return Err(Disconnect::EXPIRED);
            }
        }
        if let Some(sent) = self.awaiting_pong_since {
            if now >= sent + limits.pong_timeout {
                return Err(Disconnect::NO_PONG);
            }
        }
        if now >= self.next_ping {
            self.outbox.enqueue(self.codec.ping());
            if self.awaiting_pong_since.is_none() {
                self.awaiting_pong_since = Some(now);
            }
            self.next_ping = now + limits.ping_interval;
        }
        if now >= self.next_presence_refresh {
            self.next_presence_refresh = now + limits.presence_refresh;
            self.refresh_presence().await;
        }
        Ok(())
    }

    /// Leaves every channel and the hub. Called once when the connection ends.
    pub async fn close(&mut self) {
        let channels: Vec<String> = self.subscriptions.keys().cloned().collect();
        for channel in channels {
            self.leave(&channel).await;
        }
        if let Some(connected) = self.connected.take() {
            self.node.unregister(&connected.handle);
        }
    }
}
