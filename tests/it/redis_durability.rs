//! Durability of the Redis engine when things die: a node killed with
//! `kill -9` mid-stream, Redis restarted with its append-only file, presence
//! of a dead node, and no acknowledgement while Redis is down. Each test runs
//! its own `redis-server`.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::helpers::{session_channel, spawn_app, spawn_binary, Rest, TestApp};
use super::redis_harness::{
    aof_incr_file, redis_flags, start_server, start_server_aof, start_server_aof_on, unique_prefix,
};

async fn redis_app(url: &str, prefix: &str) -> TestApp {
    spawn_app(&redis_flags(url, prefix)).await
}

/// Polls `/readyz` of the node at `addr` until it answers 200 (within 15 s).
async fn wait_ready(addr: SocketAddr, what: &str) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let url = format!("http://{addr}/readyz");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = http.get(&url).send().await.map(|r| r.status().as_u16());
        if matches!(status, Ok(200)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after 15s waiting for /readyz 200 ({what}); last answer: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/readyz` status of the node at `addr`.
async fn readyz(addr: SocketAddr) -> u16 {
    let http = reqwest::Client::new();
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        http.get(format!("http://{addr}/readyz")).send(),
    )
    .await
    .expect("timed out after 5s waiting for /readyz")
    .expect("GET /readyz");
    response.status().as_u16()
}

/// Creates a session owned by `rest`'s user over REST; returns its id.
async fn create_session(rest: &Rest, name: &str, collaborators: Value) -> String {
    let (status, body) = rest
        .send(
            Method::POST,
            "/api/sessions",
            Some(json!({ "name": name, "collaborators": collaborators })),
        )
        .await;
    assert_eq!(status, 201, "POST /api/sessions: {body}");
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no session id in {body}"))
        .to_owned()
}

/// Sends one chat message over REST, which must succeed; returns it.
async fn post_message(rest: &Rest, id: &str, content: &str) -> Value {
    let (status, body) = rest
        .send(
            Method::POST,
            &format!("/api/sessions/{id}/messages"),
            Some(json!({ "content": content })),
        )
        .await;
    assert_eq!(status, 201, "POST message {content:?}: {body}");
    body
}

/// Every message of a session, oldest first (`GET …/messages?after=` paging).
async fn all_messages(rest: &Rest, id: &str) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let after = all.last().map_or(0, |m| m["offset"].as_u64().unwrap());
        let (status, page) = rest
            .send(
                Method::GET,
                &format!("/api/sessions/{id}/messages?after={after}&limit=200"),
                None,
            )
            .await;
        assert_eq!(status, 200, "GET messages after {after}: {page}");
        let page = page.as_array().expect("a message array").clone();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Every event of a session (`GET …/events?from=` paging by 1000).
async fn all_events(rest: &Rest, id: &str) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let from = all.last().map_or(1, |e| e["offset"].as_u64().unwrap() + 1);
        let (status, page) = rest
            .send(
                Method::GET,
                &format!("/api/sessions/{id}/events?from={from}&limit=1000"),
                None,
            )
            .await;
        assert_eq!(status, 200, "GET events from {from}: {page}");
        let page = page.as_array().expect("an event array").clone();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Checks event offsets are exactly 1..=n and every message sits at the
/// offset of its own `chat.message` event; returns n.
fn check_log(events: &[Value], messages: &[Value]) -> u64 {
    let offsets: Vec<u64> = events
        .iter()
        .map(|e| e["offset"].as_u64().expect("event offset"))
        .collect();
    let n = offsets.len() as u64;
    assert_eq!(
        offsets,
        (1..=n).collect::<Vec<_>>(),
        "event offsets are unique and gapless from 1"
    );
    let chat_events: HashMap<u64, &Value> = events
        .iter()
        .filter(|e| e["type"] == "chat.message")
        .map(|e| (e["offset"].as_u64().unwrap(), e))
        .collect();
    let message_offsets: BTreeSet<u64> = messages
        .iter()
        .map(|m| m["offset"].as_u64().expect("message offset"))
        .collect();
    assert_eq!(
        message_offsets.len(),
        messages.len(),
        "message offsets are unique"
    );
    assert_eq!(
        message_offsets,
        chat_events.keys().copied().collect::<BTreeSet<_>>(),
        "one message per chat.message event, at that event's offset"
    );
    for message in messages {
        let event = chat_events[&message["offset"].as_u64().unwrap()];
        assert_eq!(
            event["data"]["message"]["id"], message["id"],
            "event {event} carries message {message}"
        );
    }
    n
}

/// A message a writer got `201` for.
#[derive(Debug, Clone)]
struct Acked {
    id: String,
    offset: u64,
    content: String,
}

/// Writers post messages through a `tandem` child process as fast as they can;
/// it is killed with SIGKILL mid-stream. Everything acknowledged is there,
/// offsets stay gapless, a subscriber on the other node saw every offset once,
/// the writes cut off by the kill are safe to retry there with their
/// idempotency keys, and the other node keeps writing at the next offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_stream_loses_no_acknowledged_write() {
    const WRITERS: usize = 4;
    const ACKED_BEFORE_KILL: usize = 60;
    let server = start_server("kill9");
    let prefix = unique_prefix();
    let mut child = spawn_binary(&redis_flags(&server.url, &prefix)).await;
    let node_b = redis_app(&server.url, &prefix).await;
    let rest_b = node_b.rest("alice");
    let id = create_session(&rest_b, "kill -9", json!([])).await;
    let channel = session_channel(&id);
    let mut watcher = node_b.connect("alice").await;
    let sub = watcher.subscribe_ok(&channel, json!({})).await;
    let mut seen = sub["offset"].as_u64().unwrap();
    assert_eq!(seen, 1, "only session.created so far: {sub}");

    let acked = Arc::new(Mutex::new(Vec::<Acked>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let url = format!("http://{}/api/sessions/{id}/messages", child.addr);
        let token = child.token("alice");
        let acked = acked.clone();
        let count = count.clone();
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            // Writes answered 503 (contention: never applied).
            let mut refused = Vec::new();
            for i in 0..100_000 {
                // The content doubles as the idempotency key.
                let content = format!("w{w}-{i}");
                let sent = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &content)
                    .json(&json!({ "content": content }))
                    .send()
                    .await;
                // A transport error or a body cut short: the node is gone;
                // this write is not acknowledged and may or may not be stored.
                let Ok(response) = sent else {
                    return (Some(content), refused);
                };
                let status = response.status().as_u16();
                let Ok(body) = response.json::<Value>().await else {
                    return (Some(content), refused);
                };
                match status {
                    201 => {
                        assert_eq!(body["content"], content.as_str(), "{body}");
                        acked.lock().unwrap().push(Acked {
                            id: body["id"].as_str().unwrap().to_owned(),
                            offset: body["offset"].as_u64().unwrap(),
                            content,
                        });
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    503 if refused.len() < 1000 => refused.push(content),
                    _ => panic!("writer {w}: unexpected {status}: {body}"),
                }
            }
            panic!("writer {w}: the node was not killed after 100000 writes");
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while count.load(Ordering::SeqCst) < ACKED_BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "timed out after 10s waiting for {ACKED_BEFORE_KILL} acknowledged writes through the child node (got {})",
            count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill();
    let mut in_doubt = Vec::new();
    let mut refused = Vec::new();
    for writer in writers {
        let (doubt, no) = tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .expect("timed out after 10s waiting for a writer to stop after the kill")
            .expect("writer task");
        in_doubt.extend(doubt);
        refused.extend(no);
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= ACKED_BEFORE_KILL, "{}", acked.len());

    // Through node B: every acknowledged message, at its offset.
    let messages = all_messages(&rest_b, &id).await;
    let by_id: HashMap<&str, &Value> = messages
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m))
        .collect();
    for a in &acked {
        let message = by_id
            .get(a.id.as_str())
            .unwrap_or_else(|| panic!("acknowledged message {a:?} is missing"));
        assert_eq!(message["offset"], a.offset, "{a:?} vs {message}");
        assert_eq!(message["content"], a.content.as_str(), "{a:?} vs {message}");
    }
    let events = all_events(&rest_b, &id).await;
    let top = check_log(&events, &messages);
    assert!(
        top as usize > acked.len(),
        "{top} events for {} acked messages",
        acked.len()
    );
    let (status, snapshot) = rest_b
        .send(Method::GET, &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(status, 200, "{snapshot}");
    assert_eq!(
        snapshot["position"]["offset"], top,
        "{}",
        snapshot["position"]
    );

    let by_content: HashMap<&str, &Value> = messages
        .iter()
        .map(|m| (m["content"].as_str().unwrap(), m))
        .collect();
    assert_eq!(by_content.len(), messages.len(), "no message stored twice");
    for content in &refused {
        assert!(
            !by_content.contains_key(content.as_str()),
            "a write answered 503 was stored: {content}"
        );
    }

    // B's subscriber saw every offset once, in order, across the kill.
    while seen < top {
        watcher
            .next_event(&channel, "chat.message", &mut seen)
            .await;
    }

    // The writes cut off by the kill, retried on B with their keys: the
    // stored ones come back as they are, the others are stored now.
    let mut top = top;
    let mut stored_before_retry = 0;
    for content in &in_doubt {
        let retried = rest_b
            .fetch(
                rest_b
                    .request(Method::POST, &format!("/api/sessions/{id}/messages"))
                    .header("Idempotency-Key", content)
                    .json(&json!({ "content": content })),
            )
            .await;
        assert_eq!(
            retried.status, 201,
            "retry of {content}: {:?}",
            retried.body
        );
        match by_content.get(content.as_str()) {
            Some(stored) => {
                stored_before_retry += 1;
                assert_eq!(retried.body["id"], stored["id"], "{:?}", retried.body);
                assert_eq!(
                    retried.body["offset"], stored["offset"],
                    "{:?}",
                    retried.body
                );
            }
            None => {
                top += 1;
                assert_eq!(retried.body["offset"], top, "{:?}", retried.body);
                watcher
                    .next_event(&channel, "chat.message", &mut seen)
                    .await;
            }
        }
    }

    // B keeps writing at the next offset.
    let next = post_message(&rest_b, &id, "after the kill").await;
    assert_eq!(next["offset"], top + 1, "{next}");
    watcher
        .next_event(&channel, "chat.message", &mut seen)
        .await;
    let events = all_events(&rest_b, &id).await;
    let messages = all_messages(&rest_b, &id).await;
    assert_eq!(check_log(&events, &messages), top + 1);
    eprintln!(
        "kill -9: {} acknowledged, {} cut off by the kill ({stored_before_retry} of them stored), \
         {} refused (contention); {} stored messages",
        acked.len(),
        in_doubt.len(),
        refused.len(),
        messages.len() - 1
    );
    node_b.shutdown().await.unwrap();
    server.stop();
}

/// Redis with `appendfsync always` is stopped and started again on the same
/// port and directory, with restart fencing turned off (the deployment says
/// Redis loses nothing): nothing acknowledged is lost, the epoch is the same,
/// writes continue at the next offset and a client recovers from its old
/// position.
#[tokio::test]
async fn redis_restarted_with_aof_keeps_every_write_and_the_epoch() {
    let name = "aof-restart";
    let server = start_server_aof(name);
    let port = server.port;
    let url = server.url.clone();
    let prefix = unique_prefix();
    let mut flags = redis_flags(&url, &prefix).to_vec();
    flags.extend(["--redis-new-epoch-on-restart", "false"]);
    let app = spawn_app(&flags).await;
    wait_ready(app.addr, "the node on a fresh Redis").await;
    let rest = app.rest("alice");
    let id = create_session(&rest, "aof", json!([])).await;
    let channel = session_channel(&id);
    let mut acked = Vec::new();
    for i in 0..3 {
        acked.push(post_message(&rest, &id, &format!("before-{i}")).await);
    }
    let mut alice = app.connect("alice").await;
    let sub = alice.subscribe_ok(&channel, json!({})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let mut position = sub["offset"].as_u64().unwrap();
    assert_eq!(position, 4, "{sub}");
    for i in 3..5 {
        acked.push(post_message(&rest, &id, &format!("before-{i}")).await);
        alice
            .next_event(&channel, "chat.message", &mut position)
            .await;
    }
    let (status, before) = rest
        .send(Method::GET, &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(
        before["position"],
        json!({"offset": position, "epoch": epoch}),
        "{before}"
    );

    server.stop();
    let _server = start_server_aof_on(name, port);
    wait_ready(app.addr, "the node after Redis restarted").await;

    let messages = all_messages(&rest, &id).await;
    assert_eq!(messages.len(), acked.len(), "{messages:?}");
    for (stored, sent) in messages.iter().zip(&acked) {
        assert_eq!(stored["id"], sent["id"], "{stored} vs {sent}");
        assert_eq!(stored["offset"], sent["offset"], "{stored} vs {sent}");
        assert_eq!(stored["content"], sent["content"], "{stored} vs {sent}");
    }
    let events = all_events(&rest, &id).await;
    assert_eq!(check_log(&events, &messages), position);
    let (status, after) = rest
        .send(Method::GET, &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        after["position"],
        json!({"offset": position, "epoch": epoch}),
        "the same epoch and offset after the restart: {after}"
    );

    // The node told its subscriber to recover (its pub/sub connection broke).
    let push = alice.expect_push(&channel, "unsubscribe").await;
    assert_eq!(push["code"], 2500, "{push}");

    let mut newer = Vec::new();
    for i in 0..2 {
        let sent = post_message(&rest, &id, &format!("after-{i}")).await;
        assert_eq!(sent["offset"], position + 1 + i, "{sent}");
        newer.push(sent);
    }
    let sub = alice
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": position, "epoch": epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    assert_eq!(sub["epoch"], epoch.as_str(), "{sub}");
    let recovered: Vec<(Value, Value)> = sub["publications"]
        .as_array()
        .unwrap_or_else(|| panic!("publications in {sub}"))
        .iter()
        .map(|p| {
            (
                p["offset"].clone(),
                p["data"]["data"]["message"]["id"].clone(),
            )
        })
        .collect();
    let expected: Vec<(Value, Value)> = newer
        .iter()
        .map(|m| (m["offset"].clone(), m["id"].clone()))
        .collect();
    assert_eq!(recovered, expected, "{sub}");
    app.shutdown().await.unwrap();
}

/// Redis comes back from an append-only file that lost its last writes (what
/// `appendfsync everysec` allows on a power failure): the stream keeps its
/// top offset, so new publications reuse offsets clients already saw. With
/// restart fencing (the default) every stream moves to a new epoch: a client
/// that saw the lost writes is told recovery failed and reloads, and no
/// offset is ever served twice under one epoch.
#[tokio::test]
async fn redis_restarted_from_an_aof_missing_its_last_writes_moves_streams_to_a_new_epoch() {
    let name = "aof-truncated";
    let server = start_server_aof(name);
    let (port, url, dir) = (server.port, server.url.clone(), server.dir.clone());
    let prefix = unique_prefix();
    let app = redis_app(&url, &prefix).await;
    wait_ready(app.addr, "the node on a fresh Redis").await;
    let rest = app.rest("alice");
    let id = create_session(&rest, "fenced", json!([])).await;
    let channel = session_channel(&id);
    for i in 0..3 {
        post_message(&rest, &id, &format!("kept-{i}")).await;
    }
    let aof = aof_incr_file(&dir);
    let kept_len = std::fs::metadata(&aof).unwrap().len();
    let mut alice = app.connect("alice").await;
    let sub = alice.subscribe_ok(&channel, json!({})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let kept_top = sub["offset"].as_u64().unwrap();
    let mut seen = kept_top;
    let mut lost = Vec::new();
    for i in 0..2 {
        lost.push(post_message(&rest, &id, &format!("lost-{i}")).await);
        alice.next_event(&channel, "chat.message", &mut seen).await;
    }
    assert_eq!(seen, kept_top + 2);

    // Redis stops; its append-only file loses the two last writes.
    server.stop();
    let file = std::fs::OpenOptions::new().write(true).open(&aof).unwrap();
    file.set_len(kept_len).unwrap();
    drop(file);
    let _server = start_server_aof_on(name, port);
    wait_ready(app.addr, "the node after Redis restarted").await;

    let messages = all_messages(&rest, &id).await;
    assert_eq!(messages.len(), 3, "the lost writes are gone: {messages:?}");
    // New writes take the offsets the lost ones had, in a new epoch.
    let reused = post_message(&rest, &id, "after").await;
    assert_eq!(reused["offset"], kept_top + 1, "{reused}");
    let (status, snapshot) = rest
        .send(Method::GET, &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(status, 200, "{snapshot}");
    let new_epoch = snapshot["position"]["epoch"].as_str().unwrap().to_owned();
    assert_ne!(new_epoch, epoch, "{snapshot}");

    // Alice saw offsets up to `seen` in the old epoch: she must reload, not
    // recover (offset kept_top + 1 now holds another message).
    let push = alice.expect_push(&channel, "unsubscribe").await;
    assert_eq!(push["code"], 2500, "{push}");
    let sub = alice
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": seen, "epoch": epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], Value::Null, "not recovered: {sub}");
    assert_eq!(sub["epoch"], new_epoch.as_str(), "{sub}");
    assert!(sub.get("publications").is_none(), "{sub}");
    // A client at a position that still exists reloads too: its epoch is gone.
    let mut bob_view = app.connect("alice").await;
    let sub = bob_view
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": kept_top, "epoch": epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], Value::Null, "{sub}");
    // From the new epoch on, recovery works again.
    let at = sub["offset"].as_u64().unwrap();
    let next = post_message(&rest, &id, "later").await;
    let mut late = app.connect("alice").await;
    let sub = late
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": at, "epoch": new_epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    let got: Vec<Value> = sub["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["data"]["data"]["message"]["id"].clone())
        .collect();
    assert_eq!(got, vec![next["id"].clone()], "{sub}");
    drop(lost);
    app.shutdown().await.unwrap();
}

/// A node dies with `kill -9` (no leave, no cleanup): another node stops
/// listing its client within the presence TTL.
#[tokio::test]
async fn presence_of_a_killed_node_expires_within_the_ttl() {
    const TTL: Duration = Duration::from_secs(2);
    let server = start_server("presence-kill");
    let prefix = unique_prefix();
    let flags = redis_flags(&server.url, &prefix);
    let mut child_args = flags.to_vec();
    child_args.extend(["--presence-ttl", "2s"]);
    let mut child = spawn_binary(&child_args).await;
    let node_b = redis_app(&server.url, &prefix).await;

    let mut alice = node_b.connect("alice").await;
    let id = alice.create_session("presence", &[("bob", "editor")]).await;
    let channel = session_channel(&id);
    let mut bob = child.connect("bob").await;
    bob.subscribe_ok(&channel, json!({})).await;
    let bob_id = bob.client_id.clone();
    let present = |presence: &Value| presence["presence"].get(&bob_id).is_some();

    let listed = alice.call_ok("presence", json!({"channel": channel})).await;
    assert!(
        present(&listed),
        "bob's client {bob_id} on node B: {listed}"
    );
    assert_eq!(listed["presence"][&bob_id]["user"], "bob", "{listed}");
    // Past one TTL the live node's refresh keeps bob listed.
    tokio::time::sleep(TTL + Duration::from_millis(500)).await;
    let listed = alice.call_ok("presence", json!({"channel": channel})).await;
    assert!(present(&listed), "refreshed by the live node: {listed}");

    child.kill();
    let killed = Instant::now();
    let deadline = killed + TTL + Duration::from_secs(3);
    loop {
        let listed = alice.call_ok("presence", json!({"channel": channel})).await;
        if !present(&listed) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after TTL + 3s waiting for the killed node's client {bob_id} to leave presence: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "presence: the killed node's client left after {:?}",
        killed.elapsed()
    );
    let stats = alice
        .call_ok("presence_stats", json!({"channel": channel}))
        .await;
    assert_eq!(stats["num_clients"], 0, "{stats}");
    drop(bob);
    node_b.shutdown().await.unwrap();
    server.stop();
}

/// While Redis is down every write fails fast with 503 (REST and RPC) and
/// nothing written then shows up later; once Redis is back writes succeed
/// again without restarting the node.
#[tokio::test]
async fn writes_while_redis_is_down_fail_fast_and_are_never_stored() {
    const FAST: Duration = Duration::from_secs(5);
    let name = "no-false-ack";
    let server = start_server_aof(name);
    let port = server.port;
    let prefix = unique_prefix();
    let app = redis_app(&server.url, &prefix).await;
    wait_ready(app.addr, "the node on a fresh Redis").await;
    let rest = app.rest("alice");
    let id = create_session(&rest, "outage", json!([])).await;
    let path = format!("/api/sessions/{id}/messages");
    for i in 0..2 {
        let sent = post_message(&rest, &id, &format!("before-{i}")).await;
        assert_eq!(sent["offset"], 2 + i, "{sent}");
    }
    let mut rpc = app.connect("alice").await;

    server.stop();
    assert_eq!(readyz(app.addr).await, 503, "/readyz while Redis is down");
    let mut slowest = Duration::ZERO;
    for i in 0..3 {
        let started = Instant::now();
        let response = rest
            .fetch(
                rest.request(Method::POST, &path)
                    .header("Idempotency-Key", format!("outage-key-{i}"))
                    .json(&json!({ "content": format!("outage-rest-{i}") })),
            )
            .await;
        let took = started.elapsed();
        assert_eq!(response.status, 503, "REST write #{i}: {:?}", response.body);
        assert_eq!(
            response.body["error"]["code"], "unavailable",
            "{:?}",
            response.body
        );
        assert_eq!(response.header("retry-after"), Some("1"), "{response:?}");
        assert!(took < FAST, "REST write #{i} took {took:?}");
        slowest = slowest.max(took);
    }
    for i in 0..2 {
        let started = Instant::now();
        let err = rpc
            .rpc_err(
                "chat.send",
                json!({"session_id": id, "content": format!("outage-rpc-{i}")}),
            )
            .await;
        let took = started.elapsed();
        assert_eq!(err.code, 503, "RPC write #{i}: {err:?}");
        assert!(took < FAST, "RPC write #{i} took {took:?}");
        slowest = slowest.max(took);
    }
    eprintln!("outage: the slowest refused write took {slowest:?}");

    let _server = start_server_aof_on(name, port);
    wait_ready(app.addr, "the node after Redis is back").await;
    let sent = post_message(&rest, &id, "after-rest").await;
    assert_eq!(
        sent["offset"], 4,
        "the next offset after the outage: {sent}"
    );
    let sent = rpc
        .rpc_ok(
            "chat.send",
            json!({"session_id": id, "content": "after-rpc"}),
        )
        .await;
    assert_eq!(sent["offset"], 5, "{sent}");
    // The key used during the outage was never stored: it makes a new message.
    let retried = rest
        .fetch(
            rest.request(Method::POST, &path)
                .header("Idempotency-Key", "outage-key-0")
                .json(&json!({ "content": "retried" })),
        )
        .await;
    assert_eq!(retried.status, 201, "{:?}", retried.body);
    assert_eq!(retried.body["content"], "retried", "{:?}", retried.body);
    assert_eq!(retried.body["offset"], 6, "{:?}", retried.body);

    let messages = all_messages(&rest, &id).await;
    let contents: Vec<&str> = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["before-0", "before-1", "after-rest", "after-rpc", "retried"],
        "nothing written during the outage"
    );
    let events = all_events(&rest, &id).await;
    assert_eq!(check_log(&events, &messages), 6);
    app.shutdown().await.unwrap();
}
