//! The status machine over the wire: refused transitions (409 naming both
//! states), archived sessions being read-only, a completed mission completing
//! its session, stale base revisions, and reviving an abandoned session.

use serde_json::{json, Value};

use crate::helpers::{session_channel, spawn_app, WsClient};

fn mission_input() -> Value {
    json!({
        "title": "Ship",
        "status": "in_progress",
        "hops": [{"id": "h1", "name": "build", "steps": [
            {"id": "s1", "name": "compile", "tool": "cargo"}
        ]}]
    })
}

/// A session owned by `ws`'s user with a linked mission; returns its id.
async fn session_with_mission(ws: &mut WsClient, name: &str) -> String {
    let id = ws.create_session(name, &[]).await;
    let mission = ws.rpc_ok("mission.create", mission_input()).await;
    ws.rpc_ok(
        "mission.link",
        json!({"session_id": id, "mission_id": mission["id"]}),
    )
    .await;
    id
}

async fn refused(ws: &mut WsClient, method: &str, id: &str, from: &str, to: &str) {
    let err = ws.rpc_err(method, json!({"session_id": id})).await;
    assert_eq!(err.code, 409, "{method} from {from}: {err:?}");
    assert!(
        err.message.contains(&format!("from {from} to {to}")),
        "{method}: the message names both states: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_transitions_are_409_naming_both_states() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("status", &[]).await;
    let channel = session_channel(&id);
    let sub = alice.subscribe_ok(&channel, json!({})).await;
    let mut offset = sub["offset"].as_u64().unwrap();
    let sid = json!({"session_id": id});

    refused(&mut alice, "session.restore", &id, "active", "active").await;
    refused(&mut alice, "session.reopen", &id, "active", "active").await;
    alice.rpc_ok("session.complete", sid.clone()).await;
    alice
        .next_event(&channel, "session.status_changed", &mut offset)
        .await;
    refused(
        &mut alice,
        "session.complete",
        &id,
        "completed",
        "completed",
    )
    .await;
    refused(&mut alice, "session.reopen", &id, "completed", "active").await;
    refused(&mut alice, "session.restore", &id, "completed", "active").await;
    // Completed sessions still take writes (only archived ones are read-only).
    alice.chat(&id, "wrap-up notes").await;
    alice
        .next_event(&channel, "chat.message", &mut offset)
        .await;

    alice.rpc_ok("session.archive", sid.clone()).await;
    alice
        .next_event(&channel, "session.status_changed", &mut offset)
        .await;
    refused(&mut alice, "session.archive", &id, "archived", "archived").await;
    refused(&mut alice, "session.complete", &id, "archived", "completed").await;
    refused(&mut alice, "session.reopen", &id, "archived", "active").await;
    // Archived sessions are read-only until restored.
    for (method, data) in [
        ("chat.send", json!({"session_id": id, "content": "hi"})),
        ("session.update", json!({"session_id": id, "name": "x"})),
        (
            "assets.add",
            json!({"session_id": id, "name": "a", "media_type": "text/plain", "content": "x"}),
        ),
        (
            "collaborators.share",
            json!({"session_id": id, "user_id": "bob", "role": "viewer"}),
        ),
        ("activity", sid.clone()),
    ] {
        let err = alice.rpc_err(method, data).await;
        assert_eq!(err.code, 409, "{method} on an archived session: {err:?}");
        assert!(err.message.contains("archived"), "{method}: {err:?}");
    }
    alice.rpc_ok("session.get", sid.clone()).await;
    let restored = alice.rpc_ok("session.restore", sid.clone()).await;
    assert_eq!(restored["status"], "active");
    let e = alice
        .next_event(&channel, "session.status_changed", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"from": "archived", "to": "active"}));
    alice.chat(&id, "back").await;
    alice
        .next_event(&channel, "chat.message", &mut offset)
        .await;
    // Refused transitions left no events.
    assert_eq!(alice.events(&id).await.len() as u64, offset);
}

