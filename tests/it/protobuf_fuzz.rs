//! Property test of the Protobuf decoder: any bytes either decode to
//! commands or are refused, never panic and never allocate from a declared
//! length (a frame is at most a few KiB here, whatever the lengths inside it
//! claim); valid frames of random commands decode to what was encoded.
//! Bounded: a fixed number of cases of bounded size.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tandem::protocol::command::Method;
use tandem::protocol::protobuf::{delimited, wire};
use tandem::protocol::Codec;

const LIMIT: usize = 65_536;

/// Random bytes, and random bytes behind a valid-looking varint prefix.
fn frames() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..256)).prop_map(|(len, body)| {
            let mut frame = Vec::new();
            prost::encoding::encode_varint(len % 4096, &mut frame);
            frame.extend(body);
            frame
        }),
    ]
}

#[test]
fn arbitrary_frames_never_panic() {
    let mut runner = TestRunner::new(Config {
        cases: 4000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&frames(), |frame| {
            let frame = Bytes::from(frame);
            if let Ok(commands) = Codec::Protobuf.decode_binary(&frame, LIMIT) {
                prop_assert!(!commands.is_empty());
                prop_assert!(
                    commands.len() <= frame.len(),
                    "one byte at least per command"
                );
            }
            Ok(())
        })
        .unwrap();
}

fn command() -> impl Strategy<Value = wire::Command> {
    (
        1u32..1000,
        "[a-z:0-9-]{0,40}",
        any::<u64>(),
        any::<bool>(),
        0u8..4,
    )
        .prop_map(|(id, channel, offset, recover, which)| match which {
            0 => wire::Command {
                id,
                subscribe: Some(wire::SubscribeRequest {
                    channel,
                    offset,
                    recover,
                    ..Default::default()
                }),
                ..Default::default()
            },
            1 => wire::Command {
                id,
                history: Some(wire::HistoryRequest {
                    channel,
                    limit: i32::try_from(offset % 100).unwrap(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            2 => wire::Command {
                id,
                rpc: Some(wire::RpcRequest {
                    method: channel,
                    data: Bytes::from(format!("{{\"n\":{offset}}}")),
                }),
                ..Default::default()
            },
            _ => wire::Command::default(),
        })
}

#[test]
fn valid_batches_decode_in_order() {
    let mut runner = TestRunner::new(Config {
        cases: 500,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(command(), 1..16), |commands| {
            let mut frame = Vec::new();
            for c in &commands {
                frame.extend_from_slice(&delimited(c).unwrap());
            }
            let decoded = Codec::Protobuf
                .decode_binary(&Bytes::from(frame), LIMIT)
                .unwrap();
            prop_assert_eq!(decoded.len(), commands.len());
            for (sent, got) in commands.iter().zip(&decoded) {
                prop_assert_eq!(sent.id, got.id);
                let same_kind = match &got.method {
                    Method::Subscribe(s) => sent.subscribe.as_ref().is_some_and(|w| {
                        w.channel == s.channel && w.offset == s.offset && w.recover == s.recover
                    }),
                    Method::History(h) => sent.history.as_ref().is_some_and(|w| w.limit == h.limit),
                    Method::Rpc(r) => sent.rpc.as_ref().is_some_and(|w| {
                        w.method == r.method
                            && r.data.as_ref().map(|d| d.get().as_bytes()) == Some(&w.data[..])
                    }),
                    Method::Pong => {
                        sent.id == 0
                            || sent
                                == &wire::Command {
                                    id: sent.id,
                                    ..Default::default()
                                }
                    }
                    _ => false,
                };
                prop_assert!(same_kind, "{:?} decoded as {:?}", sent, got);
            }
            Ok(())
        })
        .unwrap();
}
