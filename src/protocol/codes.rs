//! Reply error codes and disconnect codes of the Centrifugo client protocol.
//!
//! Every code Tandem sends is named here, once (SPEC §4.6). Errors from
//! other modules are mapped to these in one place each: [`ProtocolError`] for
//! command replies and [`Disconnect`] for closing a connection.

use serde::Serialize;

/// An error returned in a command reply: `{"code":N,"message":"...","temporary":true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProtocolError {
    /// Numeric code from the protocol's table (100–113) or an application code (400–1999).
    pub code: u32,
    /// Human-readable message; never contains a token or a secret.
    pub message: String,
    /// Temporary errors are retried by the SDKs with backoff.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub temporary: bool,
}

impl ProtocolError {
    fn new(code: u32, message: impl Into<String>, temporary: bool) -> Self {
        Self {
            code,
            message: message.into(),
            temporary,
        }
    }

    /// 100: something failed on the server; the client may retry.
    pub fn internal() -> Self {
        Self::new(100, "internal server error", true)
    }
    /// 103: the policy refused the operation.
    pub fn permission_denied() -> Self {
        Self::new(103, "permission denied", false)
    }
    /// 104: the command or RPC method does not exist.
    pub fn method_not_found() -> Self {
        Self::new(104, "method not found", false)
    }
    /// 105: the connection is already subscribed to the channel.
    pub fn already_subscribed() -> Self {
        Self::new(105, "already subscribed", false)
    }
    /// 106: a configured limit was reached.
    pub fn limit_exceeded() -> Self {
        Self::new(106, "limit exceeded", false)
    }
    /// 107: the request is malformed; `message` says how.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(107, detail, false)
    }
    /// 108: the feature is not available on this channel or server.
    pub fn not_available() -> Self {
        Self::new(108, "not available", false)
    }
    /// 109: the token has expired; SDKs fetch a new one and retry.
    pub fn token_expired() -> Self {
        Self::new(109, "token expired", false)
    }
    /// 111: too many requests; retried with backoff.
    pub fn too_many_requests() -> Self {
        Self::new(111, "too many requests", true)
    }
    /// 112: the requested stream position cannot be served (epoch changed).
    pub fn unrecoverable_position() -> Self {
        Self::new(112, "unrecoverable position", false)
    }
    /// An application error (400–1999), used by the RPC layer for domain errors.
    pub fn application(code: u32, message: impl Into<String>, temporary: bool) -> Self {
        Self::new(code, message, temporary)
    }
}

/// Why a connection is closed: a WebSocket close code and a short reason.
///
/// Codes 3000–3499 tell the SDKs to reconnect; 3500–3999 are terminal.
/// Reasons stay short plain words (the JS SDK first tries to parse them as JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnect {
    /// WebSocket close code.
    pub code: u16,
    /// Short reason, at most a few words, never JSON.
    pub reason: &'static str,
}

impl Disconnect {
    /// Whether the SDKs reconnect after this code.
    pub fn reconnect(&self) -> bool {
        matches!(self.code, 3000..=3499 | 4000..=4499) || self.code >= 5000
    }

    /// 3001: the node shuts down; reconnect (elsewhere).
    pub const SHUTDOWN: Disconnect = Disconnect {
        code: 3001,
        reason: "shutdown",
    };
    /// 3004: an internal error made the connection unusable.
    pub const INTERNAL: Disconnect = Disconnect {
        code: 3004,
        reason: "internal server error",
    };
    /// 3005: the connection's token expired and was not refreshed.
    pub const EXPIRED: Disconnect = Disconnect {
        code: 3005,
        reason: "connection expired",
    };
    /// 3008: the client did not keep up with its outbound queue.
    pub const SLOW: Disconnect = Disconnect {
        code: 3008,
        reason: "slow",
    };
    /// 3009: writing to the socket failed.
    pub const WRITE_ERROR: Disconnect = Disconnect {
        code: 3009,
        reason: "write error",
    };
    /// 3010: the server lost the client's stream position; reconnect and recover.
    pub const INSUFFICIENT_STATE: Disconnect = Disconnect {
        code: 3010,
        reason: "insufficient state",
    };
    /// 3011: the server asks the client to reconnect (an operator's disconnect of a user).
    pub const FORCE_RECONNECT: Disconnect = Disconnect {
        code: 3011,
        reason: "force reconnect",
    };
    /// 3012: the client did not answer a ping in time.
    pub const NO_PONG: Disconnect = Disconnect {
        code: 3012,
        reason: "no pong",
    };
    /// 3500: the token is invalid (bad signature, malformed, wrong algorithm, wrong user).
    pub const INVALID_TOKEN: Disconnect = Disconnect {
        code: 3500,
        reason: "invalid token",
    };
    /// 3501: the client sent something the protocol does not allow.
    pub const BAD_REQUEST: Disconnect = Disconnect {
        code: 3501,
        reason: "bad request",
    };
    /// 3502: no connect command arrived in time.
    pub const STALE: Disconnect = Disconnect {
        code: 3502,
        reason: "stale",
    };
    /// 3503: an operator or the application ended the connection for good.
    pub const FORCE_DISCONNECT: Disconnect = Disconnect {
        code: 3503,
        reason: "force disconnect",
    };
    /// 3504: the user already holds as many connections as allowed.
    pub const CONNECTION_LIMIT: Disconnect = Disconnect {
        code: 3504,
        reason: "connection limit",
    };
    /// 1002: the peer broke the WebSocket protocol (RFC 6455: reserved bits,
    /// unmasked client frames, bad opcodes, fragmented control frames…).
    pub const PROTOCOL_ERROR: Disconnect = Disconnect {
        code: 1002,
        reason: "protocol error",
    };
    /// 1007: a text frame was not valid UTF-8 (RFC 6455 "invalid frame payload data").
    pub const INVALID_PAYLOAD: Disconnect = Disconnect {
        code: 1007,
        reason: "invalid payload data",
    };
    /// 1009: a frame was larger than the configured limit (WebSocket "message too big").
    pub const MESSAGE_TOO_BIG: Disconnect = Disconnect {
        code: 1009,
        reason: "message too big",
    };
}

/// Unsubscribe push codes: below 2500 the subscription stays unsubscribed,
/// from 2500 on the client resubscribes.
pub mod unsubscribe {
    /// The server removed the subscription for good (e.g. access revoked).
    pub const SERVER: u32 = 2000;
    /// The server lost the subscription's position; the client resubscribes and recovers.
    pub const INSUFFICIENT_STATE: u32 = 2500;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_ranges_follow_the_protocol() {
        assert!(Disconnect::SHUTDOWN.reconnect());
        assert!(Disconnect::SLOW.reconnect());
        assert!(Disconnect::EXPIRED.reconnect());
        assert!(!Disconnect::INVALID_TOKEN.reconnect());
        assert!(!Disconnect::BAD_REQUEST.reconnect());
        assert!(!Disconnect::MESSAGE_TOO_BIG.reconnect());
    }

    #[test]
    fn temporary_is_omitted_when_false() {
        let json = serde_json::to_string(&ProtocolError::permission_denied()).unwrap();
        assert_eq!(json, r#"{"code":103,"message":"permission denied"}"#);
        let json = serde_json::to_string(&ProtocolError::internal()).unwrap();
        assert_eq!(
            json,
            r#"{"code":100,"message":"internal server error","temporary":true}"#
        );
    }
}
