//! Subscribing and receiving publications (session events made through RPC).

use serde_json::json;

use crate::helpers::{session_channel, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publications_reach_every_subscriber_with_offsets() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let id = alice
        .create_session("pubsub", &[("bob", "editor"), ("carol", "viewer")])
        .await;
    let channel = session_channel(&id);
    let channel = channel.as_str();

    let sub = alice.subscribe_ok(channel, json!({})).await;
    assert_eq!(sub["recoverable"], true, "{sub}");
    assert_eq!(sub["positioned"], true, "{sub}");
    let epoch = sub["epoch"].as_str().expect("epoch").to_owned();
    assert!(!epoch.is_empty(), "{sub}");
    assert_eq!(
        sub["offset"], 1,
        "a new session's stream holds session.created at 1: {sub}"
    );
    let sub = bob.subscribe_ok(channel, json!({})).await;
    assert_eq!(sub["epoch"], epoch.as_str(), "same stream, same epoch");

    for i in 1..=3 {
        alice.chat(&id, &format!("message {i}")).await;
    }
    for (who, ws) in [("sender", &mut alice), ("subscriber", &mut bob)] {
        for i in 1..=3u64 {
            let publication = ws.expect_push(channel, "pub").await;
            let event = &publication["data"];
            assert_eq!(event["type"], "chat.message", "{who}: {publication}");
            assert_eq!(
                event["data"]["message"]["content"],
                format!("message {i}"),
                "{who}: {publication}"
            );
            assert_eq!(publication["offset"], i + 1, "{who}: {publication}");
            assert_eq!(event["offset"], i + 1, "event offset = publication offset");
            assert_eq!(event["actor"], "alice", "{who}: {publication}");
            assert_eq!(event["data"]["message"]["author"], "alice", "{who}");
        }
    }
    // The stream moved on: a late subscriber starts at the top.
    let mut carol = app.connect("carol").await;
    let sub = carol.subscribe_ok(channel, json!({})).await;
    assert_eq!(sub["offset"], 4, "{sub}");
    assert_eq!(sub["epoch"], epoch.as_str(), "{sub}");
    assert!(
        sub.get("publications").is_none(),
        "no recovery asked: {sub}"
    );
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let id = alice.create_session("unsub", &[("bob", "editor")]).await;
    let channel = session_channel(&id);
    let channel = channel.as_str();
    alice.subscribe_ok(channel, json!({})).await;
    bob.subscribe_ok(channel, json!({})).await;
    let result = bob
        .call_ok("unsubscribe", json!({"channel": channel}))
        .await;
    assert_eq!(result, json!({}));
    alice.chat(&id, "after unsubscribe").await;
    alice.expect_event(channel, "chat.message").await;
    // Bob gets no publication: everything before his next reply is checked.
    let id = bob
        .send_command("rpc", json!({"method": "server.info"}))
        .await;
    loop {
        let next = bob.recv().await;
        assert!(
            next["push"].get("pub").is_none(),
            "bob got {next} after unsubscribing"
        );
        if next["id"] == id {
            break;
        }
    }
}

#[tokio::test]
async fn own_user_channel_can_be_subscribed() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let sub = alice.subscribe_ok("user:alice", json!({})).await;
    assert_eq!(sub["recoverable"], true, "{sub}");
    assert!(sub["epoch"].is_string(), "{sub}");
}

/// Nobody publishes to a session channel directly, not even its owner; only
/// collaborators subscribe.
#[tokio::test]
async fn session_channels_refuse_client_publish_and_strangers() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let mut mallory = app.connect("mallory").await;
    let id = alice.create_session("closed", &[("bob", "editor")]).await;
    let channel = session_channel(&id);
    alice.subscribe_ok(&channel, json!({})).await;
    for (who, ws) in [("owner", &mut alice), ("editor", &mut bob)] {
        let code = ws
            .call_err("publish", json!({"channel": channel, "data": {"x": 1}}))
            .await;
        assert_eq!(code, 103, "{who} publishing directly");
    }
    let reply = mallory.subscribe(&channel, json!({})).await;
    assert_eq!(reply["error"]["code"], 103, "non-collaborator: {reply}");
    let code = mallory
        .call_err("history", json!({"channel": channel, "limit": 10}))
        .await;
    assert_eq!(code, 103, "non-collaborator history");
    let code = mallory
        .call_err("presence", json!({"channel": channel}))
        .await;
    assert_eq!(code, 103, "non-collaborator presence");
    // A channel for a session that does not exist, and a non-UUID one.
    let unknown = session_channel(&uuid::Uuid::now_v7().to_string());
    assert_eq!(
        mallory.subscribe(&unknown, json!({})).await["error"]["code"],
        103
    );
    assert_eq!(
        mallory.subscribe("session:x", json!({})).await["error"]["code"],
        103
    );
    // Nothing reached the stream: the owner's next event is at offset 2.
    alice.chat(&id, "still clean").await;
    let p = alice.expect_push(&channel, "pub").await;
    assert_eq!(p["offset"], 2, "{p}");
}
