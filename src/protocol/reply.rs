//! Replies to commands: `{"id":N,"<method>":{result}}` or `{"id":N,"error":{..}}`.
//!
//! Result objects are always written, even when empty (`"publish":{}`), because
//! the JS SDK reads fields of them. Zero values are left out like the Go server does.

use std::collections::BTreeMap;

use serde::Serialize;

use super::codes::ProtocolError;
use super::payload::Json;

fn is_zero(n: &u64) -> bool {
    *n == 0
}
fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}
fn is_false(b: &bool) -> bool {
    !*b
}

/// Who a connection is: sent in presence, join/leave and publication `info`.
/// Deserialisable because the Redis engine stores it and passes it between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ClientInfo {
    /// User id (the token's `sub`).
    pub user: String,
    /// Connection id.
    pub client: String,
    /// The connection token's `info` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn_info: Option<Json>,
    /// Channel-specific info (unused by Tandem's policy so far).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chan_info: Option<Json>,
}

/// A publication as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Publication {
    /// Payload.
    pub data: Json,
    /// Publisher, for client publishes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<ClientInfo>,
    /// Position in the channel's stream (0 on channels without history).
    #[serde(skip_serializing_if = "is_zero")]
    pub offset: u64,
    /// Application tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// Result of `connect` and `refresh`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectResult {
    /// Connection id.
    pub client: String,
    /// Server version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Whether the connection expires (must be refreshed).
    #[serde(skip_serializing_if = "is_false")]
    pub expires: bool,
    /// Seconds until it must be refreshed.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub ttl: u32,
    /// Server ping interval in seconds.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub ping: u32,
    /// Whether the client must answer pings.
    #[serde(skip_serializing_if = "is_false")]
    pub pong: bool,
    /// Application data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
}

/// Result of `subscribe`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubscribeResult {
    /// Whether the subscription expires.
    #[serde(skip_serializing_if = "is_false")]
    pub expires: bool,
    /// Seconds until it expires.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub ttl: u32,
    /// Recovery is supported on this subscription.
    #[serde(skip_serializing_if = "is_false")]
    pub recoverable: bool,
    /// Publications carry offsets.
    #[serde(skip_serializing_if = "is_false")]
    pub positioned: bool,
    /// Stream epoch.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub epoch: String,
    /// Stream offset (the top, or the client's offset after a successful recovery).
    #[serde(skip_serializing_if = "is_zero")]
    pub offset: u64,
    /// Recovered publications, in offset order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publications: Vec<Publication>,
    /// Whether recovery succeeded.
    #[serde(skip_serializing_if = "is_false")]
    pub recovered: bool,
    /// Whether the client asked to recover.
    #[serde(skip_serializing_if = "is_false")]
    pub was_recovering: bool,
    /// Application data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
}

/// Result of `history`: `publications`, `epoch` and `offset` are always written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HistoryResult {
    /// Publications, oldest first (newest first with `reverse`).
    pub publications: Vec<Publication>,
    /// Stream epoch.
    pub epoch: String,
    /// Stream top offset.
    pub offset: u64,
}

/// Result of `presence`: client id → info.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PresenceResult {
    /// Present clients keyed by client id.
    pub presence: BTreeMap<String, ClientInfo>,
}

/// Result of `presence_stats`: both counts are always written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PresenceStatsResult {
    /// Connections present.
    pub num_clients: u32,
    /// Distinct users present.
    pub num_users: u32,
}

/// Result of `rpc`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RpcResult {
    /// Method result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
}

/// An empty result object (`publish`, `unsubscribe`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Empty {}

/// A reply's outcome.
#[derive(Debug, Clone, Serialize)]
pub enum ReplyBody {
    /// `connect` result.
    #[serde(rename = "connect")]
    Connect(ConnectResult),
    /// `subscribe` result.
    #[serde(rename = "subscribe")]
    Subscribe(SubscribeResult),
    /// `unsubscribe` result.
    #[serde(rename = "unsubscribe")]
    Unsubscribe(Empty),
    /// `publish` result.
    #[serde(rename = "publish")]
    Publish(Empty),
    /// `presence` result.
    #[serde(rename = "presence")]
    Presence(PresenceResult),
    /// `presence_stats` result.
    #[serde(rename = "presence_stats")]
    PresenceStats(PresenceStatsResult),
    /// `history` result.
    #[serde(rename = "history")]
    History(HistoryResult),
    /// `rpc` result.
    #[serde(rename = "rpc")]
    Rpc(RpcResult),
    /// `refresh` result.
    #[serde(rename = "refresh")]
    Refresh(ConnectResult),
    /// An error.
    #[serde(rename = "error")]
    Error(ProtocolError),
}

/// A reply to command `id`.
#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    /// The command's id.
    pub id: u32,
    /// Result or error.
    #[serde(flatten)]
    pub body: ReplyBody,
}

impl Reply {
    /// An error reply.
    pub fn error(id: u32, error: ProtocolError) -> Self {
        Self {
            id,
            body: ReplyBody::Error(error),
        }
    }
}
