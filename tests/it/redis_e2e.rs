//! End to end over WebSockets with the Redis engine: one node, then two nodes
//! sharing one Redis and prefix.

use serde_json::{json, Value};

use super::helpers::TestApp;
use super::redis_harness::unique_prefix;

async fn redis_app(prefix: &str) -> TestApp {
    super::redis_harness::redis_app(prefix, &[]).await
}

fn offset(v: &Value) -> u64 {
    v["offset"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn chat_flows_and_a_dropped_client_recovers() {
    let prefix = unique_prefix();
    let app = redis_app(&prefix).await;
    let mut alice = app.connect("alice").await;
    let created = alice
        .call_ok(
            "rpc",
            json!({"method": "session.create", "data": {"name": "Trip", "collaborators": [{"user_id": "bob", "role": "editor"}]}}),
        )
        .await;
    let session_id = created["data"]["id"]
        .as_str()
        .or_else(|| created["data"]["session"]["id"].as_str())
        .unwrap_or_else(|| panic!("session id in {created}"))
        .to_owned();
    let channel = format!("session:{session_id}");
    let sub = alice.subscribe_ok(&channel, json!({})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let start = offset(&sub);
    let mut bob = app.connect("bob").await;
    bob.subscribe_ok(&channel, json!({})).await;

    let sent = bob
        .call_ok(
            "rpc",
            json!({"method": "chat.send", "data": {"session_id": session_id, "content": "hello"}}),
        )
        .await;
    assert!(sent.get("data").is_some(), "{sent}");
    let push = alice.expect_push(&channel, "pub").await;
    assert_eq!(offset(&push), start + 1, "{push}");
    assert_eq!(push["data"]["type"], "chat.message", "{push}");
    assert_eq!(push["data"]["offset"], start + 1, "{push}");
    bob.expect_push(&channel, "pub").await;

    // Alice drops; two messages go by; she comes back and recovers both.
    let last = start + 1;
    drop(alice);
    for text in ["one", "two"] {
        bob.call_ok(
            "rpc",
            json!({"method": "chat.send", "data": {"session_id": session_id, "content": text}}),
        )
        .await;
    }
    let mut alice = app.connect("alice").await;
    let sub = alice
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": last, "epoch": epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    let recovered: Vec<u64> = sub["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(offset)
        .collect();
    assert_eq!(recovered, vec![last + 1, last + 2], "{sub}");
    assert_eq!(
        sub["publications"][1]["data"]["data"]["message"]["content"], "two",
        "{sub}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_nodes_deliver_the_same_events_in_the_same_order() {
    let prefix = unique_prefix();
    let node_a = redis_app(&prefix).await;
    let node_b = redis_app(&prefix).await;
    let mut alice = node_a.connect("alice").await;
    let created = alice
        .call_ok(
            "rpc",
            json!({"method": "session.create", "data": {"name": "Shared", "collaborators": [{"user_id": "bob", "role": "editor"}]}}),
        )
        .await;
    let session_id = created["data"]["id"]
        .as_str()
        .or_else(|| created["data"]["session"]["id"].as_str())
        .unwrap_or_else(|| panic!("session id in {created}"))
        .to_owned();
    let channel = format!("session:{session_id}");
    let sub_a = alice.subscribe_ok(&channel, json!({})).await;
    let mut bob = node_b.connect("bob").await;
    let sub_b = bob.subscribe_ok(&channel, json!({})).await;
    assert_eq!(sub_a["epoch"], sub_b["epoch"]);
    let start = offset(&sub_b);

    // Concurrent writers on both nodes.
    let mut writer_a = node_a.connect("alice").await;
    let mut writer_b = node_b.connect("bob").await;
    let sid = session_id.clone();
    let a = tokio::spawn(async move {
        for i in 0..10 {
            writer_a
                .call_ok("rpc", json!({"method": "chat.send", "data": {"session_id": sid, "content": format!("a{i}")}}))
                .await;
        }
    });
    let sid = session_id.clone();
    let b = tokio::spawn(async move {
        for i in 0..10 {
            writer_b
                .call_ok("rpc", json!({"method": "chat.send", "data": {"session_id": sid, "content": format!("b{i}")}}))
                .await;
        }
    });
    a.await.unwrap();
    b.await.unwrap();
    let mut seen_a = Vec::new();
    let mut seen_b = Vec::new();
    for _ in 0..20 {
        let p = alice.expect_push(&channel, "pub").await;
        seen_a.push((offset(&p), p["data"]["data"]["message"]["content"].clone()));
        let p = bob.expect_push(&channel, "pub").await;
        seen_b.push((offset(&p), p["data"]["data"]["message"]["content"].clone()));
    }
    assert_eq!(seen_a, seen_b, "same events, same order on both nodes");
    let offsets: Vec<u64> = seen_a.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (start + 1..=start + 20).collect::<Vec<_>>());

    // Bob drops from node B and recovers on node A exactly what he missed.
    let epoch = sub_b["epoch"].as_str().unwrap().to_owned();
    let last = start + 20;
    drop(bob);
    for text in ["x", "y", "z"] {
        alice
            .call_ok(
                "rpc",
                json!({"method": "chat.send", "data": {"session_id": session_id, "content": text}}),
            )
            .await;
    }
    let mut bob = node_a.connect("bob").await;
    let sub = bob
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": last, "epoch": epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    let recovered: Vec<Value> = sub["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["data"]["data"]["message"]["content"].clone())
        .collect();
    assert_eq!(recovered, vec![json!("x"), json!("y"), json!("z")], "{sub}");
    node_a.shutdown().await.unwrap();
    node_b.shutdown().await.unwrap();
}

/// Spins `threads` OS threads until dropped: a busy machine.
struct CpuPressure {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl CpuPressure {
    fn start(threads: usize) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for CpuPressure {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Two fresh nodes started while every core is busy: each is ready when it
/// starts serving, and many clients subscribing at once on both get their
/// replies promptly (within the helpers' 5 s receive bound), none failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_started_under_cpu_pressure_subscribe_promptly() {
    let _pressure = CpuPressure::start(4);
    let prefix = unique_prefix();
    let node_a = redis_app(&prefix).await;
    let node_b = redis_app(&prefix).await;
    for node in [&node_a, &node_b] {
        let ready = reqwest::get(format!("http://{}/readyz", node.addr))
            .await
            .unwrap();
        assert_eq!(
            ready.status(),
            200,
            "a node accepts clients only when ready"
        );
    }
    let mut owner = node_a.connect("alice").await;
    let mut sessions = Vec::new();
    for i in 0..4 {
        let id = owner
            .create_session(&format!("busy {i}"), &[("bob", "editor")])
            .await;
        sessions.push(id);
    }
    let mut tasks = Vec::new();
    for i in 0..24 {
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        let mut ws = node.connect(if i % 3 == 0 { "alice" } else { "bob" }).await;
        let channel = format!("session:{}", sessions[i % sessions.len()]);
        tasks.push(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let reply = ws.subscribe(&channel, json!({})).await;
            (reply, started.elapsed())
        }));
    }
    for task in tasks {
        let (reply, took) = task.await.unwrap();
        assert!(
            reply.get("error").is_none(),
            "subscribe failed after {took:?}: {reply}"
        );
    }
}
