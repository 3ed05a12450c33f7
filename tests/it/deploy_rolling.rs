//! Rolling restart: two `tandem` processes on one Redis, clients writing to
//! one session throughout; one node gets SIGTERM. It reports `draining` on
//! `/readyz` and refuses new WebSocket clients while its own keep working
//! (`--drain-delay`), then tells them to reconnect (3001) and exits 0; they
//! reconnect to the other node, recover, retry their in-flight write with the
//! same idempotency key, and nothing is lost or repeated.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{spawn_binary, Ended, WsClient};
use crate::redis_harness::{redis_flags, server, unique_prefix};
use crate::roaming::{server_node, Roamer};

const WRITERS: [&str; 4] = ["w0", "w1", "w2", "w3"];

async fn readyz(addr: SocketAddr) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("GET /readyz");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Runs `tandem --listen <addr> health --path <path>` (the container health
/// check); returns whether it exited 0.
fn health_probe(addr: SocketAddr, path: &str) -> bool {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TANDEM_") {
            command.env_remove(name);
        }
    }
    command
        .args(["--listen", &addr.to_string(), "health", "--path", path])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run tandem health")
        .success()
}

/// Waits until every counter is at least `at_least[i]` (within 60 s).
async fn wait_counts(counts: &[AtomicUsize], at_least: &[usize], what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while counts
        .iter()
        .zip(at_least)
        .any(|(c, min)| c.load(Ordering::SeqCst) < *min)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "writers stalled ({what})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_node_and_its_writing_clients_recover_on_the_other() {
    let redis = server();
    let prefix = unique_prefix();
    let mut flags = redis_flags(&redis.url, &prefix).to_vec();
    flags.extend(["--drain-delay", "3s"]);
    let mut a = spawn_binary(&flags).await;
    let b = spawn_binary(&flags).await;

    let mut owner = b.connect("owner").await;
    let editors: Vec<(&str, &str)> = WRITERS.iter().map(|w| (*w, "editor")).collect();
    let sid = owner.create_session("rolling restart", &editors).await;
    let b_node = server_node(&mut owner).await;

    // w0, w1 on node a; w2, w3 on node b. Reconnects go to b.
    let mut roamers = Vec::new();
    for (i, user) in WRITERS.iter().enumerate() {
        let node = if i < 2 { &a } else { &b };
        let mut roamer = Roamer::join(node.addr, user, node.token(user), &sid).await;
        roamer.targets = vec![b.addr];
        roamers.push(roamer);
    }
    let a_node = roamers[0].nodes[0].clone();
    assert_ne!(a_node, b_node);
    let start = roamers[0].last;
    assert!(roamers.iter().all(|r| r.last == start));

    let counts: Arc<Vec<AtomicUsize>> =
        Arc::new(WRITERS.iter().map(|_| AtomicUsize::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = roamers
        .into_iter()
        .enumerate()
        .map(|(i, mut roamer)| {
            let (counts, stop) = (counts.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    roamer.send(n).await;
                    n += 1;
                    counts[i].store(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (roamer, n)
            })
        })
        .collect();

    wait_counts(&counts, &[5; 4], "before SIGTERM").await;
    a.terminate();
    // Draining: out of rotation, no new clients, the connected ones still write.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (code, body) = loop {
        let (code, body) = readyz(a.addr).await;
        if body["status"] == "draining" {
            break (code, body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no draining state: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(code, 503, "{body}");
    match WsClient::try_open(a.addr).await {
        Ok(_) => panic!("a draining node accepted a new WebSocket client"),
        Err(err) => assert!(err.contains("503"), "{err}"),
    }
    assert_eq!(readyz(b.addr).await.0, 200);
    // The container health check: alive while draining, not ready.
    assert!(health_probe(a.addr, "/healthz"));
    assert!(!health_probe(a.addr, "/readyz"));
    assert!(health_probe(b.addr, "/readyz"));
    let during: Vec<usize> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    wait_counts(
        &counts,
        &[during[0] + 1, during[1] + 1, 0, 0],
        "a's clients while it drains",
    )
    .await;

    let status = a.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "SIGTERM exit: {status}");
    assert!(
        !health_probe(a.addr, "/healthz"),
        "nothing listens any more"
    );
    let after: Vec<usize> = counts
        .iter()
        .map(|c| c.load(Ordering::SeqCst) + 5)
        .collect();
    wait_counts(&counts, &after, "after the node left").await;
    stop.store(true, Ordering::SeqCst);
    let mut finished = Vec::new();
    for task in tasks {
        finished.push(task.await.expect("writer task"));
    }

    // The stored log: every write exactly once, in each writer's order.
    let events = owner.events(&sid).await;
    let top = events.last().expect("events").offset;
    let mut by_writer: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in &events {
        let event = serde_json::to_value(event).unwrap();
        if event["type"] == "chat.message" {
            let content = event["data"]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned();
            let writer = content.split('-').next().unwrap().to_owned();
            by_writer.entry(writer).or_default().push(content);
        }
    }
    for (roamer, sent) in &mut finished {
        let expected: Vec<String> = (0..*sent).map(|n| format!("{}-{n}", roamer.user)).collect();
        assert_eq!(
            by_writer.get(&roamer.user).cloned().unwrap_or_default(),
            expected,
            "{}: stored messages (lost or duplicated?)",
            roamer.user
        );
        // What each client saw: every offset once, the same as stored.
        roamer.catch_up(top).await;
        let offsets: Vec<u64> = roamer
            .seen
            .iter()
            .map(|e| e["offset"].as_u64().unwrap())
            .collect();
        assert_eq!(
            offsets,
            ((start + 1)..=top).collect::<Vec<_>>(),
            "{}",
            roamer.user
        );
        let stored: Vec<Value> = events
            .iter()
            .filter(|e| e.offset > start)
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        let seen_types: Vec<&Value> = roamer.seen.iter().map(|e| &e["type"]).collect();
        let stored_types: Vec<&Value> = stored.iter().map(|e| &e["type"]).collect();
        assert_eq!(seen_types, stored_types, "{}", roamer.user);
    }
    for (i, (roamer, _)) in finished.iter().enumerate() {
        if i < 2 {
            assert_eq!(
                roamer.ends,
                vec![Ended::Close(3001, "shutdown".into())],
                "{}",
                roamer.user
            );
            assert_eq!(
                roamer.nodes,
                vec![a_node.clone(), b_node.clone()],
                "{}",
                roamer.user
            );
        } else {
            assert!(roamer.ends.is_empty(), "{}: {:?}", roamer.user, roamer.ends);
            assert_eq!(roamer.nodes, vec![b_node.clone()]);
        }
    }
}
