//! Every sessions RPC method over the wire: results, the event each write
//! puts on `session:<id>` at the next offset, bad input (422 / 413 naming the
//! limit), wrong roles (403) and unknown or invisible ids (404).

use serde_json::{json, Value};

use crate::helpers::{session_channel, spawn_app, WsClient};

/// A mission with one hop of two tool steps.
fn mission_input(title: &str) -> Value {
    json!({
        "title": title,
        "goal": "ship it",
        "hops": [{
            "id": "h1", "name": "research",
            "steps": [
                {"id": "s1", "name": "search", "tool": "web", "inputs": {"q": "tandem"}},
                {"id": "s2", "name": "summarise", "tool": "llm"}
            ]
        }]
    })
}

/// Every write is acknowledged with its result and published as one event
/// (or two, for a status change) at the next offsets; reads return the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_an_event_at_the_next_offset_and_reads_agree() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut watcher = app.connect("bob").await;

    let created = alice
        .rpc_ok(
            "session.create",
            json!({"name": "  Plan  ", "metadata": {"team": "red"},
                   "collaborators": [{"user_id": "bob", "role": "viewer"}]}),
        )
        .await;
    assert_eq!(created["name"], "Plan", "names are trimmed: {created}");
    assert_eq!(created["owner"], "alice");
    assert_eq!(created["status"], "active");
    assert_eq!(created["metadata"], json!({"team": "red"}));
    assert_eq!(created["message_count"], 0);
    let roles: Vec<(&str, &str)> = created["collaborators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["user_id"].as_str().unwrap(), c["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, vec![("alice", "owner"), ("bob", "viewer")]);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&id).unwrap().get_version_num(),
        7,
        "ids are UUIDv7"
    );
    let channel = session_channel(&id);
    let sub = watcher.subscribe_ok(&channel, json!({})).await;
    let mut offset = sub["offset"].as_u64().unwrap();
    assert_eq!(offset, 1, "session.created is the first event: {sub}");
    let sid = json!({"session_id": id});

    // session.get: the snapshot and the position it reflects.
    let snap = alice.rpc_ok("session.get", sid.clone()).await;
    assert_eq!(snap["session"], created, "{snap}");
    assert_eq!(snap["role"], "owner");
    assert_eq!(snap["position"]["offset"], 1);
    assert_eq!(snap["position"]["epoch"], sub["epoch"]);
    assert_eq!(snap["messages"], json!([]));
    assert!(snap["mission"].is_null(), "{snap}");
    assert_eq!(snap["collaborators"], created["collaborators"]);
    let bob_view = watcher.rpc_ok("session.get", sid.clone()).await;
    assert_eq!(bob_view["role"], "viewer");

    // session.update
    let updated = alice
        .rpc_ok(
            "session.update",
            json!({"session_id": id, "name": "Plan B", "metadata": {"team": null, "phase": 2}}),
        )
        .await;
    assert_eq!(updated["name"], "Plan B");
    assert_eq!(
        updated["metadata"],
        json!({"phase": 2}),
        "null removes a key"
    );
    let e = watcher
        .next_event(&channel, "session.updated", &mut offset)
        .await;
    assert_eq!(e["actor"], "alice");
    assert_eq!(
        e["data"],
        json!({"name": "Plan B", "metadata": {"phase": 2}})
    );

    // chat.send (with role and metadata) and chat.history
    let m1 = alice
        .rpc_ok(
            "chat.send",
            json!({"session_id": id, "content": "hello", "metadata": {"lang": "en"}}),
        )
        .await;
    assert_eq!(m1["role"], "user", "default role: {m1}");
    assert_eq!(m1["author"], "alice");
    assert_eq!(m1["offset"], offset + 1, "the message knows its offset");
    let e = watcher
        .next_event(&channel, "chat.message", &mut offset)
        .await;
    assert_eq!(e["data"]["message"]["id"], m1["id"]);
    assert_eq!(e["data"]["message"]["metadata"], json!({"lang": "en"}));
    let m2 = alice
        .rpc_ok(
            "chat.send",
            json!({"session_id": id, "content": "beep", "role": "assistant"}),
        )
        .await;
    assert_eq!(m2["role"], "assistant");
    let e = watcher
        .next_event(&channel, "chat.message", &mut offset)
        .await;
    assert_eq!(e["data"]["message"]["content"], "beep");
    let history = watcher
        .rpc_ok("chat.history", json!({"session_id": id}))
        .await;
    assert_eq!(history, json!([m1, m2]), "viewers read history");
    let page = watcher
        .rpc_ok(
            "chat.history",
            json!({"session_id": id, "before": m2["offset"], "limit": 1}),
        )
        .await;
    assert_eq!(page, json!([m1]));
    let page = watcher
        .rpc_ok(
            "chat.history",
            json!({"session_id": id, "after": m1["offset"]}),
        )
        .await;
    assert_eq!(page, json!([m2]));

    // mission.create (unlinked: no event), mission.get, mission.link
    let mission = alice.rpc_ok("mission.create", mission_input("Ship")).await;
    assert_eq!(mission["revision"], 1);
    assert_eq!(mission["status"], "proposed");
    assert!(mission["session_id"].is_null());
    let mission_id = mission["id"].as_str().unwrap().to_owned();
    let mid = json!({"mission_id": mission_id});
    assert_eq!(alice.rpc_ok("mission.get", mid.clone()).await, mission);
    assert_eq!(
        watcher.rpc_err("mission.get", mid.clone()).await.code,
        404,
        "an unlinked mission is its owner's only"
    );
    // An unlinked mission is patched by its owner without any stream.
    let draft = alice
        .rpc_ok(
            "mission.patch",
            json!({"mission_id": mission_id,
                   "ops": [{"op": "replace", "path": "/goal", "value": "ship it well"}]}),
        )
        .await;
    assert_eq!(draft["revision"], 2);
    assert_eq!(
        alice.rpc_err("session.mission", sid.clone()).await.code,
        404,
        "no mission linked yet"
    );
    let linked = alice
        .rpc_ok(
            "mission.link",
            json!({"session_id": id, "mission_id": mission_id}),
        )
        .await;
    assert_eq!(linked["session_id"], id.as_str());
    assert_eq!(linked["revision"], 3, "linking is a change");
    let e = watcher
        .next_event(&channel, "mission.linked", &mut offset)
        .await;
    assert_eq!(e["data"]["mission"], linked);
    assert_eq!(watcher.rpc_ok("session.mission", sid.clone()).await, linked);
    assert_eq!(
        watcher.rpc_ok("mission.get", mid.clone()).await,
        linked,
        "linked missions are visible to collaborators"
    );
    // Linking again to the same session returns it; a second mission is refused.
    assert_eq!(
        alice
            .rpc_ok(
                "mission.link",
                json!({"session_id": id, "mission_id": mission_id}),
            )
            .await,
        linked
    );
    let other = alice.rpc_ok("mission.create", mission_input("Other")).await;
    let err = alice
        .rpc_err(
            "mission.link",
            json!({"session_id": id, "mission_id": other["id"]}),
        )
        .await;
    assert_eq!(err.code, 422, "{err:?}");

    // mission.patch (by mission id) and session.mission.patch
    let patched = alice
        .rpc_ok(
            "mission.patch",
            json!({"mission_id": mission_id, "base_revision": 3,
                   "ops": [{"op": "replace", "path": "/hops/0/steps/0/status", "value": "running"}]}),
        )
        .await;
    assert_eq!(patched["revision"], 4);
    assert_eq!(patched["hops"][0]["steps"][0]["status"], "running");
    let e = watcher
        .next_event(&channel, "mission.updated", &mut offset)
        .await;
    assert_eq!(e["data"]["base_revision"], 3);
    assert_eq!(e["data"]["revision"], 4);
    assert_eq!(e["data"]["mission_id"], mission_id.as_str());
    assert_eq!(
        e["data"]["patch"],
        json!([{"op": "replace", "path": "/hops/0/steps/0/status", "value": "running"}])
    );
    let patched = alice
        .rpc_ok(
            "session.mission.patch",
            json!({"session_id": id,
                   "ops": [{"op": "add", "path": "/hops/0/steps/0/outputs", "value": {"hits": 3}}]}),
        )
        .await;
    assert_eq!(patched["revision"], 5);
    assert_eq!(
        patched["hops"][0]["steps"][0]["outputs"],
        json!({"hits": 3})
    );
    watcher
        .next_event(&channel, "mission.updated", &mut offset)
        .await;

    // assets.add (session, mission and hop scope) and assets.list
    let a1 = alice
        .rpc_ok(
            "assets.add",
            json!({"session_id": id, "name": "notes", "media_type": "text/plain",
                   "content": "hello", "metadata": {"k": 1}}),
        )
        .await;
    assert_eq!(a1["scope"], json!({"kind": "session"}));
    assert_eq!(a1["created_by"], "alice");
    let e = watcher
        .next_event(&channel, "asset.added", &mut offset)
        .await;
    assert_eq!(e["data"]["asset"], a1);
    let a2 = alice
        .rpc_ok(
            "assets.add",
            json!({"session_id": id, "name": "spec", "media_type": "application/pdf",
                   "uri": "https://example.com/spec.pdf", "scope": {"kind": "mission"}}),
        )
        .await;
    watcher
        .next_event(&channel, "asset.added", &mut offset)
        .await;
    let a3 = alice
        .rpc_ok(
            "assets.add",
            json!({"session_id": id, "name": "hits", "media_type": "application/json",
                   "content": "[]", "scope": {"kind": "hop", "hop_id": "h1"}}),
        )
        .await;
    watcher
        .next_event(&channel, "asset.added", &mut offset)
        .await;
    assert_eq!(
        watcher.rpc_ok("assets.list", sid.clone()).await,
        json!([a1, a2, a3])
    );

    // collaborators.share (add, then change a role), collaborators.list, revoke
    let carol = alice
        .rpc_ok(
            "collaborators.share",
            json!({"session_id": id, "user_id": "carol", "role": "viewer"}),
        )
        .await;
    assert_eq!(carol["user_id"], "carol");
    assert_eq!(carol["role"], "viewer");
    let e = watcher
        .next_event(&channel, "collaborator.added", &mut offset)
        .await;
    assert_eq!(e["data"]["collaborator"], carol);
    let carol = alice
        .rpc_ok(
            "collaborators.share",
            json!({"session_id": id, "user_id": "carol", "role": "editor"}),
        )
        .await;
    assert_eq!(carol["role"], "editor");
    let e = watcher
        .next_event(&channel, "collaborator.updated", &mut offset)
        .await;
    assert_eq!(e["data"]["collaborator"]["role"], "editor");
    let list = watcher.rpc_ok("collaborators.list", sid.clone()).await;
    let users: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, vec!["alice", "bob", "carol"]);
    let revoked = alice
        .rpc_ok(
            "collaborators.revoke",
            json!({"session_id": id, "user_id": "carol"}),
        )
        .await;
    assert_eq!(revoked, json!({"revoked": true}));
    let e = watcher
        .next_event(&channel, "collaborator.removed", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"user_id": "carol"}));
    let err = alice
        .rpc_err(
            "collaborators.revoke",
            json!({"session_id": id, "user_id": "carol"}),
        )
        .await;
    assert_eq!(err.code, 404, "carol is no longer a collaborator: {err:?}");

    // Reads: list, active, stats, events, activity (no event), export.
    let list = alice.rpc_ok("session.list", json!({})).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert!(list["next_cursor"].is_null(), "{list}");
    let active = watcher.rpc_ok("session.active", json!({})).await;
    assert_eq!(active["id"], id.as_str());
    let stats = watcher.rpc_ok("session.stats", sid.clone()).await;
    assert_eq!(stats["messages"], 2, "{stats}");
    assert_eq!(stats["messages_by_author"], json!({"alice": 2}));
    assert_eq!(
        stats["messages_by_role"],
        json!({"user": 1, "assistant": 1})
    );
    assert_eq!(stats["events"], offset, "{stats}");
    assert_eq!(stats["events_by_type"]["asset.added"], 3);
    assert_eq!(
        stats["steps_by_status"],
        json!({"running": 1, "pending": 1})
    );
    let events = watcher.events(&id).await;
    assert_eq!(
        events.iter().map(|e| e.offset).collect::<Vec<_>>(),
        (1..=offset).collect::<Vec<_>>()
    );
    assert_eq!(events[0].kind, "session.created");
    let tail = watcher
        .rpc_ok(
            "session.events",
            json!({"session_id": id, "from": offset - 1, "limit": 1}),
        )
        .await;
    assert_eq!(tail.as_array().unwrap().len(), 1);
    assert_eq!(tail[0]["offset"], offset - 1);
    for method in ["activity", "session.activity"] {
        let touched = watcher.rpc_ok(method, sid.clone()).await;
        assert_eq!(touched["id"], id.as_str(), "{method}: {touched}");
        assert_eq!(touched["status"], "active");
    }
    let export = watcher.rpc_ok("session.export", sid.clone()).await;
    assert_eq!(export["format"], "tandem.session/1");
    assert_eq!(export["messages"], json!([m1, m2]));
    assert_eq!(export["events"].as_array().unwrap().len() as u64, offset);
    assert_eq!(
        watcher.events(&id).await.len() as u64,
        offset,
        "activity adds no event"
    );

    // Lifecycle: complete, archive, restore (each a status event).
    for (method, from, to) in [
        ("session.complete", "active", "completed"),
        ("session.archive", "completed", "archived"),
        ("session.restore", "archived", "active"),
    ] {
        let s = alice.rpc_ok(method, sid.clone()).await;
        assert_eq!(s["status"], to, "{method}: {s}");
        let e = watcher
            .next_event(&channel, "session.status_changed", &mut offset)
            .await;
        assert_eq!(e["data"], json!({"from": from, "to": to}), "{method}");
    }

    // session.delete: the last event, then the session is gone.
    let deleted = alice.rpc_ok("session.delete", sid.clone()).await;
    assert_eq!(deleted, json!({"deleted": true}));
    let e = watcher
        .next_event(&channel, "session.deleted", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"session_id": id}));
    assert_eq!(alice.rpc_err("session.get", sid.clone()).await.code, 404);
    assert_eq!(alice.rpc_err("session.delete", sid.clone()).await.code, 404);
    let list = alice.rpc_ok("session.list", json!({})).await;
    assert_eq!(list["items"], json!([]), "{list}");
    assert_eq!(watcher.rpc_err("session.active", json!({})).await.code, 404);
}

