//! Messages on a channel's fan-out (pub/sub) channel. Binary-safe: the
//! payload travels as its bytes, whatever they are, after a short text header.
//!
//! ```text
//! P\n<epoch>\n<offset>\n<time>\n<info length>\n<tags length>\n<info><tags><data>
//!                               publication (built in Lua); <time>: Redis's
//!                               clock in microseconds since the Unix epoch
//! p\n<epoch>\n<offset>\n<info length>\n<tags length>\n<info><tags><data>
//!                               the same without <time> (earlier versions)
//! j\n<ClientInfo JSON>          join
//! l\n<ClientInfo JSON>          leave
//! u\n<user id>                  end every subscription of that user
//! d\n<0|1>\n<user id>           (node-wide channel) close every connection of
//!                               that user; 1 = they may reconnect at once
//! ```
//!
//! `info` (a ClientInfo) and `tags` are JSON, empty when absent; offset 0 is a
//! publication not kept in history.

use std::collections::BTreeMap;

use crate::engine::{ClientInfo, EngineError, Payload, Publication};

/// A decoded fan-out message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Message {
    /// A publication and its stream's epoch.
    Publication {
        /// The stream's epoch.
        epoch: String,
        /// The publication (offset 0: not in history).
        publication: Publication,
    },
    /// A client joined.
    Join(ClientInfo),
    /// A client left.
    Leave(ClientInfo),
    /// Every subscription of this user must end.
    Unsubscribe(String),
    /// Every connection of this user must close.
    DisconnectUser {
        /// The user.
        user: String,
        /// Whether the clients may reconnect at once.
        reconnect: bool,
    },
}

/// Why a message could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("undecodable fan-out message: {0}")]
pub(super) struct WireError(String);

fn bad(why: impl std::fmt::Display) -> WireError {
    WireError(why.to_string())
}

/// Encodes a join, leave or unsubscribe (publications are built in Lua).
pub(super) fn encode_control(message: &Message) -> Result<Vec<u8>, EngineError> {
    let json = |info: &ClientInfo| {
        serde_json::to_vec(info).map_err(|e| EngineError::Internal(e.to_string()))
    };
    let (kind, body) = match message {
        Message::Join(info) => (b'j', json(info)?),
        Message::Leave(info) => (b'l', json(info)?),
        Message::Unsubscribe(user) => (b'u', user.as_bytes().to_vec()),
        Message::DisconnectUser { user, reconnect } => {
            let mut body = vec![if *reconnect { b'1' } else { b'0' }, b'\n'];
            body.extend_from_slice(user.as_bytes());
            (b'd', body)
        }
        Message::Publication { .. } => {
            return Err(EngineError::Internal(
                "publications are encoded by the scripts".into(),
            ))
        }
    };
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(kind);
    out.push(b'\n');
    out.extend_from_slice(&body);
    Ok(out)
}

/// Splits off the text up to the next `\n`.
fn field<'a>(rest: &mut &'a [u8]) -> Result<&'a str, WireError> {
    let end = rest
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| bad("truncated header"))?;
    let text = std::str::from_utf8(&rest[..end]).map_err(bad)?;
    *rest = &rest[end + 1..];
    Ok(text)
}

fn number(text: &str) -> Result<usize, WireError> {
    text.parse()
        .map_err(|_| bad(format!("not a number: {text:?}")))
}

/// Decodes one fan-out message.
pub(super) fn decode(bytes: &[u8]) -> Result<Message, WireError> {
    let mut rest = bytes;
    let kind = field(&mut rest)?;
    let info = |json: &[u8]| serde_json::from_slice::<ClientInfo>(json).map_err(bad);
    match kind {
        "p" | "P" => {
            let epoch = field(&mut rest)?.to_owned();
            let offset = field(&mut rest)?
                .parse::<u64>()
                .map_err(|_| bad("bad offset"))?;
            let published_at = if kind == "P" {
                let micros = field(&mut rest)?
                    .parse::<u64>()
                    .map_err(|_| bad("bad time"))?;
                Some(std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros))
            } else {
                None
            };
            let info_len = number(field(&mut rest)?)?;
            let tags_len = number(field(&mut rest)?)?;
            if rest.len() < info_len.saturating_add(tags_len) {
                return Err(bad("lengths beyond the message"));
            }
            let (info_bytes, rest) = rest.split_at(info_len);
            let (tag_bytes, data) = rest.split_at(tags_len);
            let info = (!info_bytes.is_empty())
                .then(|| info(info_bytes))
                .transpose()?;
            let tags: Option<BTreeMap<String, String>> = (!tag_bytes.is_empty())
                .then(|| serde_json::from_slice(tag_bytes).map_err(bad))
                .transpose()?;
            Ok(Message::Publication {
                epoch,
                publication: Publication {
                    data: Payload::from_bytes(data.to_vec()),
                    info,
                    offset,
                    tags,
                    published_at,
                },
            })
        }
        "j" => Ok(Message::Join(info(rest)?)),
        "l" => Ok(Message::Leave(info(rest)?)),
        "u" => Ok(Message::Unsubscribe(
            std::str::from_utf8(rest).map_err(bad)?.to_owned(),
        )),
        "d" => {
            let reconnect = field(&mut rest)? == "1";
            let user = std::str::from_utf8(rest).map_err(bad)?.to_owned();
            Ok(Message::DisconnectUser { user, reconnect })
        }
        other => Err(bad(format!("unknown kind {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ClientInfo {
        ClientInfo {
            user: "alice".into(),
            client: "c1".into(),
            conn_info: Some(Payload::from_bytes(&b"{\"n\":1}"[..])),
            chan_info: None,
        }
    }

    #[test]
    fn publications_carry_any_bytes() {
        let info_json = serde_json::to_vec(&info()).unwrap();
        let tags = br#"{"k":"v"}"#;
        let mut raw = format!("p\nEp0ch\n42\n{}\n{}\n", info_json.len(), tags.len()).into_bytes();
        raw.extend_from_slice(&info_json);
        raw.extend_from_slice(tags);
        raw.extend_from_slice(&[0, 10, 255, b'\n']);
        let Message::Publication { epoch, publication } = decode(&raw).unwrap() else {
            panic!("a publication");
        };
        assert_eq!(epoch, "Ep0ch");
        assert_eq!(publication.offset, 42);
        assert_eq!(publication.data.as_bytes(), &[0, 10, 255, b'\n']);
        assert_eq!(publication.info, Some(info()));
        assert_eq!(publication.tags.unwrap()["k"], "v");
        assert!(decode(b"p\ne\n1\n0\n0\n{}").is_ok());
        let Message::Publication { publication, .. } =
            decode(b"P\ne\n1\n1700000000000001\n0\n0\n{}").unwrap()
        else {
            panic!("a publication");
        };
        assert_eq!(
            publication.published_at,
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_000_001))
        );
        assert_eq!(publication.data.as_bytes(), b"{}");
    }

    #[test]
    fn controls_round_trip_and_garbage_is_refused() {
        for message in [
            Message::Join(info()),
            Message::Leave(info()),
            Message::Unsubscribe("bob".into()),
            Message::DisconnectUser {
                user: "bob".into(),
                reconnect: true,
            },
        ] {
            assert_eq!(decode(&encode_control(&message).unwrap()).unwrap(), message);
        }
        for garbage in [
            &b""[..],
            b"p\ne",
            b"p\ne\nx\n0\n0\n",
            b"p\ne\n1\n9\n0\n{}",
            b"z\n",
            b"j\n{",
        ] {
            assert!(decode(garbage).is_err(), "{garbage:?}");
        }
    }
}