/// A mission reaching `completed` completes its session, through either
/// patch method, in the same commit (two events at consecutive offsets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_the_mission_completes_the_session() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    bob.subscribe_ok("user:bob", json!({})).await;
    for method in ["mission.patch", "session.mission.patch"] {
        let id = session_with_mission(&mut alice, method).await;
        alice
            .rpc_ok(
                "collaborators.share",
                json!({"session_id": id, "user_id": "bob", "role": "editor"}),
            )
            .await;
        bob.expect_notice("bob", "session.added").await;
        let channel = session_channel(&id);
        let sub = bob.subscribe_ok(&channel, json!({})).await;
        let mut offset = sub["offset"].as_u64().unwrap();
        let mission = bob
            .rpc_ok("session.mission", json!({"session_id": id}))
            .await;
        let ops = json!([
            {"op": "replace", "path": "/hops/0/steps/0/status", "value": "completed"},
            {"op": "replace", "path": "/status", "value": "completed"}
        ]);
        let data = if method == "mission.patch" {
            json!({"mission_id": mission["id"], "ops": ops})
        } else {
            json!({"session_id": id, "ops": ops})
        };
        let done = bob.rpc_ok(method, data).await;
        assert_eq!(done["status"], "completed", "{method}: {done}");
        let e = bob
            .next_event(&channel, "mission.updated", &mut offset)
            .await;
        assert_eq!(e["actor"], "bob");
        let e = bob
            .next_event(&channel, "session.status_changed", &mut offset)
            .await;
        assert_eq!(
            e["data"],
            json!({"from": "active", "to": "completed"}),
            "{method}"
        );
        assert_eq!(e["actor"], "bob");
        let notice = bob.expect_notice("bob", "session.status_changed").await;
        assert_eq!(notice["session_id"], id.as_str(), "{notice}");
        assert_eq!(notice["to"], "completed", "{notice}");
        let snap = bob.snapshot(&id).await;
        assert_eq!(snap.session.status.as_str(), "completed", "{method}");
        assert_eq!(snap.position.offset, offset);
        // Patching a completed mission again does not change the session.
        bob.rpc_ok(
            "session.mission.patch",
            json!({"session_id": id, "ops": [{"op": "replace", "path": "/goal", "value": "done"}]}),
        )
        .await;
        bob.next_event(&channel, "mission.updated", &mut offset)
            .await;
        assert_eq!(bob.events(&id).await.len() as u64, offset, "{method}");
    }
}

/// An edit based on an old revision is refused with the current revision;
/// without a base revision the edit applies to whatever is current.
#[tokio::test]
async fn stale_base_revision_is_409_with_the_current_revision() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let id = session_with_mission(&mut alice, "rev").await;
    let current = alice
        .rpc_ok("session.mission", json!({"session_id": id}))
        .await["revision"]
        .as_u64()
        .unwrap();
    let edit = |base: Option<u64>, value: &str| {
        let mut data = json!({"session_id": id,
            "ops": [{"op": "replace", "path": "/hops/0/steps/0/outputs", "value": value}]});
        if let Some(base) = base {
            data["base_revision"] = json!(base);
        }
        data
    };
    let m = alice
        .rpc_ok("session.mission.patch", edit(Some(current), "first"))
        .await;
    assert_eq!(m["revision"], current + 1);
    for stale in [current, current - 1, current + 5] {
        let err = alice
            .rpc_err("session.mission.patch", edit(Some(stale), "late"))
            .await;
        assert_eq!(err.code, 409, "base {stale}: {err:?}");
        assert!(
            err.message.contains(&format!("revision {}", current + 1)),
            "the message names the current revision: {err:?}"
        );
    }
    let m = alice
        .rpc_ok("session.mission.patch", edit(None, "unconditional"))
        .await;
    assert_eq!(m["revision"], current + 2);
    assert_eq!(m["hops"][0]["steps"][0]["outputs"], "unconditional");
    let mission = alice
        .rpc_ok("session.mission", json!({"session_id": id}))
        .await;
    assert_eq!(mission, m);
}

