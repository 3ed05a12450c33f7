//! Bad binary input: each closes only the connection that sent it, with the
//! protocol's code, while a JSON and a Protobuf subscriber of the same
//! channel keep receiving publications throughout.

use bytes::Bytes;
use serde_json::json;
use tandem::protocol::protobuf::wire;

use crate::helpers::{session_channel, spawn_app, TestApp, WsClient};
use crate::pb_client::{data_of, PbClient, Select};

/// Two healthy subscribers (JSON and Protobuf) of one session, and its writer.
struct Healthy {
    writer: WsClient,
    json: WsClient,
    protobuf: PbClient,
    id: String,
    channel: String,
    sent: u32,
}

impl Healthy {
    async fn new(app: &TestApp) -> Self {
        let mut writer = app.connect("alice").await;
        let id = writer
            .create_session("limits", &[("bob", "viewer"), ("carol", "viewer")])
            .await;
        let channel = session_channel(&id);
        let mut json = app.connect("bob").await;
        json.subscribe_ok(&channel, json!({})).await;
        let mut protobuf = PbClient::connect_as(app, "carol").await;
        protobuf.subscribe_ok(&channel).await;
        Self {
            writer,
            json,
            protobuf,
            id,
            channel,
            sent: 0,
        }
    }

    /// A new publication reaches both subscribers.
    async fn check(&mut self, after: &str) {
        self.sent += 1;
        let content = format!("after {after} #{}", self.sent);
        self.writer.chat(&self.id, &content).await;
        let p = self.json.expect_push(&self.channel, "pub").await;
        assert_eq!(p["data"]["data"]["message"]["content"], content.as_str());
        let p = self.protobuf.expect_pub(&self.channel).await;
        assert_eq!(data_of(&p)["data"]["message"]["content"], content.as_str());
    }
}

/// A frame that closes a connected Protobuf client with `code`.
async fn closes(app: &TestApp, frame: Vec<u8>, code: u16, what: &str) {
    let mut pb = PbClient::connect_as(app, "dave").await;
    pb.send_frame(frame).await;
    let (got, reason) = pb.expect_close().await;
    assert_eq!(got, code, "{what}: closed with {got} {reason:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_binary_input_closes_only_its_own_connection() {
    let app = spawn_app(&["--max-frame-bytes", "4096"]).await;
    let mut healthy = Healthy::new(&app).await;
    healthy.check("start").await;

    let not_json = wire::Command {
        id: 1,
        rpc: Some(wire::RpcRequest {
            method: "chat.send".into(),
            data: Bytes::from_static(&[0xff, 0xfe]),
        }),
        ..Default::default()
    };
    let not_json = tandem::protocol::protobuf::delimited(&not_json)
        .unwrap()
        .to_vec();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a truncated length prefix", vec![0x80], 3501),
        (
            "a pong then a truncated length prefix",
            vec![0x00, 0xff],
            3501,
        ),
        ("an eleven-byte length prefix", vec![0xff; 11], 3501),
        (
            "a declared length beyond the frame",
            vec![0x05, 0x08, 0x01],
            3501,
        ),
        (
            "64 MiB declared in four bytes",
            vec![0x80, 0x80, 0x80, 0x20],
            3501,
        ),
        (
            "u64::MAX declared",
            vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            3501,
        ),
        ("an invalid wire type", vec![0x02, 0x0f, 0x01], 3501),
        (
            "a nested length past its message",
            vec![0x03, 0x42, 0x10, 0x0a],
            3501,
        ),
        (
            "an id with only an unknown field",
            vec![0x05, 0x08, 0x03, 0x98, 0x06, 0x01],
            3501,
        ),
        ("a payload that is not JSON", not_json, 3501),
        ("an empty binary frame", vec![], 3501),
        ("a frame above --max-frame-bytes", vec![0x00; 5000], 1009),
    ];
    for (what, frame, code) in cases {
        closes(&app, frame, code, what).await;
        healthy.check(what).await;
    }

    // A text frame on a Protobuf connection, a binary one on a JSON connection.
    let mut pb = PbClient::connect_as(&app, "dave").await;
    pb.send_text("{}").await;
    assert_eq!(pb.expect_close().await.0, 3501);
    healthy.check("text on Protobuf").await;
    let mut js = app.connect("dave").await;
    js.send_binary(vec![0x00]).await;
    assert_eq!(js.expect_close().await.0, 3501);
    healthy.check("binary on JSON").await;

    // Before connect too, and with a well-formed frame first.
    let mut pb = PbClient::open(app.addr, Select::Format).await;
    pb.send_frame(vec![0x80, 0x80, 0x80, 0x20]).await;
    assert_eq!(pb.expect_close().await.0, 3501);
    healthy.check("64 MiB before connect").await;
}

#[tokio::test]
async fn a_command_before_connect_closes_3501_like_json() {
    let app = spawn_app(&[]).await;
    let mut pb = PbClient::open(app.addr, Select::Subprotocol).await;
    pb.send_commands(&[wire::Command {
        id: 1,
        presence: Some(wire::PresenceRequest {
            channel: "session:x".into(),
        }),
        ..Default::default()
    }])
    .await;
    assert_eq!(pb.expect_close().await.0, 3501);
}
