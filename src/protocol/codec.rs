//! The codec boundary: bytes on the socket ⇄ commands, replies and pushes.
//!
//! Only the JSON variant exists today. A frame carries one or more messages
//! joined by `\n`; the Protobuf variant (length-prefixed binary) will be a second
//! [`Codec`] variant, chosen at upgrade time, with the same methods.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use super::command::{Command, WireCommand};
use super::push::{Push, PushBody, PushEnvelope};
use super::reply::Reply;

/// Why a frame could not be decoded. Every variant closes the connection with 3501.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The frame held no command.
    #[error("empty frame")]
    Empty,
    /// A line was not a JSON command.
    #[error("malformed command: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A command had an id but no known method.
    #[error("unknown command")]
    UnknownCommand,
    /// A binary frame arrived on a JSON connection.
    #[error("binary frame on a JSON connection")]
    Binary,
}

/// Why a message could not be encoded (a bug, or a payload the variant
/// cannot carry).
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Serialisation failed.
    #[error("encode: {0}")]
    Json(#[from] serde_json::Error),
    /// A payload that is not JSON text on the JSON variant.
    #[error(transparent)]
    Payload(#[from] super::convert::NotJson),
}

/// The wire encoding of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// Newline-separated JSON in text frames.
    #[default]
    Json,
}

impl Codec {
    /// Decodes every command in a text frame, in order.
    pub fn decode_frame(&self, frame: &str) -> Result<Vec<Command>, DecodeError> {
        let mut commands = Vec::new();
        for line in frame.split('\n') {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let wire: WireCommand = serde_json::from_str(line)?;
            commands.push(wire.into_command().ok_or(DecodeError::UnknownCommand)?);
        }
        if commands.is_empty() {
            return Err(DecodeError::Empty);
        }
        Ok(commands)
    }

    /// Encodes a reply as one message.
    pub fn encode_reply(&self, reply: &Reply) -> Result<Bytes, EncodeError> {
        encode(reply)
    }

    /// Encodes a push as one message.
    pub fn encode_push(&self, push: &PushEnvelope<'_>) -> Result<Bytes, EncodeError> {
        encode(push)
    }

    /// Every codec, in [`Codec::index`] order.
    pub const ALL: [Codec; 1] = [Codec::Json];

    /// A dense index per codec (for per-codec caches).
    pub fn index(self) -> usize {
        match self {
            Codec::Json => 0,
        }
    }

    /// A `pub` push of an engine publication in `channel`.
    pub fn encode_publication(
        &self,
        channel: &str,
        publication: &crate::engine::Publication,
    ) -> Result<Bytes, EncodeError> {
        let publication = super::reply::Publication::try_from(publication)?;
        self.encode_push(&PushEnvelope {
            push: Push {
                channel: Some(channel),
                body: PushBody::Pub(&publication),
            },
        })
    }

    /// A `join` (or `leave`) push of an engine client in `channel`.
    pub fn encode_presence(
        &self,
        channel: &str,
        info: &crate::engine::ClientInfo,
        join: bool,
    ) -> Result<Bytes, EncodeError> {
        let info = super::reply::ClientInfo::try_from(info)?;
        let body = if join {
            PushBody::Join { info: &info }
        } else {
            PushBody::Leave { info: &info }
        };
        self.encode_push(&PushEnvelope {
            push: Push {
                channel: Some(channel),
                body,
            },
        })
    }

    /// The server ping message.
    pub fn ping(&self) -> Bytes {
        Bytes::from_static(b"{}")
    }

    /// Joins messages into one frame's text.
    pub fn join_frame(&self, messages: &[Bytes]) -> Bytes {
        if let [one] = messages {
            return one.clone();
        }
        let len = messages.iter().map(|m| m.len() + 1).sum();
        let mut buf = BytesMut::with_capacity(len);
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                buf.put_u8(b'\n');
            }
            buf.put_slice(m);
        }
        buf.freeze()
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Bytes, EncodeError> {
    Ok(Bytes::from(serde_json::to_vec(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::command::Method;
    use crate::protocol::payload::Json;
    use crate::protocol::push::{Push, PushBody};
    use crate::protocol::reply::{Empty, Publication, ReplyBody};

    #[test]
    fn decodes_a_batch_in_order() {
        let cmds = Codec::Json
            .decode_frame("{\"id\":1,\"connect\":{\"token\":\"t\",\"name\":\"js\"}}\n{\"id\":2,\"subscribe\":{\"channel\":\"session:x\",\"flag\":1}}\n")
            .unwrap();
        assert_eq!(cmds.len(), 2);
        assert!(matches!(&cmds[0].method, Method::Connect(c) if c.token == "t"));
        assert!(matches!(&cmds[1].method, Method::Subscribe(s) if s.channel == "session:x"));
    }

    #[test]
    fn empty_command_is_a_pong() {
        let cmds = Codec::Json.decode_frame("{}").unwrap();
        assert_eq!(cmds[0].method, Method::Pong);
    }

    #[test]
    fn rejects_bad_frames() {
        assert!(matches!(
            Codec::Json.decode_frame(""),
            Err(DecodeError::Empty)
        ));
        assert!(matches!(
            Codec::Json.decode_frame("{nope"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            Codec::Json.decode_frame("{\"id\":3,\"frobnicate\":{}}"),
            Err(DecodeError::UnknownCommand)
        ));
    }

    #[test]
    fn encodes_empty_results_and_pushes() {
        let r = Reply {
            id: 5,
            body: ReplyBody::Publish(Empty {}),
        };
        assert_eq!(
            &Codec::Json.encode_reply(&r).unwrap()[..],
            br#"{"id":5,"publish":{}}"#
        );
        let p = Publication {
            data: Json::from_text("{\"t\":1}").unwrap(),
            info: None,
            offset: 7,
            tags: None,
        };
        let push = PushEnvelope {
            push: Push {
                channel: Some("session:a"),
                body: PushBody::Pub(&p),
            },
        };
        assert_eq!(
            &Codec::Json.encode_push(&push).unwrap()[..],
            br#"{"push":{"channel":"session:a","pub":{"data":{"t":1},"offset":7}}}"#
        );
    }

    #[test]
    fn joins_with_newlines() {
        let f =
            Codec::Json.join_frame(&[Bytes::from_static(b"{}"), Bytes::from_static(b"{\"id\":1}")]);
        assert_eq!(&f[..], b"{}\n{\"id\":1}");
    }
}
