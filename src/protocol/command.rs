//! Commands sent by clients: `{"id":N,"<method>":{...}}`.
//!
//! Unknown fields are ignored (the SDKs send extension fields such as `flag`).
//! A command with no method key and `id` 0 is a pong (the answer to a server ping).

use serde::Deserialize;

use super::payload::Json;

/// One decoded command.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Request id, echoed in the reply. 0 for `send` and pongs.
    pub id: u32,
    /// What the client asks for.
    pub method: Method,
}

/// The command's method and its request fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// Authenticate the connection.
    Connect(ConnectRequest),
    /// Subscribe to a channel, optionally recovering from a position.
    Subscribe(SubscribeRequest),
    /// Leave a channel.
    Unsubscribe(ChannelRequest),
    /// Publish into a channel.
    Publish(PublishRequest),
    /// Who is subscribed to a channel.
    Presence(ChannelRequest),
    /// How many clients and users are subscribed.
    PresenceStats(ChannelRequest),
    /// Read a channel's history stream.
    History(HistoryRequest),
    /// Client-sent ping command (not used by SDKs; answered with 108 like Centrifugo).
    Ping,
    /// Fire-and-forget message: no reply.
    Send(SendRequest),
    /// Remote procedure call.
    Rpc(RpcRequest),
    /// Extend the connection with a new token.
    Refresh(RefreshRequest),
    /// Refresh a subscription token.
    SubRefresh(ChannelRequest),
    /// The empty command `{}` answering a server ping.
    Pong,
}

impl Method {
    /// The method's name as it appears in the protocol.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Connect(_) => "connect",
            Method::Subscribe(_) => "subscribe",
            Method::Unsubscribe(_) => "unsubscribe",
            Method::Publish(_) => "publish",
            Method::Presence(_) => "presence",
            Method::PresenceStats(_) => "presence_stats",
            Method::History(_) => "history",
            Method::Ping => "ping",
            Method::Send(_) => "send",
            Method::Rpc(_) => "rpc",
            Method::Refresh(_) => "refresh",
            Method::SubRefresh(_) => "sub_refresh",
            Method::Pong => "pong",
        }
    }
}

/// `connect` request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ConnectRequest {
    /// Connection JWT.
    pub token: String,
    /// Application data sent with connect (unused by Tandem, accepted).
    pub data: Option<Json>,
    /// SDK name, e.g. "js".
    pub name: String,
    /// SDK version.
    pub version: String,
}

/// `subscribe` request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SubscribeRequest {
    /// Channel name.
    pub channel: String,
    /// Subscription token (not used by Tandem's policy; accepted and ignored).
    pub token: String,
    /// Whether the client wants to recover from `offset`/`epoch`.
    pub recover: bool,
    /// Last offset the client saw.
    pub offset: u64,
    /// Epoch of that offset.
    pub epoch: String,
    /// Client asks for positioning.
    pub positioned: bool,
    /// Client asks for recovery support.
    pub recoverable: bool,
    /// Client asks for join/leave pushes.
    pub join_leave: bool,
    /// Application data for a subscribe handler (Tandem has none: refused).
    pub data: Option<Json>,
    /// Feature bits: [`flag::CHANNEL_COMPACTION`], [`flag::REJECT_UNRECOVERED`].
    pub flag: i64,
    /// Delta compression asked for (`"fossil"`; not implemented: refused).
    pub delta: String,
    /// A publication tags filter was sent (not implemented: refused).
    #[serde(rename = "tf", deserialize_with = "present")]
    pub tags_filter: bool,
    /// Subscription type: 0 stream; map and shared-poll types are not available.
    #[serde(rename = "type")]
    pub kind: i32,
    /// Map subscription phase (map subscriptions only).
    pub phase: i32,
    /// Map subscription page cursor (map subscriptions only).
    pub cursor: String,
    /// Map subscription page size (map subscriptions only).
    pub limit: i32,
    /// Map subscription order (map subscriptions only).
    pub asc: bool,
}

