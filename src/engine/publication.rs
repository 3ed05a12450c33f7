//! What flows through a channel, in the engine's own terms: opaque payload
//! bytes, who published, tags, the offset. No wire format: each protocol
//! codec turns these into its own messages at the edge (`protocol/`), once
//! per publication and codec.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Application bytes (`data`, `info`): opaque to the engine and the hub.
/// Tandem's are JSON text; they travel unchanged from the writer to storage
/// to every subscriber.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Payload(Bytes);

impl Payload {
    /// Wraps bytes as they are.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self(bytes.into())
    }

    /// Serialises `value` as compact JSON.
    pub fn from_json<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        Ok(Self(Bytes::from(serde_json::to_vec(value)?)))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The payload as text, when it is UTF-8 (Tandem's JSON payloads are).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The bytes, shared.
    pub fn bytes(&self) -> Bytes {
        self.0.clone()
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// Engines that keep client info as text (Redis) store payloads as base64.
impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(|bytes| Self(Bytes::from(bytes)))
            .map_err(serde::de::Error::custom)
    }
}

/// Who a connection is: in presence, join/leave, and as a publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// User id (the token's `sub`).
    #[serde(rename = "u")]
    pub user: String,
    /// Connection id.
    #[serde(rename = "c")]
    pub client: String,
    /// The connection token's `info` claim.
    #[serde(rename = "ci", default, skip_serializing_if = "Option::is_none")]
    pub conn_info: Option<Payload>,
    /// Channel-specific info.
    #[serde(rename = "hi", default, skip_serializing_if = "Option::is_none")]
    pub chan_info: Option<Payload>,
}

/// One publication in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The payload.
    pub data: Payload,
    /// The publisher, for client publishes.
    pub info: Option<ClientInfo>,
    /// Position in the channel's stream (0 when not kept in history).
    pub offset: u64,
    /// Application tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// When the engine accepted it (set on the live fan-out only, for the
    /// publish-to-deliver latency; never sent to clients nor kept in
    /// history). With Redis it is Redis's clock, so the nodes' clock skew
    /// shows in the measure.
    pub published_at: Option<SystemTime>,
}

impl Publication {
    /// A publication of `data` with no publisher or tags (its offset is
    /// given by the engine).
    pub fn of(data: Payload) -> Self {
        Self {
            data,
            info: None,
            offset: 0,
            tags: None,
            published_at: None,
        }
    }

    /// How long ago it was accepted, when known (`None` for a time in the
    /// future: clocks that disagree).
    pub fn age(&self) -> Option<Duration> {
        self.published_at
            .and_then(|at| SystemTime::now().duration_since(at).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_info_round_trips_with_binary_payloads() {
        let info = ClientInfo {
            user: "alice".into(),
            client: "c1".into(),
            conn_info: Some(Payload::from_bytes(vec![0u8, 255, b'{'])),
            chan_info: None,
        };
        let text = serde_json::to_string(&info).unwrap();
        assert_eq!(serde_json::from_str::<ClientInfo>(&text).unwrap(), info);
    }
}
