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
