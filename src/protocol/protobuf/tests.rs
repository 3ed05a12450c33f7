//! Round trips of every command, reply and push through the Protobuf
//! variant, batches, the ping/pong, and every framing error.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use prost::Message as _;

use super::{delimited, wire, PING};
use crate::engine;
use crate::protocol::codec::DecodeError;
use crate::protocol::codes::ProtocolError;
use crate::protocol::command::{
    ChannelRequest, Command, ConnectRequest, HistoryRequest, Method, PublishRequest,
    RefreshRequest, RpcRequest, SendRequest, StreamPositionRequest, SubscribeRequest,
};
use crate::protocol::push::{Push, PushBody, PushEnvelope};
use crate::protocol::reply::{
    ClientInfo, ConnectResult, Empty, HistoryResult, PresenceResult, PresenceStatsResult,
    Publication, Reply, ReplyBody, RpcResult, SubscribeResult,
};
use crate::protocol::{Codec, Json};

const LIMIT: usize = 65_536;

fn json(text: &str) -> Json {
    Json::from_text(text).unwrap()
}

fn frame(commands: &[wire::Command]) -> Bytes {
    let mut buf = BytesMut::new();
    for c in commands {
        buf.extend_from_slice(&delimited(c).unwrap());
    }
    buf.freeze()
}

fn decode_one(command: wire::Command) -> Command {
    let mut commands = Codec::Protobuf
        .decode_binary(&frame(&[command]), LIMIT)
        .unwrap();
    assert_eq!(commands.len(), 1);
    commands.remove(0)
}

fn reply_of(bytes: &Bytes) -> wire::Reply {
    let mut buf = bytes.clone();
    let reply = wire::Reply::decode_length_delimited(&mut buf).unwrap();
    assert!(buf.is_empty(), "one message, nothing after it");
    reply
}

fn encoded(body: ReplyBody) -> wire::Reply {
    let reply = reply_of(
        &Codec::Protobuf
            .encode_reply(&Reply { id: 7, body })
            .unwrap(),
    );
    assert_eq!(reply.id, 7);
    reply
}

