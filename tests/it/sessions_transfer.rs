//! Export → import round trips and forks at an offset.

use serde_json::{json, Value};
use tandem::sessions::model::ChatMessage;
use tandem::sessions::replay::Replayed;
use tandem::sessions::transfer::SessionExport;

use crate::helpers::{session_channel, spawn_app, WsClient};

async fn export(ws: &mut WsClient, id: &str) -> SessionExport {
    let value = ws.rpc_ok("session.export", json!({"session_id": id})).await;
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("session.export is not an export ({e}): {value}"))
}

/// A message without the session it belongs to.
fn portable(m: &ChatMessage) -> Value {
    let mut v = serde_json::to_value(m).unwrap();
    v.as_object_mut().unwrap().remove("session_id");
    v
}

/// What an imported copy of `message` looks like (session id left out).
fn imported_message(message: &ChatMessage, importer: &str, origin: &str) -> Value {
    let mut v = portable(message);
    let fields = v.as_object_mut().unwrap();
    fields.insert("author".into(), json!(importer));
    fields.insert(
        "imported".into(),
        json!({"author": message.author, "session_id": origin}),
    );
    v
}

/// What an imported copy of an asset looks like.
fn imported_asset(asset: &Value, importer: &str, origin: &str) -> Value {
    let mut v = asset.clone();
    let fields = v.as_object_mut().unwrap();
    fields.insert("created_by".into(), json!(importer));
    fields.insert(
        "imported".into(),
        json!({"author": asset["created_by"], "session_id": origin}),
    );
    v
}

/// What an imported copy of `event` looks like: by the importer, marked,
/// and so is the message or asset it carries.
fn imported_event(event: &tandem::sessions::model::Event, importer: &str, origin: &str) -> Value {
    let mut v = serde_json::to_value(event).unwrap();
    v["actor"] = json!(importer);
    v["imported"] = json!({"actor": event.actor});
    match event.kind.as_str() {
        "chat.message" => {
            let message = v["data"]["message"].clone();
            v["data"]["message"]["author"] = json!(importer);
            v["data"]["message"]["imported"] =
                json!({"author": message["author"], "session_id": origin});
        }
        "asset.added" => {
            v["data"]["asset"] = imported_asset(&event.data["asset"], importer, origin);
        }
        _ => {}
    }
    v
}

