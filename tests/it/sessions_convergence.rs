//! Convergence of concurrent editors, load-then-subscribe without gap or
//! duplicate, and idempotent retries (SPEC §4.2, §4.3).
//!
//! The concurrent writes mix the WebSocket RPC methods and the REST API: both
//! call the same service and put the same events on the stream.

use serde_json::{json, Value};
use tandem::sessions::model::Event;
use tandem::sessions::replay::Replayed;
use tandem::sessions::transfer::SessionExport;

use crate::helpers::{session_channel, spawn_app, Rest, WsClient};

const USERS: [&str; 5] = ["u1", "u2", "u3", "u4", "u5"];
/// Chat messages per client (200 in total).
const MESSAGES_EACH: usize = 40;
/// Mission patches per client (100 in total).
const PATCHES_EACH: usize = 20;

fn event_of(publication: &Value) -> Event {
    serde_json::from_value(publication["data"].clone())
        .unwrap_or_else(|e| panic!("publication data is not an event ({e}): {publication}"))
}

/// The revision a 409 message names ("... the mission is at revision N").
fn revision_in(message: &str) -> u64 {
    message
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no revision in {message:?}"))
}

/// What one editor's writes came to.
#[derive(Default, Debug)]
struct Tally {
    applied: u64,
    conflicts: u64,
    /// Conflicts of patches based on the mission's first revision (always stale).
    stale_on_purpose: u64,
}