/// `session.list` filters by status and name and pages with a cursor.
#[tokio::test]
async fn session_list_filters_and_pages() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut ids = Vec::new();
    for name in ["alpha one", "beta", "alpha two"] {
        ids.push(alice.create_session(name, &[]).await);
    }
    alice
        .rpc_ok("session.complete", json!({"session_id": ids[1]}))
        .await;
    // Newest activity first.
    let all = alice.rpc_ok("session.list", json!({})).await;
    let names: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["beta", "alpha two", "alpha one"], "{all}");
    let q = alice.rpc_ok("session.list", json!({"q": "ALPHA"})).await;
    assert_eq!(q["items"].as_array().unwrap().len(), 2, "{q}");
    let done = alice
        .rpc_ok("session.list", json!({"status": "completed"}))
        .await;
    assert_eq!(done["items"].as_array().unwrap().len(), 1, "{done}");
    assert_eq!(done["items"][0]["id"], ids[1].as_str());
    let first = alice.rpc_ok("session.list", json!({"limit": 2})).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a next cursor");
    let second = alice
        .rpc_ok("session.list", json!({"limit": 2, "cursor": cursor}))
        .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["items"][0]["name"], "alpha one");
    assert!(second["next_cursor"].is_null());
    let err = alice
        .rpc_err("session.list", json!({"cursor": "garbage"}))
        .await;
    assert_eq!(err.code, 422, "{err:?}");
    // session.active skips completed sessions; others see nothing.
    let active = alice.rpc_ok("session.active", json!({})).await;
    assert_eq!(active["name"], "alpha two");
    let mut bob = app.connect("bob").await;
    let list = bob.rpc_ok("session.list", json!({})).await;
    assert_eq!(list["items"], json!([]));
}

