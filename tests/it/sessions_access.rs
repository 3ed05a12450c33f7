//! Access changes seen live (revoke ends a subscription, sharing and deletes
//! notify `user:` feeds) and the ephemeral typing signal.

use serde_json::json;

use crate::helpers::{session_channel, spawn_app, WsClient};

/// Checks that nothing in `channel` reaches `ws` before the reply to a
/// command sent now (everything already sent is in the socket before it).
async fn no_pub_before_next_reply(ws: &mut WsClient, channel: &str) {
    let id = ws
        .send_command("rpc", json!({"method": "server.info"}))
        .await;
    loop {
        let next = ws.recv().await;
        assert!(
            next["push"]["channel"] != channel || next["push"].get("pub").is_none(),
            "unexpected publication {next}"
        );
        if next["id"] == id {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_ends_the_live_subscription_and_notifies_the_user() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    bob.subscribe_ok("user:bob", json!({})).await;
    let id = alice.create_session("shared", &[("bob", "editor")]).await;
    let added = bob.expect_notice("bob", "session.added").await;
    assert_eq!(added["session"]["id"], id.as_str(), "{added}");
    let channel = session_channel(&id);
    alice.subscribe_ok(&channel, json!({})).await;
    bob.subscribe_ok(&channel, json!({})).await;
    let bob_client = bob.client_id.clone();
    alice
        .expect_push_where(&channel, "join", |j| {
            j["info"]["client"] == bob_client.as_str()
        })
        .await;
    bob.chat(&id, "hi before").await;
    bob.expect_event(&channel, "chat.message").await;

    alice
        .rpc_ok(
            "collaborators.revoke",
            json!({"session_id": id, "user_id": "bob"}),
        )
        .await;
    // Bob sees his removal (the last event he gets), then the subscription ends.
    let removal = bob.expect_event(&channel, "collaborator.removed").await;
    assert_eq!(removal["data"]["data"], json!({"user_id": "bob"}));
    let unsub = bob.expect_push(&channel, "unsubscribe").await;
    assert_eq!(unsub["code"], 2000, "{unsub}");
    let leave = alice
        .expect_push_where(&channel, "leave", |l| {
            l["info"]["client"] == bob_client.as_str()
        })
        .await;
    assert_eq!(leave["info"]["user"], "bob", "{leave}");
    let removed = bob.expect_notice("bob", "session.removed").await;
    assert_eq!(
        removed,
        json!({"type": "session.removed", "session_id": id, "reason": "revoked"})
    );
    let presence = alice.call_ok("presence", json!({"channel": channel})).await;
    let users: Vec<&str> = presence["presence"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, vec!["alice"], "{presence}");

    // Bob's connection stays, but the session is gone for him.
    alice.chat(&id, "after revoke").await;
    no_pub_before_next_reply(&mut bob, &channel).await;
    let reply = bob.subscribe(&channel, json!({})).await;
    assert_eq!(reply["error"]["code"], 103, "{reply}");
    let code = bob
        .call_err("history", json!({"channel": channel, "limit": 10}))
        .await;
    assert_eq!(code, 103);
    let err = bob
        .rpc_err("chat.send", json!({"session_id": id, "content": "hello?"}))
        .await;
    assert_eq!(err.code, 404, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharing_role_changes_and_deletes_reach_user_feeds() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut dave = app.connect("dave").await;
    dave.subscribe_ok("user:dave", json!({})).await;
    let id = alice.create_session("team", &[]).await;

    alice
        .rpc_ok(
            "collaborators.share",
            json!({"session_id": id, "user_id": "dave", "role": "viewer"}),
        )
        .await;
    let added = dave.expect_notice("dave", "session.added").await;
    assert_eq!(added["session"]["id"], id.as_str(), "{added}");
    assert_eq!(added["role"], "viewer", "{added}");
    let users: Vec<&str> = added["session"]["collaborators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, vec!["alice", "dave"]);
    // Dave can now subscribe; his feed is recoverable like any user feed.
    let channel = session_channel(&id);
    dave.subscribe_ok(&channel, json!({})).await;

    alice
        .rpc_ok(
            "collaborators.share",
            json!({"session_id": id, "user_id": "dave", "role": "editor"}),
        )
        .await;
    let changed = dave.expect_notice("dave", "session.role_changed").await;
    assert_eq!(changed["role"], "editor", "{changed}");
    assert_eq!(changed["session"]["id"], id.as_str());
    dave.chat(&id, "editing now").await;

    alice
        .rpc_ok("session.complete", json!({"session_id": id}))
        .await;
    let status = dave.expect_notice("dave", "session.status_changed").await;
    assert_eq!(status["from"], "active");
    assert_eq!(status["to"], "completed");

    alice
        .rpc_ok("session.delete", json!({"session_id": id}))
        .await;
    let deleted = dave.expect_event(&channel, "session.deleted").await;
    assert_eq!(deleted["data"]["actor"], "alice");
    let unsub = dave.expect_push(&channel, "unsubscribe").await;
    assert_eq!(unsub["code"], 2000, "{unsub}");
    let removed = dave.expect_notice("dave", "session.removed").await;
    assert_eq!(removed["reason"], "deleted", "{removed}");
    assert_eq!(
        dave.subscribe(&channel, json!({})).await["error"]["code"],
        103
    );

    // The feed kept every notice, in order, for a client that was away.
    let feed = dave
        .call_ok("history", json!({"channel": "user:dave", "limit": -1}))
        .await;
    let kinds: Vec<&str> = feed["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["data"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "session.added",
            "session.role_changed",
            "session.status_changed",
            "session.removed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_live_only_without_offset_or_history() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let mut viewer = app.connect("vic").await;
    let id = alice
        .create_session("typing", &[("bob", "editor"), ("vic", "viewer")])
        .await;
    let channel = session_channel(&id);
    let sub = alice.subscribe_ok(&channel, json!({})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let position = sub["offset"].as_u64().unwrap();

    // Typing through rpc.
    let ack = bob.rpc_ok("chat.typing", json!({"session_id": id})).await;
    assert_eq!(ack, json!({}));
    let typing = alice.expect_event(&channel, "chat.typing").await;
    assert!(
        typing["offset"].as_u64().unwrap_or(0) == 0,
        "typing has no offset: {typing}"
    );
    assert_eq!(typing["data"]["actor"], "bob", "{typing}");
    assert_eq!(typing["data"]["data"], json!({"typing": true}), "{typing}");
    assert!(typing["data"].get("offset").is_none(), "{typing}");

    // Typing through send (no reply), stopping.
    bob.send(json!({"send": {"data": {"method": "chat.typing",
        "data": {"session_id": id, "typing": false}}}}))
        .await;
    let stopped = alice.expect_event(&channel, "chat.typing").await;
    assert_eq!(
        stopped["data"]["data"],
        json!({"typing": false}),
        "{stopped}"
    );
    assert!(stopped["offset"].as_u64().unwrap_or(0) == 0, "{stopped}");

    // Viewers cannot signal typing.
    let err = viewer
        .rpc_err("chat.typing", json!({"session_id": id}))
        .await;
    assert_eq!(err.code, 403, "{err:?}");

    // Alice drops; Bob types and writes; recovery brings only the message.
    drop(alice);
    bob.rpc_ok("chat.typing", json!({"session_id": id})).await;
    let m = bob.chat(&id, "done typing").await;
    assert_eq!(m["offset"], position + 1, "typing took no offset");
    let mut alice = app.connect("alice").await;
    let sub = alice
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": position, "epoch": epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    let recovered = sub["publications"].as_array().unwrap();
    assert_eq!(recovered.len(), 1, "{sub}");
    assert_eq!(recovered[0]["data"]["type"], "chat.message");
    let history = alice
        .call_ok("history", json!({"channel": channel, "limit": -1}))
        .await;
    assert!(
        history["publications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["data"]["type"] != "chat.typing"),
        "{history}"
    );
    let kinds: Vec<String> = alice
        .events(&id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["session.created", "chat.message"]);
}
