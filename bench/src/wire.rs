//! The client side of the wire protocol: encoding commands and classifying
//! what the server sends, with a fast path for the lines that dominate a
//! benchmark (publications, join/leave, pings) and a full JSON parse only for
//! replies.
//!
//! [`Codec`] is the protocol variant. Only the Centrifugo JSON variant exists
//! today; the Protobuf one (binary frames of varint-delimited messages) will be
//! another variant with the same methods.

use std::sync::LazyLock;

use clap::ValueEnum;
use memchr::memmem;
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::Message;

/// The metadata key carrying a message's sequence number (per publisher).
pub const SEQ_KEY: &str = "bseq";
/// The metadata key carrying the publisher's timestamp (µs since the epoch).
pub const TS_KEY: &str = "bts";

/// The protocol variant a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// Centrifugo JSON: text frames, newline-separated commands and replies.
    Json,
}

/// One line (a reply or a push) received from Tandem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A server ping (`{}`): answer with [`Codec::pong`].
    Ping,
    /// A publication at `offset`, with the publisher's timestamp when it is
    /// one of ours.
    Pub {
        /// Stream offset.
        offset: u64,
        /// Publisher timestamp, µs since the epoch.
        ts: Option<u64>,
        /// Length of the line, bytes.
        len: usize,
    },
    /// A join push.
    Join,
    /// A leave push.
    Leave,
    /// Another push (unsubscribe, disconnect, ...).
    OtherPush(&'a str),
    /// A reply to command `id` (the whole line, for a JSON parse).
    Reply {
        /// Command id.
        id: u32,
        /// The line.
        line: &'a str,
    },
    /// Something else.
    Unknown(&'a str),
}

impl Codec {
    /// The WebSocket subprotocol to ask for.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Codec::Json => "centrifuge-json",
        }
    }

    /// `connect` (id 1), followed in the same frame by `subscribe` (id 2) to
    /// `channel` when given, recovering from `(offset, epoch)` when given:
    /// what the official SDKs send on open.
    pub fn connect(
        self,
        token: &str,
        channel: Option<&str>,
        recover: Option<(u64, &str)>,
    ) -> Message {
        match self {
            Codec::Json => {
                let mut text = serde_json::json!({"id": 1, "connect": {"token": token, "name": "tandem-bench"}})
                    .to_string();
                if let Some(channel) = channel {
                    text.push('\n');
                    text.push_str(&self.subscribe_line(2, channel, recover));
                }
                Message::text(text)
            }
        }
    }

    fn subscribe_line(self, id: u32, channel: &str, recover: Option<(u64, &str)>) -> String {
        let mut sub = serde_json::json!({"channel": channel});
        if let Some((offset, epoch)) = recover {
            sub["recover"] = true.into();
            sub["offset"] = offset.into();
            sub["epoch"] = epoch.into();
        }
        serde_json::json!({"id": id, "subscribe": sub}).to_string()
    }

    /// An `rpc` command whose `data` is the JSON text `data`.
    pub fn rpc(self, id: u32, method: &str, data: &str) -> Message {
        match self {
            Codec::Json => Message::text(format!(
                r#"{{"id":{id},"rpc":{{"method":"{method}","data":{data}}}}}"#
            )),
        }
    }

    /// The answer to a server ping.
    pub fn pong(self) -> Message {
        match self {
            Codec::Json => Message::text("{}"),
        }
    }

    /// The lines of a received frame (a JSON text frame may carry several).
    pub fn lines(self, msg: &Message) -> impl Iterator<Item = Line<'_>> {
        let text = match (self, msg) {
            (Codec::Json, Message::Text(t)) => t.as_str(),
            _ => "",
        };
        text.split('\n')
            .filter(|l| !l.trim().is_empty())
            .map(classify)
    }
}

/// Classifies one JSON line without parsing it: the prefix tells pings,
/// replies and pushes apart; a publication's offset is the last `"offset":`
/// of the line (the Publication's own field comes after its data), its
/// timestamp our metadata key.
pub fn classify(line: &str) -> Line<'_> {
    let line = line.trim();
    if line == "{}" {
        return Line::Ping;
    }
    if let Some(rest) = line.strip_prefix(r#"{"id":"#) {
        return match leading_number(rest) {
            Some(id) => Line::Reply {
                id: u32::try_from(id).unwrap_or(u32::MAX),
                line,
            },
            None => Line::Unknown(line),
        };
    }
    let Some(rest) = line.strip_prefix(r#"{"push":{"#) else {
        return Line::Unknown(line);
    };
    // Skip the channel (channel names need no escaping).
    let body = match rest.strip_prefix(r#""channel":""#) {
        Some(after) => match after.find('"') {
            Some(end) => after[end + 1..].trim_start_matches(','),
            None => return Line::Unknown(line),
        },
        None => rest,
    };
    if body.starts_with(r#""pub":"#) {
        let offset = last_offset(line).unwrap_or(0);
        let ts = TS.find_in(line);
        Line::Pub {
            offset,
            ts,
            len: line.len(),
        }
    } else if body.starts_with(r#""join":"#) {
        Line::Join
    } else if body.starts_with(r#""leave":"#) {
        Line::Leave
    } else {
        Line::OtherPush(line)
    }
}

