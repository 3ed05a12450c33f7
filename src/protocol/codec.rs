//! The codec boundary: bytes on the socket ⇄ commands, replies and pushes.
//!
//! Two variants, chosen at upgrade time and fixed for the connection:
//! JSON (messages joined by `\n` in text frames) and Protobuf (varint
//! length-delimited messages in binary frames, see [`super::protobuf`]). Both
//! decode to the same [`Command`]s and encode the same [`Reply`]s and pushes,
//! so everything past this file is codec-neutral.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use super::command::{Command, WireCommand};
use super::protobuf;
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
    /// A frame of the other variant's type (binary on JSON, text on Protobuf).
    #[error("{0}")]
    WrongFrame(&'static str),
    /// A length prefix was truncated or longer than ten bytes.
    #[error("truncated or overlong length prefix")]
    Varint,
    /// A message declared a length above the limit (nothing was allocated for it).
    #[error("declared message length {declared} above the limit of {limit} bytes")]
    TooLong {
        /// The declared length.
        declared: u64,
        /// The limit.
        limit: usize,
    },
    /// A message declared a length beyond the end of the frame.
    #[error("declared message length {declared} beyond the {remaining} bytes left in the frame")]
    BeyondFrame {
        /// The declared length.
        declared: u64,
        /// Bytes left in the frame.
        remaining: usize,
    },
    /// A message was not a valid Protobuf `Command`.
    #[error("malformed protobuf command: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A payload field was not JSON text (Tandem's payloads are JSON on both variants).
    #[error("{0} is not JSON text")]
    NotJson(&'static str),
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
    /// Protobuf encoding failed (only on a full buffer, which cannot happen).
    #[error("encode: {0}")]
    Protobuf(#[from] prost::EncodeError),
}

/// The wire encoding of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// Newline-separated JSON in text frames.
    #[default]
    Json,
    /// Varint length-delimited Protobuf messages in binary frames.
    Protobuf,
}

impl Codec {
    /// Decodes every command in a text frame, in order.
    pub fn decode_text(&self, frame: &str) -> Result<Vec<Command>, DecodeError> {
        if *self == Codec::Protobuf {
            return Err(DecodeError::WrongFrame(
                "text frame on a Protobuf connection",
            ));
        }
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

    /// Decodes every command in a binary frame, in order; `limit` bounds the
    /// length each message may declare.
    pub fn decode_binary(&self, frame: &Bytes, limit: usize) -> Result<Vec<Command>, DecodeError> {
        match self {
            Codec::Json => Err(DecodeError::WrongFrame("binary frame on a JSON connection")),
            Codec::Protobuf => protobuf::decode_frame(frame, limit),
        }
    }

    /// Encodes a reply as one message.
    pub fn encode_reply(&self, reply: &Reply) -> Result<Bytes, EncodeError> {
        match self {
            Codec::Json => encode(reply),
            Codec::Protobuf => protobuf::encode_reply(reply),
        }
    }

    /// Encodes a push as one message.
    pub fn encode_push(&self, push: &PushEnvelope<'_>) -> Result<Bytes, EncodeError> {
        match self {
            Codec::Json => encode(push),
            Codec::Protobuf => protobuf::encode_push(push),
        }
    }

    /// Every codec, in [`Codec::index`] order.
    pub const ALL: [Codec; 2] = [Codec::Json, Codec::Protobuf];

    /// A dense index per codec (for per-codec caches).
    pub fn index(self) -> usize {
        match self {
            Codec::Json => 0,
            Codec::Protobuf => 1,
        }
    }

    /// The WebSocket subprotocol that names this codec.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Codec::Json => "centrifuge-json",
            Codec::Protobuf => "centrifuge-protobuf",
        }
    }

    /// Whether frames are binary (Protobuf) rather than text (JSON).
    pub fn is_binary(self) -> bool {
        self == Codec::Protobuf
    }

    /// A `pub` push of an engine publication in `channel`.
    pub fn encode_publication(
        &self,
        channel: &str,
        publication: &crate::engine::Publication,
    ) -> Result<Bytes, EncodeError> {
        if *self == Codec::Protobuf {
            return protobuf::encode_publication(channel, publication);
        }
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
        if *self == Codec::Protobuf {
            return protobuf::encode_presence(channel, info, join);
        }
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
        match self {
            Codec::Json => Bytes::from_static(b"{}"),
            Codec::Protobuf => Bytes::from_static(protobuf::PING),
        }
    }

    /// Joins messages into one frame: lines for JSON, a plain concatenation
    /// for Protobuf (each message carries its own length).
    pub fn join_frame(&self, messages: &[Bytes]) -> Bytes {
        if let [one] = messages {
            return one.clone();
        }
        let separator = usize::from(*self == Codec::Json);
        let len = messages.iter().map(|m| m.len() + separator).sum();
        let mut buf = BytesMut::with_capacity(len);
        for (i, m) in messages.iter().enumerate() {
            if i > 0 && separator == 1 {
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
            .decode_text("{\"id\":1,\"connect\":{\"token\":\"t\",\"name\":\"js\"}}\n{\"id\":2,\"subscribe\":{\"channel\":\"session:x\",\"flag\":1}}\n")
            .unwrap();
        assert_eq!(cmds.len(), 2);
        assert!(matches!(&cmds[0].method, Method::Connect(c) if c.token == "t"));
        assert!(matches!(&cmds[1].method, Method::Subscribe(s) if s.channel == "session:x"));
    }

    #[test]
    fn decodes_the_subscribe_options_it_must_refuse() {
        let cmds = Codec::Json
            .decode_text(r#"{"id":2,"subscribe":{"channel":"x","flag":3,"delta":"fossil","tf":{"op":"and"},"type":1,"data":{"a":1}}}"#)
            .unwrap();
        let Method::Subscribe(s) = &cmds[0].method else {
            panic!("not a subscribe: {cmds:?}");
        };
        assert_eq!(
            (s.flag, s.delta.as_str(), s.tags_filter, s.kind),
            (3, "fossil", true, 1)
        );
        assert!(s.data.is_some());
        let cmds = Codec::Json
            .decode_text(r#"{"id":2,"subscribe":{"channel":"x","tf":null}}"#)
            .unwrap();
        assert!(matches!(&cmds[0].method, Method::Subscribe(s) if !s.tags_filter));
    }

    #[test]
    fn empty_command_is_a_pong() {
        let cmds = Codec::Json.decode_text("{}").unwrap();
        assert_eq!(cmds[0].method, Method::Pong);
    }

    #[test]
    fn rejects_bad_frames() {
        assert!(matches!(
            Codec::Json.decode_text(""),
            Err(DecodeError::Empty)
        ));
        assert!(matches!(
            Codec::Json.decode_text("{nope"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            Codec::Json.decode_text("{\"id\":3,\"frobnicate\":{}}"),
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