/// A session with every kind of content; events listed in the comments.
async fn rich_session(alice: &mut WsClient, bob: &mut WsClient) -> String {
    let id = alice
        .rpc_ok(
            "session.create",
            json!({"name": "orig", "metadata": {"topic": "launch"},
                   "collaborators": [{"user_id": "bob", "role": "editor"}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned(); // 1
    alice.chat(&id, "hello").await; // 2
    bob.rpc_ok(
        "chat.send",
        json!({"session_id": id, "content": "thinking", "role": "assistant",
               "metadata": {"model": "m1"}, "idempotency_key": "b-1"}),
    )
    .await; // 3
    let mission = alice
        .rpc_ok(
            "mission.create",
            json!({"title": "Launch", "goal": "go", "hops": [
                {"id": "h1", "name": "prep", "steps": [{"id": "s1", "name": "check"}]}]}),
        )
        .await;
    alice
        .rpc_ok(
            "mission.link",
            json!({"session_id": id, "mission_id": mission["id"]}),
        )
        .await; // 4
    bob.rpc_ok(
        "session.mission.patch",
        json!({"session_id": id, "ops": [
            {"op": "replace", "path": "/hops/0/steps/0/status", "value": "completed"}]}),
    )
    .await; // 5
    alice
        .rpc_ok(
            "assets.add",
            json!({"session_id": id, "name": "brief", "media_type": "text/plain",
                   "content": "the brief"}),
        )
        .await; // 6
    bob.rpc_ok(
        "chat.send",
        json!({"session_id": id, "content": "tool says hi", "role": "tool"}),
    )
    .await; // 7
    alice
        .rpc_ok(
            "session.mission.patch",
            json!({"session_id": id, "ops": [
                {"op": "add", "path": "/hops/-", "value": {"id": "h2", "name": "fly"}}]}),
        )
        .await; // 8
    alice
        .rpc_ok(
            "assets.add",
            json!({"session_id": id, "name": "map", "media_type": "image/png",
                   "uri": "https://example.com/map.png", "scope": {"kind": "hop", "hop_id": "h2"}}),
        )
        .await; // 9
    alice
        .rpc_ok(
            "session.update",
            json!({"session_id": id, "name": "orig v2", "metadata": {"phase": 2}}),
        )
        .await; // 10
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_round_trips_the_content() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let id = rich_session(&mut alice, &mut bob).await;
    let original = export(&mut alice, &id).await;
    assert_eq!(original.format, "tandem.session/1");
    assert_eq!(original.events.len(), 10);
    assert_eq!(original.messages.len(), 3);

    // Carol (no access to the original) imports it and owns the copy.
    let mut carol = app.connect("carol").await;
    carol.subscribe_ok("user:carol", json!({})).await;
    let doc = serde_json::to_value(&original).unwrap();
    let imported = carol.rpc_ok("session.import", json!({"export": doc})).await;
    let copy_id = imported["id"].as_str().unwrap().to_owned();
    assert_ne!(copy_id, id);
    let notice = carol.expect_notice("carol", "session.added").await;
    assert_eq!(notice["session"]["id"], copy_id.as_str());
    let copy = export(&mut carol, &copy_id).await;

    // The session: same content, new id and owner; a document grants no
    // access, so the importer is its only collaborator.
    assert_eq!(copy.session.owner, "carol");
    assert_eq!(copy.session.name, original.session.name);
    assert_eq!(copy.session.metadata, original.session.metadata);
    assert_eq!(copy.session.status, original.session.status);
    assert_eq!(copy.session.message_count, 3);
    let roles: Vec<(String, String)> = copy
        .session
        .collaborators
        .iter()
        .map(|c| (c.user_id.clone(), format!("{:?}", c.role)))
        .collect();
    assert_eq!(roles, vec![("carol".into(), "Owner".into())]);
    assert_eq!(
        alice
            .rpc_err("session.get", json!({"session_id": copy_id}))
            .await
            .code,
        404,
        "the original owner has no access to the copy"
    );
    // Messages: same content, role, offset, metadata, key and id; authored
    // by the importer, with the original author kept as the imported mark.
    assert_eq!(
        copy.messages.iter().map(portable).collect::<Vec<_>>(),
        original
            .messages
            .iter()
            .map(|m| imported_message(m, "carol", &id))
            .collect::<Vec<_>>()
    );
    assert!(copy
        .messages
        .iter()
        .all(|m| m.session_id.to_string() == copy_id));
    // Mission: same hops and revision, its own id, linked to the copy.
    let (m1, m2) = (
        original.mission.clone().unwrap(),
        copy.mission.clone().unwrap(),
    );
    assert_eq!(m2.hops, m1.hops);
    assert_eq!(m2.revision, m1.revision);
    assert_eq!(
        (&m2.title, &m2.goal, m2.status),
        (&m1.title, &m1.goal, m1.status)
    );
    assert_ne!(m2.id, m1.id);
    assert_eq!(m2.session_id.map(|s| s.to_string()), Some(copy_id.clone()));
    assert_eq!(copy.session.mission_id, Some(m2.id));
    // Assets as they were, added by the importer, marked as imported.
    assert_eq!(
        copy.assets
            .iter()
            .map(|a| serde_json::to_value(a).unwrap())
            .collect::<Vec<_>>(),
        original
            .assets
            .iter()
            .map(|a| imported_asset(&serde_json::to_value(a).unwrap(), "carol", &id))
            .collect::<Vec<_>>()
    );
    // The copied history, each event by the importer with its original actor
    // kept as the imported mark, then one session.imported event.
    let n = original.events.len();
    assert_eq!(
        copy.events[..n]
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect::<Vec<_>>(),
        original.events[..]
            .iter()
            .map(|e| imported_event(e, "carol", &id))
            .collect::<Vec<_>>()
    );
    assert_eq!(copy.events.len(), n + 1);
    let last = &copy.events[n];
    assert_eq!(last.kind, "session.imported");
    assert_eq!(last.actor, "carol");
    assert_eq!(last.data["from"], json!({"session_id": id}));

    // The copy's stream continues at the next offset; the original is untouched.
    let channel = session_channel(&copy_id);
    let sub = carol.subscribe_ok(&channel, json!({})).await;
    let mut offset = sub["offset"].as_u64().unwrap();
    assert_eq!(offset, n as u64 + 1);
    let m = carol.chat(&copy_id, "mine now").await;
    assert_eq!(m["offset"], n as u64 + 2);
    carol
        .next_event(&channel, "chat.message", &mut offset)
        .await;
    assert_eq!(alice.events(&id).await.len(), n);
    assert_eq!(
        alice
            .rpc_ok("chat.history", json!({"session_id": id}))
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Importing the copy's export again gives the same content once more.
    let again = carol
        .rpc_ok(
            "session.import",
            json!({"export": serde_json::to_value(&copy).unwrap()}),
        )
        .await;
    let again = export(&mut carol, again["id"].as_str().unwrap()).await;
    // The history imported before keeps its marks; the copy's own closing
    // event is now imported too, by the same importer.
    assert_eq!(again.events[..n], copy.events[..n]);
    assert_eq!(again.events[n].kind, "session.imported");
    assert_eq!(
        again.events[n].imported,
        Some(tandem::sessions::model::ImportedEvent {
            actor: "carol".into()
        })
    );
    assert_eq!(again.messages.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_at_an_offset_keeps_the_history_up_to_it() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let id = rich_session(&mut alice, &mut bob).await;
    let original = export(&mut alice, &id).await;

    // Bob (an editor) forks at offset 6: messages 2 and 3, the mission after
    // its first patch (5), the first asset (6).
    let fork = bob
        .rpc_ok("session.fork", json!({"session_id": id, "at_offset": 6}))
        .await;
    let fork_id = fork["id"].as_str().unwrap().to_owned();
    assert_eq!(fork["owner"], "bob");
    // (The name is taken from the session as it is now, with a suffix.)
    assert!(
        fork["name"].as_str().unwrap().ends_with(" (fork)"),
        "{fork}"
    );
    assert_eq!(fork["status"], "active");
    assert_eq!(
        fork["collaborators"].as_array().unwrap().len(),
        1,
        "only the caller: {fork}"
    );
    assert_eq!(fork["collaborators"][0]["user_id"], "bob");
    assert_eq!(fork["collaborators"][0]["role"], "owner");
    assert_eq!(fork["metadata"], json!({"topic": "launch"}));
    let forked = export(&mut bob, &fork_id).await;
    assert_eq!(
        forked.messages.iter().map(portable).collect::<Vec<_>>(),
        original
            .messages
            .iter()
            .filter(|m| m.offset <= 6)
            .map(portable)
            .collect::<Vec<_>>()
    );
    assert_eq!(forked.session.message_count, 2);
    // The mission as it was at offset 6: what replaying 1..=6 gives.
    let mut then = Replayed::default();
    then.apply_all(&original.events[..6]).unwrap();
    let was = then.mission.clone().unwrap();
    let mission = forked.mission.clone().expect("the forked mission");
    assert_eq!(mission.hops, was.hops);
    assert_eq!(mission.hops.len(), 1, "the second hop came later");
    assert_eq!(mission.revision, was.revision);
    assert_ne!(mission.id, was.id);
    assert_eq!(forked.assets, then.assets);
    assert_eq!(forked.assets.len(), 1);
    assert_eq!(forked.events[..6], original.events[..6]);
    assert_eq!(forked.events.len(), 7);
    assert_eq!(forked.events[6].kind, "session.forked");
    assert_eq!(
        forked.events[6].data["from"],
        json!({"session_id": id, "offset": 6})
    );
    // Alice cannot see Bob's fork; the original is unchanged.
    assert_eq!(
        alice
            .rpc_err("session.get", json!({"session_id": fork_id}))
            .await
            .code,
        404
    );
    assert_eq!(export(&mut alice, &id).await.events, original.events);

    // The fork's stream continues at the next offset.
    let channel = session_channel(&fork_id);
    let sub = bob.subscribe_ok(&channel, json!({})).await;
    let mut offset = sub["offset"].as_u64().unwrap();
    assert_eq!(offset, 7);
    bob.rpc_ok(
        "session.mission.patch",
        json!({"session_id": fork_id, "base_revision": was.revision,
               "ops": [{"op": "replace", "path": "/goal", "value": "forked"}]}),
    )
    .await;
    bob.next_event(&channel, "mission.updated", &mut offset)
        .await;
    let m = bob.chat(&fork_id, "on my branch").await;
    assert_eq!(m["offset"], 9);
    bob.next_event(&channel, "chat.message", &mut offset).await;

    // Without an offset, the fork takes everything so far.
    let whole = alice
        .rpc_ok("session.fork", json!({"session_id": id}))
        .await;
    let whole = export(&mut alice, whole["id"].as_str().unwrap()).await;
    assert_eq!(whole.session.name, "orig v2 (fork)");
    assert_eq!(whole.messages.len(), 3);
    assert_eq!(whole.assets, original.assets);
    assert_eq!(whole.events[..10], original.events[..]);
}

/// A client rebuilding an imported or forked session from its stream (the
/// copied history plus the `session.imported`/`session.forked` event) gets
/// the server's snapshot, as `replay.rs` promises for every stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_an_imported_or_forked_stream_gives_its_snapshot() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut bob = app.connect("bob").await;
    let id = rich_session(&mut alice, &mut bob).await;
    let doc = serde_json::to_value(export(&mut alice, &id).await).unwrap();
    let imported = alice.rpc_ok("session.import", json!({"export": doc})).await;
    let forked = alice
        .rpc_ok("session.fork", json!({"session_id": id, "at_offset": 7}))
        .await;
    let mut problems = Vec::new();
    for (what, copy) in [("import", imported), ("fork", forked)] {
        let copy_id = copy["id"].as_str().unwrap();
        let doc = export(&mut alice, copy_id).await;
        let snapshot = alice.snapshot(copy_id).await;
        let mut state = Replayed::default();
        state.apply_all(&doc.events).unwrap();
        if state.session.as_ref() != Some(&snapshot.session) {
            problems.push(format!(
                "{what}: session: replayed {:?} vs snapshot {:?}",
                state.session, snapshot.session
            ));
        }
        if state.mission != snapshot.mission {
            problems.push(format!("{what}: mission differs"));
        }
        if state.assets != snapshot.assets {
            problems.push(format!("{what}: assets differ"));
        }
        if state.messages != doc.messages {
            problems.push(format!(
                "{what}: messages: replayed session ids {:?} vs stored {:?}",
                state
                    .messages
                    .iter()
                    .map(|m| m.session_id)
                    .collect::<Vec<_>>(),
                doc.messages
                    .iter()
                    .map(|m| m.session_id)
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