fn leading_number(s: &str) -> Option<u64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    s[..digits].parse().ok()
}

/// A searcher for `"key":`, built once (the hot keys are statics).
pub struct Key(memmem::Finder<'static>);

impl Key {
    fn new(key: &str) -> Self {
        Self(memmem::Finder::new(format!("\"{key}\":").as_bytes()).into_owned())
    }

    /// The number after the first `"key":` in `hay`.
    pub fn find_in(&self, hay: &str) -> Option<u64> {
        let at = self.0.find(hay.as_bytes())?;
        leading_number(&hay[at + self.0.needle().len()..])
    }
}

/// `"bseq":`.
pub static SEQ: LazyLock<Key> = LazyLock::new(|| Key::new(SEQ_KEY));
/// `"bts":`.
pub static TS: LazyLock<Key> = LazyLock::new(|| Key::new(TS_KEY));
/// `"offset":`.
pub static OFFSET: LazyLock<Key> = LazyLock::new(|| Key::new("offset"));

/// The number after the last `"offset":` of a line.
fn last_offset(hay: &str) -> Option<u64> {
    static LAST: LazyLock<memmem::FinderRev<'static>> =
        LazyLock::new(|| memmem::FinderRev::new(br#""offset":"#));
    let at = LAST.rfind(hay.as_bytes())?;
    leading_number(&hay[at + LAST.needle().len()..])
}

/// Microseconds since the Unix epoch (the clock publishers stamp messages with).
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_tandem_lines() {
        assert_eq!(classify("{}"), Line::Ping);
        let pub_line = r#"{"push":{"channel":"session:0190","pub":{"data":{"offset":7,"type":"chat.message","actor":"u","at":"t","data":{"message":{"content":"xx","metadata":{"bseq":3,"bts":1700000000000123}}}},"offset":7}}}"#;
        assert_eq!(
            classify(pub_line),
            Line::Pub {
                offset: 7,
                ts: Some(1_700_000_000_000_123),
                len: pub_line.len(),
            }
        );
        assert_eq!(
            classify(
                r#"{"push":{"channel":"session:1","join":{"info":{"user":"a","client":"c"}}}}"#
            ),
            Line::Join
        );
        assert_eq!(
            classify(
                r#"{"push":{"channel":"session:1","leave":{"info":{"user":"a","client":"c"}}}}"#
            ),
            Line::Leave
        );
        assert!(matches!(
            classify(r#"{"push":{"channel":"x","unsubscribe":{"code":2000}}}"#),
            Line::OtherPush(_)
        ));
        assert!(matches!(
            classify(r#"{"id":12,"rpc":{"data":{"offset":3}}}"#),
            Line::Reply { id: 12, .. }
        ));
        assert!(matches!(classify("nonsense"), Line::Unknown(_)));
    }

    #[test]
    fn frames_split_into_lines() {
        let msg = Message::text("{}\n{\"id\":1,\"connect\":{}}\n");
        let lines: Vec<Line> = Codec::Json.lines(&msg).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], Line::Ping);
    }

    #[test]
    fn commands() {
        let msg = Codec::Json.connect("tok", Some("session:1"), Some((5, "ep")));
        let text = msg.to_text().unwrap();
        let lines: Vec<serde_json::Value> = text
            .split('\n')
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["connect"]["token"], "tok");
        assert_eq!(lines[1]["id"], 2);
        assert_eq!(lines[1]["subscribe"]["recover"], true);
        assert_eq!(lines[1]["subscribe"]["offset"], 5);
        let rpc = Codec::Json.rpc(9, "chat.send", r#"{"a":1}"#);
        let v: serde_json::Value = serde_json::from_str(rpc.to_text().unwrap()).unwrap();
        assert_eq!(v["rpc"]["data"]["a"], 1);
        assert_eq!(SEQ.find_in(r#"{"bseq":42,"x":1}"#), Some(42));
        assert_eq!(OFFSET.find_in(r#"{"a":{"offset":7}}"#), Some(7));
    }
}
