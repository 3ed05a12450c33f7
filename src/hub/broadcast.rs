//! One publication on its way to a channel's local subscribers, encoded at
//! most once per codec: the first subscriber speaking a codec pays for the
//! encoding, every other one shares the same bytes.

use std::sync::OnceLock;

use bytes::Bytes;

use crate::engine::{ClientInfo, Publication};
use crate::protocol::Codec;

/// What is broadcast.
pub enum Item<'a> {
    /// A publication.
    Publication(&'a Publication),
    /// A client joined (`true`) or left.
    Presence(&'a ClientInfo, bool),
}

/// A broadcast with its lazily encoded frames.
pub struct Broadcast<'a> {
    channel: &'a str,
    item: Item<'a>,
    frames: [OnceLock<Option<Bytes>>; Codec::ALL.len()],
}

impl<'a> Broadcast<'a> {
    /// A broadcast of `item` in `channel`; nothing is encoded yet.
    pub fn new(channel: &'a str, item: Item<'a>) -> Self {
        Self {
            channel,
            item,
            frames: Default::default(),
        }
    }

    /// The publication, when this broadcasts one.
    pub fn publication(&self) -> Option<&'a Publication> {
        match self.item {
            Item::Publication(p) => Some(p),
            Item::Presence(..) => None,
        }
    }

    /// The push for `codec`, encoded on first use; `None` when it cannot be
    /// encoded (logged once).
    pub fn frame(&self, codec: Codec) -> Option<Bytes> {
        self.frames[codec.index()]
            .get_or_init(|| {
                let encoded = match self.item {
                    Item::Publication(p) => codec.encode_publication(self.channel, p),
                    Item::Presence(info, join) => codec.encode_presence(self.channel, info, join),
                };
                encoded
                    .map_err(|err| {
                        tracing::error!(channel = self.channel, error = %err, "could not encode a push")
                    })
                    .ok()
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Payload;

    #[test]
    fn a_frame_is_encoded_once_and_shared() {
        let publication = Publication {
            offset: 7,
            ..Publication::of(Payload::from_bytes(&b"{\"t\":1}"[..]))
        };
        let broadcast = Broadcast::new("session:a", Item::Publication(&publication));
        let first = broadcast.frame(Codec::Json).unwrap();
        let second = broadcast.frame(Codec::Json).unwrap();
        assert_eq!(
            &first[..],
            br#"{"push":{"channel":"session:a","pub":{"data":{"t":1},"offset":7}}}"#
        );
        assert_eq!(
            first.as_ptr(),
            second.as_ptr(),
            "the same bytes, not a copy"
        );
    }

    #[test]
    fn each_codec_gets_its_own_frame_once() {
        let publication = Publication {
            offset: 7,
            ..Publication::of(Payload::from_bytes(&b"{\"t\":1}"[..]))
        };
        let broadcast = Broadcast::new("session:a", Item::Publication(&publication));
        let json = broadcast.frame(Codec::Json).unwrap();
        let protobuf = broadcast.frame(Codec::Protobuf).unwrap();
        assert_ne!(json, protobuf);
        assert_eq!(
            protobuf,
            Codec::Protobuf
                .encode_publication("session:a", &publication)
                .unwrap()
        );
        let again = broadcast.frame(Codec::Protobuf).unwrap();
        assert_eq!(
            protobuf.as_ptr(),
            again.as_ptr(),
            "the same bytes, not a copy"
        );
        assert_eq!(
            broadcast.frame(Codec::Json).unwrap().as_ptr(),
            json.as_ptr()
        );
    }
}
