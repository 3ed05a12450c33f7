//! Pushes: unsolicited messages from the server, `{"push":{...}}` with no id.

use serde::Serialize;

use super::reply::{ClientInfo, Publication};

/// The one payload of a push.
#[derive(Debug, Clone, Serialize)]
pub enum PushBody<'a> {
    /// A publication in a channel.
    #[serde(rename = "pub")]
    Pub(&'a Publication),
    /// Someone subscribed to the channel.
    #[serde(rename = "join")]
    Join {
        /// Who joined.
        info: &'a ClientInfo,
    },
    /// Someone left the channel.
    #[serde(rename = "leave")]
    Leave {
        /// Who left.
        info: &'a ClientInfo,
    },
    /// The server ended the subscription.
    #[serde(rename = "unsubscribe")]
    Unsubscribe {
        /// Always sent: below 2500 the client stays unsubscribed, from 2500 it resubscribes.
        code: u32,
        /// Why.
        reason: &'a str,
    },
    /// The server closes the connection (also sent as a close frame).
    #[serde(rename = "disconnect")]
    Disconnect {
        /// Close code.
        code: u16,
        /// Why.
        reason: &'a str,
        /// Whether the client should reconnect.
        reconnect: bool,
    },
}

/// A push, optionally scoped to a channel.
#[derive(Debug, Clone, Serialize)]
pub struct Push<'a> {
    /// Channel the push belongs to (omitted for connection-level pushes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'a str>,
    /// The payload.
    #[serde(flatten)]
    pub body: PushBody<'a>,
}

/// The `{"push":...}` envelope.
#[derive(Debug, Clone, Serialize)]
pub struct PushEnvelope<'a> {
    /// The push.
    pub push: Push<'a>,
}