/// The subscribe `flag` bits (protocol §2).
pub mod flag {
    /// The client can take numeric channel ids in pushes. A capability, not a
    /// request: the server turns it on by giving an `id` in the result, which
    /// Tandem never does, so pushes keep their channel names.
    pub const CHANNEL_COMPACTION: i64 = 1;
    /// Answer error 112 instead of `recovered:false` when the position cannot
    /// be recovered (the SDKs set it with a `getState` hook).
    pub const REJECT_UNRECOVERED: i64 = 2;
    /// Every bit Tandem knows.
    pub const KNOWN: i64 = CHANNEL_COMPACTION | REJECT_UNRECOVERED;
}

/// `true` when the field is present and not `null`.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<serde::de::IgnoredAny>::deserialize(deserializer)?.is_some())
}

/// Requests that only name a channel.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ChannelRequest {
    /// Channel name.
    pub channel: String,
}

/// `publish` request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PublishRequest {
    /// Channel name.
    #[serde(default)]
    pub channel: String,
    /// Payload to publish.
    pub data: Json,
}

/// A stream position as sent by clients.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StreamPositionRequest {
    /// Offset.
    pub offset: u64,
    /// Epoch.
    pub epoch: String,
}

/// `history` request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HistoryRequest {
    /// Channel name.
    pub channel: String,
    /// Maximum publications; 0 = only the position, negative = all (capped).
    pub limit: i32,
    /// Read after (or before, with `reverse`) this position.
    pub since: Option<StreamPositionRequest>,
    /// Newest first.
    pub reverse: bool,
}

/// `rpc` request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RpcRequest {
    /// Method name, e.g. `server.info`.
    pub method: String,
    /// Arguments.
    pub data: Option<Json>,
}

/// `send` request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SendRequest {
    /// Payload; Tandem routes `{"method":..,"data":..}` like an RPC without a reply.
    pub data: Json,
}

/// `refresh` request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RefreshRequest {
    /// The new connection token.
    pub token: String,
}

/// The wire shape: every method is an optional key.
#[derive(Deserialize)]
pub(super) struct WireCommand {
    #[serde(default)]
    id: u32,
    connect: Option<ConnectRequest>,
    subscribe: Option<SubscribeRequest>,
    unsubscribe: Option<ChannelRequest>,
    publish: Option<PublishRequest>,
    presence: Option<ChannelRequest>,
    presence_stats: Option<ChannelRequest>,
    history: Option<HistoryRequest>,
    ping: Option<serde::de::IgnoredAny>,
    send: Option<SendRequest>,
    rpc: Option<RpcRequest>,
    refresh: Option<RefreshRequest>,
    sub_refresh: Option<ChannelRequest>,
}

impl WireCommand {
    /// Picks the method; `None` when the command carries an id but no known method.
    pub(super) fn into_command(self) -> Option<Command> {
        let id = self.id;
        let method = if let Some(r) = self.connect {
            Method::Connect(r)
        } else if let Some(r) = self.subscribe {
            Method::Subscribe(r)
        } else if let Some(r) = self.unsubscribe {
            Method::Unsubscribe(r)
        } else if let Some(r) = self.publish {
            Method::Publish(r)
        } else if let Some(r) = self.presence {
            Method::Presence(r)
        } else if let Some(r) = self.presence_stats {
            Method::PresenceStats(r)
        } else if let Some(r) = self.history {
            Method::History(r)
        } else if self.ping.is_some() {
            Method::Ping
        } else if let Some(r) = self.send {
            Method::Send(r)
        } else if let Some(r) = self.rpc {
            Method::Rpc(r)
        } else if let Some(r) = self.refresh {
            Method::Refresh(r)
        } else if let Some(r) = self.sub_refresh {
            Method::SubRefresh(r)
        } else if id == 0 {
            Method::Pong
        } else {
            return None;
        };
        Some(Command { id, method })
    }
}