/// An abandoned session (here: imported as abandoned, since the sweeper does
/// not run in tests) is revived by any write, with its own status event, and
/// can be reopened explicitly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_sessions_are_revived_by_writes_and_reopen() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("idle", &[]).await;
    alice.chat(&id, "before").await;
    let mut export = alice
        .rpc_ok("session.export", json!({"session_id": id}))
        .await;
    export["session"]["status"] = json!("abandoned");
    let imported = alice
        .rpc_ok("session.import", json!({"export": export.clone()}))
        .await;
    assert_eq!(imported["status"], "abandoned");
    let copy = imported["id"].as_str().unwrap().to_owned();
    let channel = session_channel(&copy);
    let sub = alice.subscribe_ok(&channel, json!({})).await;
    let mut offset = sub["offset"].as_u64().unwrap();
    refused(
        &mut alice,
        "session.complete",
        &copy,
        "abandoned",
        "completed",
    )
    .await;
    refused(&mut alice, "session.restore", &copy, "abandoned", "active").await;
    let m = alice.chat(&copy, "I'm back").await;
    // The message's event comes first (the message carries its offset), then
    // the status change it caused.
    let e = alice
        .next_event(&channel, "chat.message", &mut offset)
        .await;
    assert_eq!(e["data"]["message"]["id"], m["id"]);
    let e = alice
        .next_event(&channel, "session.status_changed", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"from": "abandoned", "to": "active"}));

    // Reopen, on a second abandoned copy.
    let imported = alice
        .rpc_ok("session.import", json!({"export": export}))
        .await;
    let copy = imported["id"].as_str().unwrap().to_owned();
    let channel = session_channel(&copy);
    let sub = alice.subscribe_ok(&channel, json!({})).await;
    let mut offset = sub["offset"].as_u64().unwrap();
    let reopened = alice
        .rpc_ok("session.reopen", json!({"session_id": copy}))
        .await;
    assert_eq!(reopened["status"], "active");
    let e = alice
        .next_event(&channel, "session.status_changed", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"from": "abandoned", "to": "active"}));
    refused(&mut alice, "session.reopen", &copy, "active", "active").await;
}

/// A chat message that revives an abandoned session is stored with the
/// offset of its own `chat.message` event (the commit's second event, after
/// `session.status_changed`), in the reply, in `chat.history` and in what a
/// client replaying the stream gets.
#[tokio::test]
async fn a_message_reviving_a_session_has_the_offset_of_its_event() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("idle", &[]).await;
    let mut export = alice
        .rpc_ok("session.export", json!({"session_id": id}))
        .await;
    export["session"]["status"] = json!("abandoned");
    let imported = alice
        .rpc_ok("session.import", json!({"export": export}))
        .await;
    let copy = imported["id"].as_str().unwrap().to_owned();
    let m = alice
        .rpc_ok(
            "chat.send",
            json!({"session_id": copy, "content": "I'm back", "idempotency_key": "k1"}),
        )
        .await;
    let events = alice.events(&copy).await;
    let event = events
        .iter()
        .find(|e| e.kind == "chat.message")
        .expect("a chat.message event");
    let history = alice
        .rpc_ok("chat.history", json!({"session_id": copy}))
        .await;
    let retry = alice
        .rpc_ok(
            "chat.send",
            json!({"session_id": copy, "content": "I'm back", "idempotency_key": "k1"}),
        )
        .await;
    let mut replayed = tandem::sessions::replay::Replayed::default();
    replayed.apply_all(&events).unwrap();
    assert_eq!(
        (
            m["offset"].as_u64(),
            history[0]["offset"].as_u64(),
            retry["offset"].as_u64()
        ),
        (Some(event.offset), Some(event.offset), Some(event.offset)),
        "reply, chat.history and idempotent retry vs the event ({events:?})"
    );
    assert_eq!(replayed.messages, alice.snapshot(&copy).await.messages);
}