/// One editor: chat messages interleaved with mission patches, several of
/// them editing the same tool step as the others, some conditional.
async fn write(
    mut ws: WsClient,
    rest: Rest,
    user: &'static str,
    id: String,
    mission_id: String,
    first_revision: u64,
) -> (WsClient, Tally) {
    let mut tally = Tally::default();
    let mut known = first_revision;
    // u1 → 1, …: editors take the four patch routes in different orders.
    let nth: usize = user[1..].parse().unwrap();
    let mut routes = [0u64; 4];
    let (mut sent, mut patched) = (0, 0);
    for k in 0..MESSAGES_EACH + PATCHES_EACH {
        if k % 3 != 2 || patched == PATCHES_EACH {
            sent += 1;
            let content = format!("{user} #{sent}");
            if sent % 2 == 0 {
                ws.chat(&id, &content).await;
            } else {
                let (status, body) = rest
                    .send(
                        reqwest::Method::POST,
                        &format!("/api/sessions/{id}/messages"),
                        Some(json!({"content": content})),
                    )
                    .await;
                assert_eq!(status, 201, "{user} POST message: {body}");
            }
            continue;
        }
        patched += 1;
        let i = patched;
        let (ops, base) = match i % 4 {
            // Everyone overwrites the same step's outputs: last writer wins.
            0 => (
                json!([{"op": "replace", "path": "/hops/0/steps/0/outputs",
                        "value": {"by": user, "n": i}}]),
                None,
            ),
            // The same edit, conditional on what this editor last saw.
            1 => (
                json!([{"op": "replace", "path": "/hops/0/steps/0/outputs",
                        "value": {"by": user, "n": i, "base": known}}]),
                Some(known),
            ),
            // The same step's status, based on the first revision: always stale
            // (this editor's own earlier unconditional patch moved it on).
            2 => (
                json!([{"op": "replace", "path": "/hops/0/steps/0/status", "value": "running"}]),
                Some(first_revision),
            ),
            // Unconditional, on a key of its own.
            _ => (
                json!([{"op": "add", "path": format!("/hops/0/steps/1/inputs/{user}"), "value": i}]),
                None,
            ),
        };
        let mut body = json!({"ops": ops});
        if let Some(base) = base {
            body["base_revision"] = json!(base);
        }
        // Four routes to the same edit, in turn.
        let outcome: Result<u64, (u64, u64)> = match (i + nth) % 4 {
            route @ (0 | 1) => {
                let (method, mut data) = if route == 0 {
                    ("mission.patch", json!({"mission_id": mission_id}))
                } else {
                    ("session.mission.patch", json!({"session_id": id}))
                };
                data.as_object_mut()
                    .unwrap()
                    .extend(body.as_object().unwrap().clone());
                let reply = ws.rpc(method, data).await;
                match reply["rpc"]["data"]["revision"].as_u64() {
                    Some(revision) => Ok(revision),
                    None => {
                        let err = &reply["error"];
                        assert_eq!(err["code"], 409, "{user} {method}: {reply}");
                        Err((409, revision_in(err["message"].as_str().unwrap())))
                    }
                }
            }
            route => {
                let path = if route == 2 {
                    format!("/api/missions/{mission_id}")
                } else {
                    format!("/api/sessions/{id}/mission")
                };
                let (status, reply) = rest.send(reqwest::Method::PATCH, &path, Some(body)).await;
                match status {
                    200 => Ok(reply["revision"].as_u64().unwrap()),
                    409 => {
                        assert_eq!(reply["error"]["code"], "stale_revision", "{reply}");
                        Err((409, reply["error"]["current_revision"].as_u64().unwrap()))
                    }
                    other => panic!("{user} PATCH {path}: {other} {reply}"),
                }
            }
        };
        routes[(i + nth) % 4] += 1;
        match outcome {
            Ok(revision) => {
                tally.applied += 1;
                known = revision;
            }
            Err((_, current)) => {
                tally.conflicts += 1;
                if i % 4 == 2 {
                    tally.stale_on_purpose += 1;
                }
                known = current;
            }
        }
    }
    assert_eq!((sent, patched), (MESSAGES_EACH, PATCHES_EACH));
    assert!(
        routes.iter().all(|&n| n == 5),
        "{user}: every route used: {routes:?}"
    );
    (ws, tally)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_concurrent_editors_converge_on_the_servers_snapshot() {
    let app = spawn_app(&["--max-commands-per-second", "0"]).await;
    let mut owner = app.connect("u1").await;
    let others: Vec<(&str, &str)> = USERS[1..].iter().map(|u| (*u, "editor")).collect();
    let id = owner.create_session("converge", &others).await;
    let mission = owner
        .rpc_ok(
            "mission.create",
            json!({"title": "Plan", "hops": [
                {"id": "h1", "name": "gather", "steps": [
                    {"id": "s1", "name": "search", "tool": "web"},
                    {"id": "s2", "name": "read", "tool": "fetch", "inputs": {}}
                ]},
                {"id": "h2", "name": "write", "steps": [{"id": "s3", "name": "draft"}]}
            ]}),
        )
        .await;
    let mission_id = mission["id"].as_str().unwrap().to_owned();
    let linked = owner
        .rpc_ok(
            "mission.link",
            json!({"session_id": id, "mission_id": mission_id}),
        )
        .await;
    let first_revision = linked["revision"].as_u64().unwrap();
    let channel = session_channel(&id);
    let epoch = owner.snapshot(&id).await.position.epoch;

    // Every editor subscribes before the writes, recovering from the very start.
    let mut clients = Vec::new();
    let mut received: Vec<Vec<Event>> = Vec::new();
    for user in USERS {
        let mut ws = app.connect(user).await;
        let sub = ws
            .subscribe_ok(
                &channel,
                json!({"recover": true, "offset": 0, "epoch": epoch}),
            )
            .await;
        assert_eq!(sub["recovered"], true, "{user}: {sub}");
        let recovered = sub["publications"].as_array().cloned().unwrap_or_default();
        assert_eq!(recovered.len(), 2, "created and linked: {sub}");
        received.push(recovered.iter().map(event_of).collect());
        clients.push(ws);
    }

    let writers: Vec<_> = clients
        .into_iter()
        .zip(USERS)
        .map(|(ws, user)| {
            tokio::spawn(write(
                ws,
                app.rest(user),
                user,
                id.clone(),
                mission_id.clone(),
                first_revision,
            ))
        })
        .collect();
    let mut clients = Vec::new();
    let mut tally = Tally::default();
    for writer in writers {
        let (ws, t) = writer.await.unwrap();
        tally.applied += t.applied;
        tally.conflicts += t.conflicts;
        tally.stale_on_purpose += t.stale_on_purpose;
        clients.push(ws);
    }
    let total_patches = (USERS.len() * PATCHES_EACH) as u64;
    let total_messages = (USERS.len() * MESSAGES_EACH) as u64;
    assert_eq!(tally.applied + tally.conflicts, total_patches, "{tally:?}");
    assert_eq!(
        tally.stale_on_purpose,
        (USERS.len() * PATCHES_EACH / 4) as u64,
        "every patch on the first revision is refused: {tally:?}"
    );

    let snapshot = owner.snapshot(&id).await;
    let top = snapshot.position.offset;
    let (status, over_rest) = app
        .rest("u2")
        .send(reqwest::Method::GET, &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(status, 200, "{over_rest}");
    assert_eq!(
        over_rest["session"],
        json!(snapshot.session),
        "REST and RPC agree"
    );
    assert_eq!(over_rest["mission"], json!(snapshot.mission));
    assert_eq!(over_rest["position"], json!(snapshot.position));
    assert_eq!(
        top,
        2 + total_messages + tally.applied,
        "one event per message and per applied patch: {tally:?}"
    );
    let export: SessionExport = serde_json::from_value(
        owner
            .rpc_ok("session.export", json!({"session_id": id}))
            .await,
    )
    .unwrap();
    // The full message list, also paged through chat.history.
    let mut paged: Vec<Value> = Vec::new();
    loop {
        let after = paged.last().map_or(0, |m| m["offset"].as_u64().unwrap());
        let page = owner
            .rpc_ok(
                "chat.history",
                json!({"session_id": id, "after": after, "limit": 64}),
            )
            .await;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    assert_eq!(
        serde_json::to_value(&export.messages).unwrap(),
        json!(paged)
    );
    assert_eq!(export.messages.len() as u64, total_messages);
    let mission = snapshot.mission.clone().expect("the mission");
    assert_eq!(mission.revision, first_revision + tally.applied);

    for ((user, mut ws), mut events) in USERS.into_iter().zip(clients).zip(received) {
        while events.last().map_or(0, |e| e.offset) < top {
            let publication = ws.expect_push(&channel, "pub").await;
            events.push(event_of(&publication));
        }
        let mut state = Replayed::default();
        state
            .apply_all(&events)
            .unwrap_or_else(|e| panic!("{user}: the stream has a gap or repeat: {e}"));
        assert_eq!(state.offset, top, "{user}");
        assert_eq!(
            events, export.events,
            "{user} received exactly the stored events"
        );
        assert_eq!(
            state.session.as_ref(),
            Some(&snapshot.session),
            "{user}: session"
        );
        assert_eq!(state.mission.as_ref(), Some(&mission), "{user}: mission");
        assert_eq!(state.assets, snapshot.assets, "{user}: assets");
        assert_eq!(state.messages, export.messages, "{user}: messages");
        assert_eq!(
            state.session.as_ref().map(|s| s.message_count),
            Some(total_messages)
        );
    }
}

/// A client loads the snapshot while a writer keeps sending, then subscribes
/// from the snapshot's position: snapshot + recovered + live is exactly the
/// whole sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_then_subscribe_has_no_gap_and_no_duplicate() {
    const TOTAL: u64 = 150;
    let app = spawn_app(&["--max-commands-per-second", "0"]).await;
    let mut writer = app.connect("bob").await;
    let id = writer.create_session("live", &[("alice", "viewer")]).await;
    let channel = session_channel(&id);
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0u64);
    let writing = {
        let id = id.clone();
        tokio::spawn(async move {
            for n in 1..=TOTAL {
                writer.chat(&id, &n.to_string()).await;
                progress_tx.send_replace(n);
            }
            writer
        })
    };
    progress
        .wait_for(|&n| n >= 20)
        .await
        .expect("the writer is running");

    let mut reader = app.connect("alice").await;
    let snapshot = reader.snapshot(&id).await;
    let position = snapshot.position.clone();
    let mut messages = snapshot.messages.clone();
    // The snapshot carries the newest 50; older ones are paged in.
    while (messages.len() as u64) < snapshot.session.message_count {
        let before = messages.first().map(|m| m.offset).unwrap();
        let page: Vec<tandem::sessions::model::ChatMessage> = serde_json::from_value(
            reader
                .rpc_ok(
                    "chat.history",
                    json!({"session_id": id, "before": before, "limit": 200}),
                )
                .await,
        )
        .unwrap();
        assert!(!page.is_empty(), "older messages exist");
        messages.splice(0..0, page);
    }
    assert!(
        messages.iter().all(|m| m.offset <= position.offset),
        "the snapshot reflects its position"
    );
    let sub = reader
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": position.offset, "epoch": position.epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    let mut events: Vec<Event> = sub["publications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(event_of)
        .collect();
    let writer = writing.await.unwrap();
    drop(writer);
    let top = 1 + TOTAL;
    while events.last().map_or(position.offset, |e| e.offset) < top {
        events.push(event_of(&reader.expect_push(&channel, "pub").await));
    }
    let offsets: Vec<u64> = events.iter().map(|e| e.offset).collect();
    assert_eq!(
        offsets,
        (position.offset + 1..=top).collect::<Vec<_>>(),
        "recovered + live continue the snapshot exactly"
    );
    for e in &events {
        let message: tandem::sessions::model::ChatMessage =
            serde_json::from_value(e.data["message"].clone()).unwrap();
        messages.push(tandem::sessions::model::ChatMessage {
            offset: e.offset,
            ..message
        });
    }
    let contents: Vec<String> = messages.iter().map(|m| m.content.clone()).collect();
    assert_eq!(
        contents,
        (1..=TOTAL).map(|n| n.to_string()).collect::<Vec<_>>(),
        "every message exactly once, in order"
    );
    assert!(messages.windows(2).all(|w| w[0].offset < w[1].offset));
}

/// The same idempotency key gives one message, one event, one count, however
/// often and from wherever the send is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retries_store_one_message() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let mut watcher = app.connect("bob").await;
    let id = alice.create_session("idem", &[("bob", "viewer")]).await;
    let channel = session_channel(&id);
    let sub = watcher.subscribe_ok(&channel, json!({})).await;
    let mut offset = sub["offset"].as_u64().unwrap();
    let send = json!({"session_id": id, "content": "pay once", "idempotency_key": "order-42"});
    let first = alice.rpc_ok("chat.send", send.clone()).await;
    assert_eq!(first["idempotency_key"], "order-42");
    for attempt in 2..=3 {
        let again = alice.rpc_ok("chat.send", send.clone()).await;
        assert_eq!(again, first, "attempt {attempt}");
    }
    // The connection drops; the retry comes from a new one.
    drop(alice);
    let mut alice = app.connect("alice").await;
    let again = alice.rpc_ok("chat.send", send.clone()).await;
    assert_eq!(again, first, "retry from a new connection");
    // The key wins over a changed body: the first message is returned.
    let mut changed = send.clone();
    changed["content"] = json!("pay twice?");
    assert_eq!(alice.rpc_ok("chat.send", changed).await, first);

    let e = watcher
        .next_event(&channel, "chat.message", &mut offset)
        .await;
    assert_eq!(e["data"]["message"]["id"], first["id"]);
    assert_eq!(first["offset"], offset);
    let snapshot = alice.snapshot(&id).await;
    assert_eq!(snapshot.session.message_count, 1);
    assert_eq!(snapshot.position.offset, offset, "no further events");
    let history = alice
        .rpc_ok("chat.history", json!({"session_id": id}))
        .await;
    assert_eq!(history, json!([first]));
    let kinds: Vec<String> = alice
        .events(&id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["session.created", "chat.message"]);
    // The next write is the next event: nothing was queued by the retries.
    alice.chat(&id, "next").await;
    let e = watcher
        .next_event(&channel, "chat.message", &mut offset)
        .await;
    assert_eq!(e["data"]["message"]["content"], "next");
}
