//! The docker-compose topology without Docker: one Redis, two nodes on the
//! Redis engine, and a TCP load balancer in front (tests/it/balancer.rs,
//! standing in for deploy/haproxy.cfg). Health answers through the balancer;
//! a client whose node goes away reconnects through the balancer, lands on
//! the other node and recovers what it missed.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use crate::balancer::Balancer;
use crate::helpers::{Ended, TestApp, WsClient};
use crate::redis_harness::{redis_app, unique_prefix};
use crate::roaming::Roamer;

async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path} through {addr}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `path` on `addr` until its JSON `status` is `want` (within 10 s).
async fn wait_status(addr: SocketAddr, path: &str, want: &str) -> (u16, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = get(addr, path).await;
        if body["status"] == want {
            return (code, body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} on {addr} never said {want}; last: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_behind_a_balancer_and_a_client_reconnecting_through_it() {
    let prefix = unique_prefix();
    let flags = ["--drain-delay", "500ms"];
    let nodes = [
        redis_app(&prefix, &flags).await,
        redis_app(&prefix, &flags).await,
    ];
    let lb = Balancer::start(nodes.iter().map(|n| n.addr).collect()).await;
    assert!(lb.is_ready(0) && lb.is_ready(1));

    // Health through the balancer, as the compose healthchecks see it.
    assert_eq!(
        get(lb.addr, "/healthz").await,
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        get(lb.addr, "/readyz").await,
        (200, json!({"status": "ready", "engine": "redis"}))
    );

    // Alice sets a session up through the balancer; alice and bob follow it
    // from different nodes (round robin).
    let token = |user: &str| nodes[0].token(user);
    let mut setup = WsClient::open(lb.addr).await;
    let reply = setup.connect(&token("alice")).await;
    assert!(reply.get("error").is_none(), "{reply}");
    let sid = setup
        .create_session("behind the balancer", &[("bob", "editor")])
        .await;
    drop(setup);
    let mut alice = Roamer::join(lb.addr, "alice", token("alice"), &sid).await;
    let mut bob = Roamer::join(lb.addr, "bob", token("bob"), &sid).await;
    assert_ne!(
        alice.nodes[0], bob.nodes[0],
        "round robin puts them on different nodes"
    );
    for n in 0..3 {
        alice.send(n).await;
        bob.send(n).await;
    }

    // Alice's node stops (what SIGTERM does; deploy_rolling.rs sends the real
    // signal): it drains, the balancer's check takes it out, alice is told to
    // reconnect.
    let [first, second] = nodes;
    let (gone, stays): (TestApp, TestApp) = if first.node.id() == alice.nodes[0] {
        (first, second)
    } else {
        (second, first)
    };
    let gone_index = lb.index_of(gone.addr);
    let gone_addr = gone.addr;
    let stopping = tokio::spawn(gone.shutdown());
    let (code, body) = wait_status(gone_addr, "/readyz", "draining").await;
    assert_eq!((code, body["engine"].clone()), (503, json!("redis")));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while lb.is_ready(gone_index) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the balancer never saw the node drain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Bob writes while alice's node drains and stops.
    for n in 3..6 {
        bob.send(n).await;
    }
    stopping.await.unwrap().expect("the node stops cleanly");

    // Alice writes again: her connection is gone (3001), she reconnects
    // through the balancer, lands on the other node, recovers bob's messages
    // and her write goes through once.
    alice.targets = vec![lb.addr];
    let mut top = 0;
    for n in 3..6 {
        let message = alice.send(n).await;
        top = message["offset"].as_u64().expect("the message's offset");
    }
    assert_eq!(alice.ends, vec![Ended::Close(3001, "shutdown".into())]);
    assert_eq!(alice.nodes.len(), 2, "{:?}", alice.nodes);
    assert_eq!(
        alice.nodes[1],
        stays.node.id(),
        "she landed on the node that stays"
    );
    assert_eq!(alice.nodes[1], bob.nodes[0]);
    assert_eq!(
        *lb.picks().last().unwrap(),
        lb.index_of(stays.addr),
        "the reconnect went through the balancer to the node that stays"
    );
    assert_eq!(
        get(lb.addr, "/readyz").await.0,
        200,
        "the balancer still serves"
    );

    // Both saw the same stream up to alice's last message; every message is
    // there exactly once.
    alice.catch_up(top).await;
    bob.catch_up(top).await;
    assert_eq!(alice.seen, bob.seen);
    let contents: Vec<&str> = alice
        .seen
        .iter()
        .filter(|e| e["type"] == "chat.message")
        .map(|e| e["data"]["message"]["content"].as_str().unwrap())
        .collect();
    let mut sorted = contents.clone();
    sorted.sort_unstable();
    let mut expected: Vec<String> = (0..6)
        .flat_map(|n| [format!("alice-{n}"), format!("bob-{n}")])
        .collect();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "in stream order: {contents:?}");
}
