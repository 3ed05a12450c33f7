//! Subscribing, publishing and receiving publications.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publications_reach_every_subscriber_with_info_and_offsets() {
    let app = spawn_app(&[]).await;
    let channel = "session:pubsub";
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let alice_id = alice.client_id.clone();

    let sub = alice.subscribe_ok(channel, json!({})).await;
    assert_eq!(sub["recoverable"], true, "{sub}");
    assert_eq!(sub["positioned"], true, "{sub}");
    let epoch = sub["epoch"].as_str().expect("epoch").to_owned();
    assert!(!epoch.is_empty(), "{sub}");
    assert_eq!(sub["offset"].as_u64().unwrap_or(0), 0, "new stream: {sub}");
    let sub = bob.subscribe_ok(channel, json!({})).await;
    assert_eq!(sub["epoch"], epoch.as_str(), "same stream, same epoch");

    for i in 1..=3 {
        alice.publish(channel, json!({"n": i})).await;
    }
    for (who, ws) in [("publisher", &mut alice), ("subscriber", &mut bob)] {
        for i in 1..=3u64 {
            let publication = ws.expect_push(channel, "pub").await;
            assert_eq!(publication["data"], json!({"n": i}), "{who}: {publication}");
            assert_eq!(publication["offset"], i, "{who}: {publication}");
            assert_eq!(publication["info"]["user"], "alice", "{who}: {publication}");
            assert_eq!(publication["info"]["client"], alice_id.as_str(), "{who}");
        }
    }
    // The stream moved on: a late subscriber starts at the top.
    let mut carol = app.connect("carol").await;
    let sub = carol.subscribe_ok(channel, json!({})).await;
    assert_eq!(sub["offset"], 3, "{sub}");
    assert_eq!(sub["epoch"], epoch.as_str(), "{sub}");
    assert!(
        sub.get("publications").is_none(),
        "no recovery asked: {sub}"
    );
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let app = spawn_app(&[]).await;
    let channel = "session:unsub";
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    alice.subscribe_ok(channel, json!({})).await;
    bob.subscribe_ok(channel, json!({})).await;
    let result = bob
        .call_ok("unsubscribe", json!({"channel": channel}))
        .await;
    assert_eq!(result, json!({}));
    alice
        .publish(channel, json!({"after": "unsubscribe"}))
        .await;
    alice.expect_push(channel, "pub").await;
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
