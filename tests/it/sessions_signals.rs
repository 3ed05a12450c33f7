//! Live-only signals and notices: who is editing what, the coalesced
//! `session.activity` notice on personal feeds, and `GET /api/info`.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{session_channel, spawn_app};

#[tokio::test]
async fn editing_signals_reach_the_session_live_and_viewers_cannot_send_them() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let mut carol = app.connect("carol").await;
    let id = alice
        .create_session("edit", &[("bob", "editor"), ("carol", "viewer")])
        .await;
    let channel = session_channel(&id);
    alice.subscribe_ok(&channel, json!({})).await;
    bob.rpc_ok(
        "mission.editing",
        json!({"session_id": id, "path": "/hops/0/name"}),
    )
    .await;
    let publication = alice
        .expect_push_where(&channel, "pub", |p| p["data"]["type"] == "mission.editing")
        .await;
    assert!(
        publication.get("offset").is_none(),
        "never stored: {publication}"
    );
    assert_eq!(publication["data"]["actor"], "bob");
    assert_eq!(publication["data"]["data"], json!({"path": "/hops/0/name"}));
    bob.rpc_ok("mission.editing", json!({"session_id": id, "path": null}))
        .await;
    let done = alice
        .expect_push_where(&channel, "pub", |p| p["data"]["type"] == "mission.editing")
        .await;
    assert_eq!(done["data"]["data"], json!({"path": null}));
    assert_eq!(
        carol
            .rpc_err(
                "mission.editing",
                json!({"session_id": id, "path": "/title"})
            )
            .await
            .code,
        403
    );
    assert_eq!(
        bob.rpc_err(
            "mission.editing",
            json!({"session_id": id, "path": "title"})
        )
        .await
        .code,
        422,
        "a path is a JSON pointer"
    );
    assert_eq!(alice.events(&id).await.len(), 1, "nothing stored");
}

#[tokio::test]
async fn activity_notices_are_coalesced_and_the_latest_state_arrives() {
    let app = spawn_app(&["--activity-notice-interval", "300ms"]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let id = alice.create_session("busy", &[("bob", "editor")]).await;
    bob.subscribe_ok("user:bob", json!({})).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    for i in 0..6 {
        alice.chat(&id, &format!("m{i}")).await;
    }
    // The first write goes out at once; the rest are held and the latest
    // state follows within the interval.
    let first = bob.expect_notice("bob", "session.activity").await;
    assert_eq!(first["session_id"], id.as_str());
    let mut last = first;
    while last["message_count"] != 6 {
        let next = bob.expect_notice("bob", "session.activity").await;
        assert!(next["message_count"].as_u64() > last["message_count"].as_u64());
        last = next;
    }
    assert_eq!(last["event"], "chat.message");
    assert_eq!(last["actor"], "alice");
    assert_eq!(last["offset"], 7);
    assert!(last["last_activity_at"].is_string());
    let extra = bob
        .buffered()
        .iter()
        .filter(|m| m["push"]["pub"]["data"]["type"] == "session.activity")
        .count();
    assert_eq!(extra, 0, "six writes made at most a few notices");
}

#[tokio::test]
async fn server_info_says_whether_dev_mode_is_on_without_a_token() {
    for (flags, dev) in [(vec![], false), (vec!["--dev"], true)] {
        let app = spawn_app(&flags).await;
        let info: serde_json::Value = reqwest::get(format!("http://{}/api/info", app.addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["name"], "tandem");
        assert_eq!(info["dev"], dev);
        assert_eq!(info["engine"], "memory");
        assert!(info["version"].is_string());
    }
}