fn info() -> ClientInfo {
    ClientInfo {
        user: "alice".into(),
        client: "c1".into(),
        conn_info: Some(json(r#"{"name":"Alice"}"#)),
        chan_info: None,
    }
}

fn wire_info() -> wire::ClientInfo {
    wire::ClientInfo {
        user: "alice".into(),
        client: "c1".into(),
        conn_info: Bytes::from_static(br#"{"name":"Alice"}"#),
        chan_info: Bytes::new(),
    }
}

#[test]
fn decodes_every_command() {
    let cases: Vec<(wire::Command, Method)> = vec![
        (
            wire::Command {
                connect: Some(wire::ConnectRequest {
                    token: "jwt".into(),
                    data: Bytes::from_static(b"{\"a\":1}"),
                    name: "dart".into(),
                    version: "0.16.0".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Method::Connect(ConnectRequest {
                token: "jwt".into(),
                data: Some(json("{\"a\":1}")),
                name: "dart".into(),
                version: "0.16.0".into(),
            }),
        ),
        (
            wire::Command {
                subscribe: Some(wire::SubscribeRequest {
                    channel: "session:a".into(),
                    recover: true,
                    epoch: "ep".into(),
                    offset: 41,
                    positioned: true,
                    recoverable: true,
                    join_leave: true,
                    flag: 3,
                    delta: "fossil".into(),
                    tf: Some(wire::FilterNode::default()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Method::Subscribe(SubscribeRequest {
                channel: "session:a".into(),
                recover: true,
                epoch: "ep".into(),
                offset: 41,
                positioned: true,
                recoverable: true,
                join_leave: true,
                flag: 3,
                delta: "fossil".into(),
                tags_filter: true,
                ..Default::default()
            }),
        ),
        (
            wire::Command {
                unsubscribe: Some(wire::UnsubscribeRequest {
                    channel: "session:a".into(),
                }),
                ..Default::default()
            },
            Method::Unsubscribe(ChannelRequest {
                channel: "session:a".into(),
            }),
        ),
        (
            wire::Command {
                publish: Some(wire::PublishRequest {
                    channel: "session:a".into(),
                    data: Bytes::from_static(b"{\"t\":\"hi\"}"),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Method::Publish(PublishRequest {
                channel: "session:a".into(),
                data: json("{\"t\":\"hi\"}"),
            }),
        ),
        (
            wire::Command {
                presence: Some(wire::PresenceRequest {
                    channel: "session:a".into(),
                }),
                ..Default::default()
            },
            Method::Presence(ChannelRequest {
                channel: "session:a".into(),
            }),
        ),
        (
            wire::Command {
                presence_stats: Some(wire::PresenceStatsRequest {
                    channel: "session:a".into(),
                }),
                ..Default::default()
            },
            Method::PresenceStats(ChannelRequest {
                channel: "session:a".into(),
            }),
        ),
        (
            wire::Command {
                history: Some(wire::HistoryRequest {
                    channel: "session:a".into(),
                    limit: -1,
                    since: Some(wire::StreamPosition {
                        offset: 5,
                        epoch: "ep".into(),
                    }),
                    reverse: true,
                }),
                ..Default::default()
            },
            Method::History(HistoryRequest {
                channel: "session:a".into(),
                limit: -1,
                since: Some(StreamPositionRequest {
                    offset: 5,
                    epoch: "ep".into(),
                }),
                reverse: true,
            }),
        ),
        (
            wire::Command {
                ping: Some(wire::PingRequest {}),
                ..Default::default()
            },
            Method::Ping,
        ),
        (
            wire::Command {
                rpc: Some(wire::RpcRequest {
                    method: "session.create".into(),
                    data: Bytes::from_static(b"{\"name\":\"x\"}"),
                }),
                ..Default::default()
            },
            Method::Rpc(RpcRequest {
                method: "session.create".into(),
                data: Some(json("{\"name\":\"x\"}")),
            }),
        ),
        (
            wire::Command {
                refresh: Some(wire::RefreshRequest {
                    token: "jwt2".into(),
                }),
                ..Default::default()
            },
            Method::Refresh(RefreshRequest {
                token: "jwt2".into(),
            }),
        ),
        (
            wire::Command {
                sub_refresh: Some(wire::SubRefreshRequest {
                    channel: "session:a".into(),
                    token: "t".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Method::SubRefresh(ChannelRequest {
                channel: "session:a".into(),
            }),
        ),
    ];
    for (id, (command, method)) in cases.into_iter().enumerate() {
        let id = u32::try_from(id).unwrap() + 1;
        let decoded = decode_one(wire::Command { id, ..command });
        assert_eq!(decoded, Command { id, method });
    }
    // `send` has no id.
    let send = decode_one(wire::Command {
        send: Some(wire::SendRequest {
            data: Bytes::from_static(b"{\"method\":\"chat.typing\"}"),
        }),
        ..Default::default()
    });
    assert_eq!(
        send,
        Command {
            id: 0,
            method: Method::Send(SendRequest {
                data: json("{\"method\":\"chat.typing\"}")
            })
        }
    );
}

#[test]
fn decodes_a_batch_in_order_and_the_pong() {
    let frame = frame(&[
        wire::Command {
            id: 1,
            connect: Some(wire::ConnectRequest {
                token: "t".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        wire::Command {
            id: 2,
            subscribe: Some(wire::SubscribeRequest {
                channel: "session:x".into(),
                flag: 1,
                ..Default::default()
            }),
            ..Default::default()
        },
        wire::Command::default(),
    ]);
    let commands = Codec::Protobuf.decode_binary(&frame, LIMIT).unwrap();
    assert_eq!(commands.len(), 3);
    assert!(matches!(&commands[0].method, Method::Connect(c) if c.token == "t"));
    assert!(matches!(&commands[1].method, Method::Subscribe(s) if s.channel == "session:x"));
    assert_eq!(commands[2].method, Method::Pong);
    // The pong alone is the single byte 0x00, the server ping too.
    let pong = Codec::Protobuf
        .decode_binary(&Bytes::from_static(&[0x00]), LIMIT)
        .unwrap();
    assert_eq!(pong[0].method, Method::Pong);
    assert_eq!(&Codec::Protobuf.ping()[..], PING);
    assert_eq!(reply_of(&Codec::Protobuf.ping()), wire::Reply::default());
}

#[test]
fn unknown_fields_are_skipped_but_a_command_needs_a_method() {
    // id 1, presence {channel "a"}, then unknown field 99 (varint 5).
    let mut message = wire::Command {
        id: 1,
        presence: Some(wire::PresenceRequest {
            channel: "a".into(),
        }),
        ..Default::default()
    }
    .encode_to_vec();
    message.extend_from_slice(&[0x98, 0x06, 0x05]);
    let mut bytes = vec![u8::try_from(message.len()).unwrap()];
    bytes.extend_from_slice(&message);
    let commands = Codec::Protobuf
        .decode_binary(&Bytes::from(bytes), LIMIT)
        .unwrap();
    assert!(matches!(&commands[0].method, Method::Presence(r) if r.channel == "a"));
    // id 3 and only an unknown field: like a JSON command with no known method.
    let bytes = Bytes::from_static(&[0x05, 0x08, 0x03, 0x98, 0x06, 0x01]);
    assert!(matches!(
        Codec::Protobuf.decode_binary(&bytes, LIMIT),
        Err(DecodeError::UnknownCommand)
    ));
}

#[test]
fn rejects_bad_frames() {
    let bad = |bytes: &'static [u8], limit: usize| {
        Codec::Protobuf
            .decode_binary(&Bytes::from_static(bytes), limit)
            .unwrap_err()
    };
    assert!(matches!(bad(b"", LIMIT), DecodeError::Empty));
    // A length prefix cut short, and one of eleven bytes.
    assert!(matches!(bad(&[0x80], LIMIT), DecodeError::Varint));
    assert!(matches!(bad(&[0x00, 0xff], LIMIT), DecodeError::Varint));
    assert!(matches!(bad(&[0xff; 11], LIMIT), DecodeError::Varint));
    // 64 MiB declared in a 4-byte frame: refused before anything else.
    assert!(matches!(
        bad(&[0x80, 0x80, 0x80, 0x20], LIMIT),
        DecodeError::TooLong {
            declared: 67_108_864,
            ..
        }
    ));
    // u64::MAX declared.
    assert!(matches!(
        bad(
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            LIMIT
        ),
        DecodeError::TooLong { .. }
    ));
    // Within the limit but past the end of the frame.
    assert!(matches!(
        bad(&[0x05, 0x08, 0x01], LIMIT),
        DecodeError::BeyondFrame {
            declared: 5,
            remaining: 2
        }
    ));
    // Above a small limit even though the frame holds it.
    assert!(matches!(
        bad(&[0x02, 0x08, 0x01], 1),
        DecodeError::TooLong {
            declared: 2,
            limit: 1
        }
    ));
    // Not a Command: field 1 with wire type 7 (invalid), and a nested length past its message.
    assert!(matches!(
        bad(&[0x02, 0x0f, 0x01], LIMIT),
        DecodeError::Protobuf(_)
    ));
    assert!(matches!(
        bad(&[0x03, 0x42, 0x10, 0x0a], LIMIT),
        DecodeError::Protobuf(_)
    ));
    // A payload that is not JSON.
    let not_json = frame(&[wire::Command {
        id: 1,
        rpc: Some(wire::RpcRequest {
            method: "m".into(),
            data: Bytes::from_static(&[0xff, 0x00]),
        }),
        ..Default::default()
    }]);
    assert!(matches!(
        Codec::Protobuf.decode_binary(&not_json, LIMIT),
        Err(DecodeError::NotJson("rpc data"))
    ));
    // Frames of the other variant.
    assert!(matches!(
        Codec::Protobuf.decode_text("{}"),
        Err(DecodeError::WrongFrame(_))
    ));
    assert!(matches!(
        Codec::Json.decode_binary(&Bytes::from_static(&[0x00]), LIMIT),
        Err(DecodeError::WrongFrame(_))
    ));
}

#[test]
fn encodes_every_reply() {
    let connect = encoded(ReplyBody::Connect(ConnectResult {
        client: "c1".into(),
        version: "0.1.0".into(),
        expires: true,
        ttl: 900,
        ping: 25,
        pong: true,
        data: None,
    }))
    .connect
    .unwrap();
    assert_eq!(
        (connect.client.as_str(), connect.version.as_str()),
        ("c1", "0.1.0")
    );
    assert!(connect.expires && connect.pong);
    assert_eq!((connect.ttl, connect.ping), (900, 25));

    let publication = Publication {
        data: json("{\"t\":\"hi\"}"),
        info: Some(info()),
        offset: 42,
        tags: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
    };
    let wire_publication = wire::Publication {
        data: Bytes::from_static(b"{\"t\":\"hi\"}"),
        info: Some(wire_info()),
        offset: 42,
        tags: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        ..Default::default()
    };
    let subscribe = encoded(ReplyBody::Subscribe(SubscribeResult {
        recoverable: true,
        positioned: true,
        epoch: "ep".into(),
        offset: 41,
        publications: vec![publication.clone()],
        recovered: true,
        was_recovering: true,
        ..Default::default()
    }))
    .subscribe
    .unwrap();
    assert_eq!(
        subscribe,
        wire::SubscribeResult {
            recoverable: true,
            positioned: true,
            epoch: "ep".into(),
            offset: 41,
            publications: vec![wire_publication.clone()],
            recovered: true,
            was_recovering: true,
            ..Default::default()
        }
    );

    assert_eq!(
        encoded(ReplyBody::Unsubscribe(Empty {})).unsubscribe,
        Some(wire::UnsubscribeResult {})
    );
    assert_eq!(
        encoded(ReplyBody::Publish(Empty {})).publish,
        Some(wire::PublishResult {})
    );
    let presence = encoded(ReplyBody::Presence(PresenceResult {
        presence: BTreeMap::from([("c1".to_owned(), info())]),
    }))
    .presence
    .unwrap();
    assert_eq!(
        presence.presence,
        BTreeMap::from([("c1".to_owned(), wire_info())])
    );
    assert_eq!(
        encoded(ReplyBody::PresenceStats(PresenceStatsResult {
            num_clients: 3,
            num_users: 2
        }))
        .presence_stats,
        Some(wire::PresenceStatsResult {
            num_clients: 3,
            num_users: 2
        })
    );
    assert_eq!(
        encoded(ReplyBody::History(HistoryResult {
            publications: vec![publication],
            epoch: "ep".into(),
            offset: 43,
        }))
        .history,
        Some(wire::HistoryResult {
            publications: vec![wire_publication],
            epoch: "ep".into(),
            offset: 43,
        })
    );
    assert_eq!(
        encoded(ReplyBody::Rpc(RpcResult {
            data: Some(json("{\"id\":\"s1\"}"))
        }))
        .rpc,
        Some(wire::RpcResult {
            data: Bytes::from_static(b"{\"id\":\"s1\"}")
        })
    );
    assert_eq!(
        encoded(ReplyBody::Refresh(ConnectResult {
            client: "c1".into(),
            version: "0.1.0".into(),
            expires: true,
            ttl: 60,
            ..Default::default()
        }))
        .refresh,
        Some(wire::RefreshResult {
            client: "c1".into(),
            version: "0.1.0".into(),
            expires: true,
            ttl: 60,
        })
    );
    assert_eq!(
        encoded(ReplyBody::Error(ProtocolError::internal())).error,
        Some(wire::Error {
            code: 100,
            message: "internal server error".into(),
            temporary: true,
        })
    );
}

#[test]
fn encodes_every_push() {
    let push = |body: PushBody<'_>, channel: Option<&str>| {
        let reply = reply_of(
            &Codec::Protobuf
                .encode_push(&PushEnvelope {
                    push: Push { channel, body },
                })
                .unwrap(),
        );
        assert_eq!(reply.id, 0, "pushes have no id");
        reply.push.unwrap()
    };
    let info = info();
    let publication = Publication {
        data: json("[1]"),
        info: None,
        offset: 3,
        tags: None,
    };
    let p = push(PushBody::Pub(&publication), Some("session:a"));
    assert_eq!(p.channel, "session:a");
    assert_eq!(&p.r#pub.unwrap().data[..], b"[1]");
    let p = push(PushBody::Join { info: &info }, Some("session:a"));
    assert_eq!(p.join.unwrap().info, Some(wire_info()));
    let p = push(PushBody::Leave { info: &info }, Some("session:a"));
    assert_eq!(p.leave.unwrap().info, Some(wire_info()));
    let p = push(
        PushBody::Unsubscribe {
            code: 2000,
            reason: "access revoked",
        },
        Some("session:a"),
    );
    assert_eq!(
        p.unsubscribe,
        Some(wire::Unsubscribe {
            code: 2000,
            reason: "access revoked".into()
        })
    );
    let p = push(
        PushBody::Disconnect {
            code: 3001,
            reason: "shutdown",
            reconnect: true,
        },
        None,
    );
    assert_eq!(p.channel, "");
    assert_eq!(
        p.disconnect,
        Some(wire::Disconnect {
            code: 3001,
            reason: "shutdown".into(),
            reconnect: true
        })
    );
}

#[test]
fn engine_data_crosses_both_variants_unchanged() {
    let text = r#"{"b":[1, 2],"a":"x"}"#;
    let publication = engine::Publication {
        offset: 9,
        info: Some(engine::ClientInfo {
            user: "bob".into(),
            client: "c2".into(),
            conn_info: None,
            chan_info: None,
        }),
        ..engine::Publication::of(engine::Payload::from_bytes(text.as_bytes().to_vec()))
    };
    let pb = reply_of(
        &Codec::Protobuf
            .encode_publication("session:a", &publication)
            .unwrap(),
    )
    .push
    .unwrap();
    let pb_pub = pb.r#pub.unwrap();
    assert_eq!(&pb_pub.data[..], text.as_bytes(), "the payload's own bytes");
    assert_eq!(pb_pub.offset, 9);
    assert_eq!(pb_pub.info.unwrap().user, "bob");
    let js = Codec::Json
        .encode_publication("session:a", &publication)
        .unwrap();
    let js = std::str::from_utf8(&js).unwrap();
    assert!(js.contains(text), "{js}");

    let joined = reply_of(
        &Codec::Protobuf
            .encode_presence("session:a", publication.info.as_ref().unwrap(), true)
            .unwrap(),
    );
    assert_eq!(
        joined.push.unwrap().join.unwrap().info.unwrap().client,
        "c2"
    );
    let left = reply_of(
        &Codec::Protobuf
            .encode_presence("session:a", publication.info.as_ref().unwrap(), false)
            .unwrap(),
    );
    assert!(left.push.unwrap().leave.is_some());
}

#[test]
fn a_joined_frame_is_the_messages_back_to_back() {
    let a = Codec::Protobuf.ping();
    let b = Codec::Protobuf
        .encode_reply(&Reply {
            id: 1,
            body: ReplyBody::Publish(Empty {}),
        })
        .unwrap();
    let frame = Codec::Protobuf.join_frame(&[a.clone(), b.clone(), a]);
    let mut rest = frame.clone();
    let mut replies = Vec::new();
    while !rest.is_empty() {
        replies.push(wire::Reply::decode_length_delimited(&mut rest).unwrap());
    }
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0], wire::Reply::default());
    assert_eq!(replies[1].id, 1);
    assert!(replies[1].publish.is_some());
    assert_eq!(frame.len(), 1 + b.len() + 1);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Bytes {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

/// The session shown in hex in docs/protocol.md ("A Protobuf session in
/// hex"): the client's frames decode, and the server's encode, to exactly
/// those bytes.
#[test]
fn the_session_in_the_docs() {
    // Client: connect and subscribe in one frame.
    let commands = Codec::Protobuf
        .decode_binary(
            &unhex(
                "0f 0801 220b 0a0574306b336e 22026a73  12 0802 2a0e 0a0a73657373696f6e3a7331 7003",
            ),
            LIMIT,
        )
        .unwrap();
    assert!(
        matches!(&commands[0].method, Method::Connect(c) if c.token == "t0k3n" && c.name == "js")
    );
    assert!(
        matches!(&commands[1].method, Method::Subscribe(s) if s.channel == "session:s1" && s.flag == 3)
    );
    // Server: connect reply.
    let connect = Codec::Protobuf
        .encode_reply(&Reply {
            id: 1,
            body: ReplyBody::Connect(ConnectResult {
                client: "c1".into(),
                version: "0.1.0".into(),
                expires: true,
                ttl: 900,
                ping: 25,
                pong: true,
                data: None,
            }),
        })
        .unwrap();
    assert_eq!(
        hex(&connect),
        "1808012a140a0263311205302e312e30180120840738194001"
    );
    // Server: subscribe reply.
    let subscribe = Codec::Protobuf
        .encode_reply(&Reply {
            id: 2,
            body: ReplyBody::Subscribe(SubscribeResult {
                recoverable: true,
                positioned: true,
                epoch: "q7Rm".into(),
                offset: 1,
                ..Default::default()
            }),
        })
        .unwrap();
    assert_eq!(hex(&subscribe), "100802320c180132047137526d48015001");
    // Server: a publication.
    let publication = engine::Publication {
        offset: 2,
        ..engine::Publication::of(engine::Payload::from_bytes(&b"{\"t\":\"hi\"}"[..]))
    };
    let push = Codec::Protobuf
        .encode_publication("session:s1", &publication)
        .unwrap();
    assert_eq!(
        hex(&push),
        "1e221c120a73657373696f6e3a7331220e220a7b2274223a226869227d3002"
    );
    // Client: rpc.
    let rpc = Codec::Protobuf
        .decode_binary(
            &unhex("15 0803 6a11 0a027b7d 120b7365727665722e696e666f"),
            LIMIT,
        )
        .unwrap();
    assert!(matches!(&rpc[0].method, Method::Rpc(r) if r.method == "server.info"));
    // Server ping and client pong.
    assert_eq!(hex(&Codec::Protobuf.ping()), "00");
}