/// Limits small enough to hit with a few bytes.
const SMALL_LIMITS: &[&str] = &[
    "--max-message-bytes",
    "64",
    "--max-patch-ops",
    "2",
    "--max-collaborators",
    "2",
    "--max-name-chars",
    "10",
    "--max-metadata-bytes",
    "64",
    "--max-asset-bytes",
    "32",
];

async fn expect_err(ws: &mut WsClient, method: &str, data: Value, code: u64, needle: &str) {
    let err = ws.rpc_err(method, data.clone()).await;
    assert_eq!(err.code, code, "{method} {data}: {err:?}");
    assert!(
        err.message.contains(needle),
        "{method} {data}: message {:?} should mention {needle:?}",
        err.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_422_and_oversized_input_413_naming_the_limit() {
    let app = spawn_app(SMALL_LIMITS).await;
    let mut alice = app.connect("alice").await;
    let ws = &mut alice;

    // session.create
    expect_err(ws, "session.create", json!({"name": "  "}), 422, "empty").await;
    expect_err(ws, "session.create", json!({}), 422, "invalid params").await;
    expect_err(
        ws,
        "session.create",
        json!({"name": "x".repeat(11)}),
        413,
        "10 characters",
    )
    .await;
    expect_err(
        ws,
        "session.create",
        json!({"name": "ok", "metadata": {"pad": "x".repeat(64)}}),
        413,
        "64 bytes",
    )
    .await;
    expect_err(
        ws,
        "session.create",
        json!({"name": "ok", "collaborators": [
            {"user_id": "b", "role": "editor"}, {"user_id": "c", "role": "viewer"}]}),
        413,
        "2 per session",
    )
    .await;
    expect_err(
        ws,
        "session.create",
        json!({"name": "ok", "collaborators": [{"user_id": "b", "role": "owner"}]}),
        422,
        "one owner",
    )
    .await;
    expect_err(
        ws,
        "session.create",
        json!({"name": "ok", "collaborators": [{"user_id": "", "role": "viewer"}]}),
        422,
        "user ids",
    )
    .await;
    expect_err(
        ws,
        "session.create",
        json!({"name": "ok", "collaborators": [{"user_id": "b", "role": "admin"}]}),
        422,
        "invalid params",
    )
    .await;
    // Exactly at the limits is fine.
    let id = ws
        .rpc_ok(
            "session.create",
            json!({"name": "x".repeat(10), "collaborators": [{"user_id": "b", "role": "editor"}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sid = json!({"session_id": id});

    // Session ids must be UUIDs.
    expect_err(
        ws,
        "session.get",
        json!({"session_id": "nope"}),
        422,
        "invalid params",
    )
    .await;
    expect_err(ws, "session.get", json!({}), 422, "session_id").await;

    // session.update
    expect_err(ws, "session.update", sid.clone(), 422, "nothing to update").await;
    expect_err(
        ws,
        "session.update",
        json!({"session_id": id, "name": "y".repeat(11)}),
        413,
        "10 characters",
    )
    .await;
    expect_err(
        ws,
        "session.update",
        json!({"session_id": id, "metadata": {"pad": "x".repeat(64)}}),
        413,
        "64 bytes",
    )
    .await;

    // chat.send
    let send = |content: Value| json!({"session_id": id, "content": content});
    expect_err(ws, "chat.send", send(json!("   ")), 422, "empty").await;
    expect_err(
        ws,
        "chat.send",
        send(json!("x".repeat(65))),
        413,
        "64 bytes",
    )
    .await;
    ws.rpc_ok("chat.send", send(json!("x".repeat(64)))).await;
    expect_err(
        ws,
        "chat.send",
        json!({"session_id": id, "content": "hi", "idempotency_key": "k".repeat(129)}),
        422,
        "idempotency keys",
    )
    .await;
    expect_err(
        ws,
        "chat.send",
        json!({"session_id": id, "content": "hi", "metadata": {"pad": "x".repeat(64)}}),
        413,
        "64 bytes",
    )
    .await;
    expect_err(
        ws,
        "chat.send",
        json!({"session_id": id, "content": "hi", "role": "robot"}),
        422,
        "invalid params",
    )
    .await;
    expect_err(
        ws,
        "chat.history",
        json!({"session_id": id, "before": "x"}),
        422,
        "invalid params",
    )
    .await;

    // missions
    expect_err(
        ws,
        "mission.create",
        mission_input(&"t".repeat(11)),
        413,
        "10 characters",
    )
    .await;
    let dup = json!({"title": "dup", "hops": [{"id": "h", "name": "a"}, {"id": "h", "name": "b"}]});
    expect_err(ws, "mission.create", dup, 422, "hop ids").await;
    let mission = ws.rpc_ok("mission.create", mission_input("m")).await;
    ws.rpc_ok(
        "mission.link",
        json!({"session_id": id, "mission_id": mission["id"]}),
    )
    .await;
    let op = json!({"op": "replace", "path": "/goal", "value": "g"});
    expect_err(
        ws,
        "session.mission.patch",
        json!({"session_id": id, "ops": [op, op, op]}),
        413,
        "2 operations",
    )
    .await;
    expect_err(
        ws,
        "mission.patch",
        json!({"mission_id": mission["id"], "ops": [op, op, op]}),
        413,
        "2 operations",
    )
    .await;
    expect_err(
        ws,
        "session.mission.patch",
        json!({"session_id": id, "ops": []}),
        422,
        "at least one operation",
    )
    .await;
    expect_err(
        ws,
        "session.mission.patch",
        json!({"session_id": id, "ops": [{"op": "replace", "path": "/owner", "value": "eve"}]}),
        422,
        "/owner is read-only",
    )
    .await;
    expect_err(
        ws,
        "session.mission.patch",
        json!({"session_id": id, "ops": [{"op": "replace", "path": "/revision", "value": 99}]}),
        422,
        "/revision is read-only",
    )
    .await;
    expect_err(
        ws,
        "session.mission.patch",
        json!({"session_id": id, "ops": [{"op": "remove", "path": "/hops/7"}]}),
        422,
        "patch failed",
    )
    .await;
    expect_err(
        ws,
        "session.mission.patch",
        json!({"session_id": id, "ops": [{"op": "replace", "path": "/status", "value": "exploded"}]}),
        422,
        "not valid",
    )
    .await;
    expect_err(
        ws,
        "session.mission.patch",
        json!({"session_id": id, "ops": [{"op": "frobnicate", "path": "/goal"}]}),
        422,
        "invalid params",
    )
    .await;
    expect_err(
        ws,
        "session.mission.patch",
        json!({"session_id": id, "ops": [{"op": "add", "path": "/hops/-",
               "value": {"id": "h2", "name": "x", "steps": [{"id": "s1", "name": "again"}]}}]}),
        422,
        "step ids",
    )
    .await;

    // assets
    let asset = |extra: Value| {
        let mut v = json!({"session_id": id, "name": "a", "media_type": "text/plain"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    expect_err(ws, "assets.add", asset(json!({})), 422, "exactly one").await;
    expect_err(
        ws,
        "assets.add",
        asset(json!({"content": "x", "uri": "https://e.com"})),
        422,
        "exactly one",
    )
    .await;
    expect_err(
        ws,
        "assets.add",
        asset(json!({"content": "x".repeat(33)})),
        413,
        "32 bytes",
    )
    .await;
    expect_err(
        ws,
        "assets.add",
        asset(json!({"content": "x", "media_type": "text"})),
        422,
        "media_type",
    )
    .await;
    expect_err(
        ws,
        "assets.add",
        asset(json!({"content": "x", "name": "n".repeat(11)})),
        413,
        "10 characters",
    )
    .await;
    expect_err(
        ws,
        "assets.add",
        asset(json!({"content": "x", "scope": {"kind": "hop", "hop_id": "nope"}})),
        422,
        "no hop",
    )
    .await;
    ws.rpc_ok("assets.add", asset(json!({"content": "x".repeat(32)})))
        .await;

    // collaborators (the session has 2: at the limit)
    expect_err(
        ws,
        "collaborators.share",
        json!({"session_id": id, "user_id": "c", "role": "viewer"}),
        413,
        "2 per session",
    )
    .await;
    expect_err(
        ws,
        "collaborators.share",
        json!({"session_id": id, "user_id": "b", "role": "owner"}),
        422,
        "ownership",
    )
    .await;
    expect_err(
        ws,
        "collaborators.share",
        json!({"session_id": id, "user_id": "alice", "role": "viewer"}),
        422,
        "owner",
    )
    .await;
    expect_err(
        ws,
        "collaborators.revoke",
        json!({"session_id": id, "user_id": "alice"}),
        422,
        "owner cannot be removed",
    )
    .await;

    // fork, import, events
    let top = ws.snapshot(&id).await.position.offset;
    expect_err(
        ws,
        "session.fork",
        json!({"session_id": id, "at_offset": 0}),
        422,
        &format!("between 1 and {top}"),
    )
    .await;
    expect_err(
        ws,
        "session.fork",
        json!({"session_id": id, "at_offset": top + 1}),
        422,
        &format!("between 1 and {top}"),
    )
    .await;
    let mut export = ws.rpc_ok("session.export", sid.clone()).await;
    let good = export.clone();
    export["format"] = json!("other/1");
    expect_err(
        ws,
        "session.import",
        json!({"export": export}),
        422,
        "format",
    )
    .await;
    let mut gap = good.clone();
    gap["events"].as_array_mut().unwrap().remove(1);
    expect_err(
        ws,
        "session.import",
        json!({"export": gap}),
        422,
        "expected offset 2",
    )
    .await;
    let mut orphan = good.clone();
    orphan["messages"][0]["offset"] = json!(top + 5);
    expect_err(
        ws,
        "session.import",
        json!({"export": orphan}),
        422,
        "offset of its event",
    )
    .await;
    expect_err(
        ws,
        "session.import",
        json!({"export": {}}),
        422,
        "invalid params",
    )
    .await;
    expect_err(
        ws,
        "session.events",
        json!({"session_id": id, "from": -1}),
        422,
        "invalid params",
    )
    .await;
}

/// Viewers read but cannot write (403); only the owner shares, revokes and
/// deletes (403 for editors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_roles_get_403() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut editor = app.connect("ed").await;
    let mut viewer = app.connect("vi").await;
    let id = alice
        .create_session("roles", &[("ed", "editor"), ("vi", "viewer")])
        .await;
    let mission = alice.rpc_ok("mission.create", mission_input("m")).await;
    let mission_id = mission["id"].as_str().unwrap().to_owned();
    alice
        .rpc_ok(
            "mission.link",
            json!({"session_id": id, "mission_id": mission_id}),
        )
        .await;
    let sid = json!({"session_id": id});
    let op = json!([{"op": "replace", "path": "/goal", "value": "g"}]);
    let viewer_writes = [
        ("chat.send", json!({"session_id": id, "content": "hi"})),
        ("chat.typing", json!({"session_id": id})),
        ("session.update", json!({"session_id": id, "name": "x"})),
        ("session.complete", sid.clone()),
        ("session.archive", sid.clone()),
        (
            "mission.patch",
            json!({"mission_id": mission_id, "ops": op}),
        ),
        (
            "session.mission.patch",
            json!({"session_id": id, "ops": op}),
        ),
        (
            "assets.add",
            json!({"session_id": id, "name": "a", "media_type": "text/plain", "content": "x"}),
        ),
        (
            "collaborators.share",
            json!({"session_id": id, "user_id": "x", "role": "viewer"}),
        ),
        (
            "collaborators.revoke",
            json!({"session_id": id, "user_id": "ed"}),
        ),
        ("session.delete", sid.clone()),
    ];
    for (method, data) in viewer_writes {
        let err = viewer.rpc_err(method, data).await;
        assert_eq!(err.code, 403, "viewer {method}: {err:?}");
        assert!(err.message.starts_with("forbidden"), "{method}: {err:?}");
    }
    // A viewer cannot link a mission either (their own unlinked one).
    let own = viewer.rpc_ok("mission.create", mission_input("v")).await;
    let other = alice.create_session("other", &[("vi", "viewer")]).await;
    let err = viewer
        .rpc_err(
            "mission.link",
            json!({"session_id": other, "mission_id": own["id"]}),
        )
        .await;
    assert_eq!(err.code, 403, "{err:?}");
    // Editors write, but only the owner shares, revokes and deletes.
    editor.chat(&id, "editors write").await;
    for (method, data) in [
        (
            "collaborators.share",
            json!({"session_id": id, "user_id": "x", "role": "viewer"}),
        ),
        (
            "collaborators.revoke",
            json!({"session_id": id, "user_id": "vi"}),
        ),
        ("session.delete", sid.clone()),
    ] {
        let err = editor.rpc_err(method, data).await;
        assert_eq!(err.code, 403, "editor {method}: {err:?}");
        assert!(err.message.contains("owner"), "{method}: {err:?}");
    }
    // Nothing of the refused writes reached the stream.
    let events = alice.events(&id).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["session.created", "mission.linked", "chat.message"],
        "{events:?}"
    );
    // Reads stay open to viewers.
    for (method, data) in [
        ("session.get", sid.clone()),
        ("chat.history", sid.clone()),
        ("session.events", sid.clone()),
        ("session.export", sid.clone()),
        ("session.stats", sid.clone()),
        ("collaborators.list", sid.clone()),
        ("assets.list", sid.clone()),
        ("session.mission", sid.clone()),
        ("mission.get", json!({"mission_id": mission_id})),
    ] {
        viewer.rpc_ok(method, data).await;
    }
}

/// A session (or mission) that does not exist, or that the caller does not
/// collaborate on, is 404 for every method: ids leak nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_and_strangers_get_404() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut mallory = app.connect("mallory").await;
    let id = alice.create_session("private", &[]).await;
    let mission = alice.rpc_ok("mission.create", mission_input("m")).await;
    let mission_id = mission["id"].as_str().unwrap().to_owned();
    alice
        .rpc_ok(
            "mission.link",
            json!({"session_id": id, "mission_id": mission_id}),
        )
        .await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let mallorys_mission = mallory
        .rpc_ok("mission.create", mission_input("mine"))
        .await;
    let op = json!([{"op": "replace", "path": "/goal", "value": "g"}]);
    let calls = |sid: &str| {
        vec![
            ("session.get", json!({"session_id": sid})),
            ("session.update", json!({"session_id": sid, "name": "x"})),
            ("session.delete", json!({"session_id": sid})),
            ("session.complete", json!({"session_id": sid})),
            ("session.archive", json!({"session_id": sid})),
            ("session.restore", json!({"session_id": sid})),
            ("session.reopen", json!({"session_id": sid})),
            ("activity", json!({"session_id": sid})),
            ("session.activity", json!({"session_id": sid})),
            ("session.events", json!({"session_id": sid})),
            ("session.export", json!({"session_id": sid})),
            ("session.fork", json!({"session_id": sid})),
            ("session.stats", json!({"session_id": sid})),
            ("collaborators.list", json!({"session_id": sid})),
            (
                "collaborators.share",
                json!({"session_id": sid, "user_id": "x", "role": "viewer"}),
            ),
            (
                "collaborators.revoke",
                json!({"session_id": sid, "user_id": "alice"}),
            ),
            ("chat.send", json!({"session_id": sid, "content": "hi"})),
            ("chat.history", json!({"session_id": sid})),
            ("chat.typing", json!({"session_id": sid})),
            (
                "mission.link",
                json!({"session_id": sid, "mission_id": mallorys_mission["id"]}),
            ),
            ("session.mission", json!({"session_id": sid})),
            (
                "session.mission.patch",
                json!({"session_id": sid, "ops": op}),
            ),
            ("assets.list", json!({"session_id": sid})),
            (
                "assets.add",
                json!({"session_id": sid, "name": "a", "media_type": "text/plain", "content": "x"}),
            ),
        ]
    };
    for sid in [id.as_str(), unknown.as_str()] {
        for (method, data) in calls(sid) {
            let err = mallory.rpc_err(method, data).await;
            assert_eq!(err.code, 404, "mallory {method} on {sid}: {err:?}");
            assert!(err.message.contains("not found"), "{method}: {err:?}");
        }
    }
    for mid in [mission_id.as_str(), unknown.as_str()] {
        for (method, data) in [
            ("mission.get", json!({"mission_id": mid})),
            ("mission.patch", json!({"mission_id": mid, "ops": op})),
        ] {
            let err = mallory.rpc_err(method, data).await;
            assert_eq!(err.code, 404, "mallory {method} on {mid}: {err:?}");
        }
    }
    // Alice cannot link a mission she does not own.
    let err = alice
        .rpc_err(
            "mission.link",
            json!({"session_id": id, "mission_id": mallorys_mission["id"]}),
        )
        .await;
    assert_eq!(err.code, 404, "{err:?}");
    // The owner asking about unknown things.
    let err = alice
        .rpc_err(
            "collaborators.revoke",
            json!({"session_id": id, "user_id": "nobody"}),
        )
        .await;
    assert_eq!(err.code, 404, "{err:?}");
    // The session is untouched.
    assert_eq!(alice.events(&id).await.len(), 2);
}
