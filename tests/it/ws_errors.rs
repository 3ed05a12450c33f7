//! Protocol errors: reply errors and bad-request disconnects.

use serde_json::json;

use crate::helpers::{session_channel, spawn_app};

#[tokio::test]
async fn malformed_json_closes_3501() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    ws.send_raw("{\"id\":2,\"rpc\":").await;
    assert_eq!(ws.expect_close().await.0, 3501);
}

#[tokio::test]
async fn unknown_command_closes_3501() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    ws.send(json!({"id": 2, "frobnicate": {}})).await;
    assert_eq!(ws.expect_close().await.0, 3501);
}

#[tokio::test]
async fn command_before_connect_closes_3501() {
    let app = spawn_app(&[]).await;
    let mut ws = app.open().await;
    ws.send(json!({"id": 1, "subscribe": {"channel": "session:x"}}))
        .await;
    assert_eq!(ws.expect_close().await.0, 3501);
}

#[tokio::test]
async fn second_connect_closes_3501() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    ws.send_command("connect", json!({"token": app.token("alice")}))
        .await;
    assert_eq!(ws.expect_close().await.0, 3501);
}

#[tokio::test]
async fn other_users_channel_is_denied_own_one_works() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let reply = alice.subscribe("user:bob", json!({})).await;
    assert_eq!(reply["error"]["code"], 103, "{reply}");
    alice.subscribe_ok("user:alice", json!({})).await;
}

#[tokio::test]
async fn publishing_to_a_user_channel_is_denied() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    alice.subscribe_ok("user:alice", json!({})).await;
    let code = alice
        .call_err(
            "publish",
            json!({"channel": "user:alice", "data": {"x": 1}}),
        )
        .await;
    assert_eq!(code, 103);
}

#[tokio::test]
async fn unknown_namespace_is_denied() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let reply = alice.subscribe("chat:lobby", json!({})).await;
    assert_eq!(reply["error"]["code"], 103, "{reply}");
    let code = alice
        .call_err("publish", json!({"channel": "chat:lobby", "data": {}}))
        .await;
    assert_eq!(code, 103);
}

#[tokio::test]
async fn duplicate_subscribe_is_105() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("dup", &[]).await;
    let channel = session_channel(&id);
    alice.subscribe_ok(&channel, json!({})).await;
    let reply = alice.subscribe(&channel, json!({})).await;
    assert_eq!(reply["error"]["code"], 105, "{reply}");
    // The first subscription still works.
    alice.chat(&id, "still here").await;
    let p = alice.expect_push(&channel, "pub").await;
    assert_eq!(p["offset"], 2, "{p}");
    assert_eq!(p["data"]["data"]["message"]["content"], "still here", "{p}");
}

#[tokio::test]
async fn ping_and_sub_refresh_commands_are_not_available() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    assert_eq!(alice.call_err("ping", json!({})).await, 108);
    assert_eq!(
        alice
            .call_err("sub_refresh", json!({"channel": "session:x", "token": "t"}))
            .await,
        108
    );
}

#[tokio::test]
async fn command_without_id_closes_3501() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    ws.send(json!({"rpc": {"method": "server.info"}})).await;
    assert_eq!(ws.expect_close().await.0, 3501);
}

#[tokio::test]
async fn empty_frame_closes_3501() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    ws.send_raw("\n").await;
    assert_eq!(ws.expect_close().await.0, 3501);
}

#[tokio::test]
async fn binary_frame_closes_3501() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect("alice").await;
    ws.send_binary(br#"{"id":2,"rpc":{"method":"server.info"}}"#.to_vec())
        .await;
    assert_eq!(ws.expect_close().await.0, 3501);
}

#[tokio::test]
async fn overlong_channel_name_is_107() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let channel = format!("session:{}", "x".repeat(300));
    let reply = alice.subscribe(&channel, json!({})).await;
    assert_eq!(reply["error"]["code"], 107, "{reply}");
}

#[tokio::test]
async fn reverse_history_since_offset_zero_is_107() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("h0", &[]).await;
    let code = alice
        .call_err(
            "history",
            json!({"channel": session_channel(&id), "limit": 5, "reverse": true,
                   "since": {"offset": 0, "epoch": ""}}),
        )
        .await;
    assert_eq!(code, 107);
}

/// A WebSocket opened by hand over TCP, to send frames no library would.
async fn raw_websocket(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /connection/websocket HTTP/1.1\r\nHost: tandem\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// A client frame: `first` byte (FIN, RSV, opcode), masked unless told not to.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![first];
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    out.push(if masked { 0x80 } else { 0 } | payload.len() as u8);
    if masked {
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Reads server frames until a close frame; returns its code.
async fn close_code(tcp: &mut tokio::net::TcpStream) -> u16 {
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            let mut head = [0u8; 2];
            tcp.read_exact(&mut head)
                .await
                .expect("a close frame before EOF");
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                len = u64::from(tcp.read_u16().await.unwrap());
            } else if len == 127 {
                len = tcp.read_u64().await.unwrap();
            }
            let mut payload = vec![0u8; usize::try_from(len).unwrap()];
            tcp.read_exact(&mut payload).await.unwrap();
            if head[0] & 0x0f == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), read)
        .await
        .expect("the server closes with a code")
}

#[tokio::test]
async fn rfc_6455_violations_close_with_1007_or_1002_and_harm_no_one_else() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app(&[]).await;
    let mut healthy = app.connect("bob").await;
    let cases: [(&str, Vec<u8>, u16); 5] = [
        (
            "invalid UTF-8 in a text frame",
            frame(0x81, &[0x7b, 0xff, 0xfe, 0x7d], true),
            1007,
        ),
        ("a reserved bit set", frame(0xC1, b"{}", true), 1002),
        ("an unmasked client frame", frame(0x81, b"{}", false), 1002),
        ("a fragmented control frame", frame(0x09, b"", true), 1002),
        ("an unknown opcode", frame(0x83, b"{}", true), 1002),
    ];
    for (what, bytes, code) in cases {
        let mut tcp = raw_websocket(app.addr).await;
        tcp.write_all(&bytes).await.unwrap();
        assert_eq!(close_code(&mut tcp).await, code, "{what}");
        let info = healthy.rpc_ok("server.info", json!({})).await;
        assert_eq!(info["name"], "tandem", "after {what}");
    }
}

#[tokio::test]
async fn session_ids_have_one_spelling_in_channel_names() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("one spelling", &[]).await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    for other in [
        id.to_uppercase(),
        uuid.simple().to_string(),
        uuid.braced().to_string(),
        uuid.urn().to_string(),
    ] {
        let reply = alice
            .subscribe(&format!("session:{other}"), json!({}))
            .await;
        assert_eq!(reply["error"]["code"], 107, "{other}: {reply}");
        assert!(
            reply["error"]["message"].as_str().unwrap().contains(&id),
            "the refusal names the canonical channel: {reply}"
        );
    }
    alice.subscribe_ok(&session_channel(&id), json!({})).await;
}
