//! Presence, presence stats, join and leave pushes.

use serde_json::json;

use crate::helpers::{session_channel, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_join_leave() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let mut alice2 = app.connect("alice").await;
    let id = alice.create_session("presence", &[("bob", "viewer")]).await;
    let channel = session_channel(&id);
    let channel = channel.as_str();

    alice.subscribe_ok(channel, json!({})).await;
    // A subscriber sees its own join too.
    let own = alice.expect_push(channel, "join").await;
    assert_eq!(own["info"]["client"], alice.client_id.as_str(), "{own}");
    bob.subscribe_ok(channel, json!({})).await;
    let bob_id = bob.client_id.clone();
    let join = alice
        .expect_push_where(channel, "join", |j| j["info"]["client"] == bob_id.as_str())
        .await;
    assert_eq!(join["info"]["user"], "bob", "{join}");
    assert_eq!(join["info"]["client"], bob.client_id.as_str(), "{join}");

    let presence = alice.call_ok("presence", json!({"channel": channel})).await;
    let map = presence["presence"].as_object().expect("presence map");
    assert_eq!(map.len(), 2, "{presence}");
    assert_eq!(map[&alice.client_id]["user"], "alice", "{presence}");
    assert_eq!(map[&alice.client_id]["client"], alice.client_id.as_str());
    assert_eq!(map[&bob.client_id]["user"], "bob", "{presence}");
    assert_eq!(map[&bob.client_id]["client"], bob.client_id.as_str());

    alice2.subscribe_ok(channel, json!({})).await;
    let alice2_id = alice2.client_id.clone();
    let join = alice
        .expect_push_where(channel, "join", |j| {
            j["info"]["client"] == alice2_id.as_str()
        })
        .await;
    assert_eq!(join["info"]["user"], "alice", "{join}");
    let stats = bob
        .call_ok("presence_stats", json!({"channel": channel}))
        .await;
    assert_eq!(stats, json!({"num_clients": 3, "num_users": 2}));

    // Leave after unsubscribe.
    bob.call_ok("unsubscribe", json!({"channel": channel}))
        .await;
    let leave = alice.expect_push(channel, "leave").await;
    assert_eq!(leave["info"]["user"], "bob", "{leave}");
    assert_eq!(leave["info"]["client"], bob.client_id.as_str(), "{leave}");

    // Leave after the socket drops.
    let gone = alice2.client_id.clone();
    drop(alice2);
    let leave = alice.expect_push(channel, "leave").await;
    assert_eq!(leave["info"]["user"], "alice", "{leave}");
    assert_eq!(leave["info"]["client"], gone.as_str(), "{leave}");

    let presence = alice.call_ok("presence", json!({"channel": channel})).await;
    let map = presence["presence"].as_object().expect("presence map");
    assert_eq!(
        map.keys().collect::<Vec<_>>(),
        vec![&alice.client_id],
        "{presence}"
    );
    let stats = alice
        .call_ok("presence_stats", json!({"channel": channel}))
        .await;
    assert_eq!(stats, json!({"num_clients": 1, "num_users": 1}));
}

#[tokio::test]
async fn presence_of_an_empty_channel_and_of_user_channels() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("nobody here", &[]).await;
    let stats = alice
        .call_ok("presence_stats", json!({"channel": session_channel(&id)}))
        .await;
    assert_eq!(stats, json!({"num_clients": 0, "num_users": 0}));
    // Presence of a session is for its collaborators only.
    let mut bob = app.connect("bob").await;
    assert_eq!(
        bob.call_err("presence_stats", json!({"channel": session_channel(&id)}))
            .await,
        103
    );
    // user: channels have no presence.
    assert_eq!(
        alice
            .call_err("presence", json!({"channel": "user:alice"}))
            .await,
        108
    );
}

/// Presence entries live `--presence-ttl`; a connected subscriber keeps its
/// entry fresh, well past several TTLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_of_live_connections_outlives_the_ttl() {
    let app = spawn_app(&[
        "--presence-ttl",
        "1s",
        "--ping-interval",
        "1s",
        "--pong-timeout",
        "500ms",
    ])
    .await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let id = alice.create_session("ttl", &[("bob", "editor")]).await;
    let channel = session_channel(&id);
    let channel = channel.as_str();
    alice.subscribe_ok(channel, json!({})).await;
    bob.subscribe_ok(channel, json!({})).await;
    // Three pings are three seconds: three presence TTLs.
    for _ in 0..3 {
        alice.pong_next_ping().await;
        bob.pong_next_ping().await;
    }
    let stats = alice
        .call_ok("presence_stats", json!({"channel": channel}))
        .await;
    assert_eq!(stats, json!({"num_clients": 2, "num_users": 2}));
}
