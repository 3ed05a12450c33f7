//! Tandem nodes on a real local Redis Cluster (see `redis_cluster_harness`):
//! one order per session across nodes, recovery on the other node, sessions
//! spread over every master, the index repair after a crash between a
//! session's atomic step and its index update, and a master killed with
//! `kill -9` while its replica takes over.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use super::helpers::{spawn_app, TestApp, WsClient};
use super::redis_cluster_harness::{
    cli, cluster, cluster_flags, keyslot, kill9, master_of_slot, masters_of, start_cluster, Cluster,
};
use super::redis_harness::unique_prefix;
use tandem::sessions::model::SessionStatus;

async fn cluster_app(cluster: &Cluster, prefix: &str, extra: &[&str]) -> TestApp {
    let flags = cluster_flags(cluster, prefix);
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    spawn_app(&args).await
}

fn offset(v: &Value) -> u64 {
    v["offset"].as_u64().unwrap_or(0)
}

async fn chat(client: &mut WsClient, session: &str, text: &str) {
    client
        .call_ok(
            "rpc",
            json!({"method": "chat.send", "data": {"session_id": session, "content": text}}),
        )
        .await;
}

/// Ids of the sessions `user`'s list shows on `client`.
async fn listed(client: &mut WsClient) -> BTreeSet<String> {
    let list = client.rpc_ok("session.list", json!({"limit": 100})).await;
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items in {list}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Ids in the sweeper's index of active sessions, read through the engine.
async fn idle_active(app: &TestApp) -> BTreeSet<String> {
    let far = Utc::now() + chrono::Duration::days(365);
    app.engine
        .due_sessions(SessionStatus::Active, far, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|id| id.to_string())
        .collect()
}

#[tokio::test]
async fn two_nodes_on_a_cluster_keep_one_order_and_recover_on_the_other_node() {
    let cluster = cluster();
    let prefix = unique_prefix();
    let node_a = cluster_app(cluster, &prefix, &[]).await;
    let node_b = cluster_app(cluster, &prefix, &[]).await;
    let mut alice = node_a.connect("alice").await;
    let session = alice.create_session("Shared", &[("bob", "editor")]).await;
    let channel = format!("session:{session}");
    let sub_a = alice.subscribe_ok(&channel, json!({})).await;
    let mut bob = node_b.connect("bob").await;
    let sub_b = bob.subscribe_ok(&channel, json!({})).await;
    assert_eq!(sub_a["epoch"], sub_b["epoch"]);
    let epoch = sub_b["epoch"].as_str().unwrap().to_owned();
    let start = offset(&sub_b);

    // Writers on both nodes at once: one order, seen alike on both nodes.
    let mut writer_a = node_a.connect("alice").await;
    let mut writer_b = node_b.connect("bob").await;
    let sid = session.clone();
    let a = tokio::spawn(async move {
        for i in 0..8 {
            chat(&mut writer_a, &sid, &format!("a{i}")).await;
        }
    });
    let sid = session.clone();
    let b = tokio::spawn(async move {
        for i in 0..8 {
            chat(&mut writer_b, &sid, &format!("b{i}")).await;
        }
    });
    a.await.unwrap();
    b.await.unwrap();
    let mut seen_a = Vec::new();
    let mut seen_b = Vec::new();
    for _ in 0..16 {
        let p = alice.expect_push(&channel, "pub").await;
        seen_a.push((offset(&p), p["data"]["data"]["message"]["content"].clone()));
        let p = bob.expect_push(&channel, "pub").await;
        seen_b.push((offset(&p), p["data"]["data"]["message"]["content"].clone()));
    }
    assert_eq!(seen_a, seen_b, "same events, same order on both nodes");
    let offsets: Vec<u64> = seen_a.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (start + 1..=start + 16).collect::<Vec<_>>());

    // Alice leaves node A; two messages go by; she comes back on node B
    // and recovers exactly those two, in order, then gets the next one live once.
    let last = start + 16;
    drop(alice);
    chat(&mut bob, &session, "while away 1").await;
    chat(&mut bob, &session, "while away 2").await;
    let mut alice = node_b.connect("alice").await;
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
    chat(&mut bob, &session, "live").await;
    let live = alice.expect_push(&channel, "pub").await;
    assert_eq!(offset(&live), last + 3, "{live}");
    assert_eq!(live["data"]["data"]["message"]["content"], "live");
    // Nothing comes twice: the next push is the next message.
    chat(&mut bob, &session, "next").await;
    let next = alice.expect_push(&channel, "pub").await;
    assert_eq!(offset(&next), last + 4, "{next}");
    node_a.shutdown().await.unwrap();
    node_b.shutdown().await.unwrap();
}

#[tokio::test]
async fn sessions_spread_over_all_three_masters_and_every_index_finds_them() {
    let cluster = cluster();
    let prefix = unique_prefix();
    let node = cluster_app(cluster, &prefix, &[]).await;
    let mut alice = node.connect("alice").await;
    let port = cluster.servers[0].port;
    let mut per_master: BTreeMap<u16, usize> = BTreeMap::new();
    let mut created = BTreeSet::new();
    for i in 0..40 {
        let id = alice.create_session(&format!("s{i}"), &[]).await;
        let record = format!("{prefix}:{{{id}}}:record");
        let slot = keyslot(port, &record);
        assert_eq!(slot, tandem::engine::redis::key_slot(record.as_bytes()));
        // Every key of the session shares the slot.
        assert_eq!(keyslot(port, &format!("{prefix}:{{{id}}}:stream")), slot);
        let master = master_of_slot(port, slot).expect("an owner for every slot");
        let count: u64 = cli(master, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])
            .parse()
            .unwrap();
        assert!(count >= 1, "the record is on the slot's master");
        *per_master.entry(master).or_default() += 1;
        created.insert(id);
    }
    let masters: BTreeSet<u16> = masters_of(port).into_iter().map(|(_, _, p)| p).collect();
    assert_eq!(masters.len(), 3);
    assert_eq!(
        per_master.keys().copied().collect::<BTreeSet<_>>(),
        masters,
        "sessions on every master: {per_master:?}"
    );
    // The global indexes (other slots) list them all.
    assert!(created.is_subset(&listed(&mut alice).await));
    assert!(created.is_subset(&idle_active(&node).await));
    node.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_crash_between_the_atomic_step_and_the_index_update_is_repaired() {
    let cluster = cluster();
    let prefix = unique_prefix();
    // This node "crashes" right after every atomic step: it never updates
    // the indexes, and its own repair would come only in an hour.
    let crashing = cluster_app(
        cluster,
        &prefix,
        &[
            "--test-fault-skip-index-update",
            "true",
            "--redis-repair-interval",
            "1h",
        ],
    )
    .await;
    let mut alice = crashing.connect("alice").await;
    let id = alice.create_session("Lost?", &[("bob", "viewer")]).await;
    // The write itself is there (one atomic step) ...
    alice.rpc_ok("session.get", json!({"session_id": id})).await;
    // ... but its index entries are not: the fault is real.
    assert!(!listed(&mut alice).await.contains(&id));
    assert!(!idle_active(&crashing).await.contains(&id));
    let pending: u64 = (0..16)
        .map(|shard| {
            let key = format!("{prefix}:{{ixq-{shard}}}:pending");
            cli(cluster.servers[0].port, &["-c", "ZCARD", &key])
                .parse::<u64>()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(pending, 1, "the update is journaled as pending");

    // Another node's repair task (interval 1s) replays the journal.
    let healthy = cluster_app(cluster, &prefix, &["--redis-repair-interval", "1s"]).await;
    let mut bob = healthy.connect("bob").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let in_list = listed(&mut alice).await.contains(&id);
        let bob_sees = listed(&mut bob).await.contains(&id);
        let in_idle = idle_active(&healthy).await.contains(&id);
        if in_list && bob_sees && in_idle {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not repaired: list {in_list}, bob {bob_sees}, idle {in_idle}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    crashing.shutdown().await.unwrap();
    healthy.shutdown().await.unwrap();
}

/// Retries a chat until a node answers (the cluster is failing over).
async fn chat_until_stored(app: &TestApp, user: &str, session: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut client = app.connect(user).await;
        let reply = client
            .call(
                "rpc",
                json!({"method": "chat.send", "data": {"session_id": session, "content": text, "idempotency_key": text.replace(' ', "-")}}),
            )
            .await;
        if reply.get("error").is_none() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never stored during the failover: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_master_killed_during_writes_loses_no_acknowledged_write() {
    let cluster = start_cluster("failover", 1);
    let prefix = unique_prefix();
    let extra = [
        "--redis-wait-replicas",
        "1",
        "--redis-repair-interval",
        "1s",
    ];
    let node_a = cluster_app(&cluster, &prefix, &extra).await;
    let node_b = cluster_app(&cluster, &prefix, &extra).await;
    let mut alice = node_a.connect("alice").await;
    let session = alice.create_session("Failover", &[("bob", "editor")]).await;
    let channel = format!("session:{session}");
    let sub = alice.subscribe_ok(&channel, json!({})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let mut bob = node_b.connect("bob").await;
    bob.subscribe_ok(&channel, json!({})).await;
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let text = format!("before {i}");
        chat(&mut bob, &session, &text).await;
        acknowledged.push(text);
    }
    let mut last_seen = 0;
    for _ in 0..5 {
        last_seen = offset(&alice.expect_push(&channel, "pub").await);
    }

    // Kill the master owning the session's slot; its replica takes over.
    let port = cluster.servers[0].port;
    let slot = keyslot(port, &format!("{prefix}:{{{session}}}:record"));
    let old_master = master_of_slot(port, slot).unwrap();
    kill9(old_master);
    let witness = cluster
        .servers
        .iter()
        .map(|s| s.port)
        .find(|p| *p != old_master)
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let owner = master_of_slot(witness, slot);
        if owner.is_some_and(|o| o != old_master)
            && cli(witness, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no replica promoted");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Writes go on through both nodes, and a new session is created.
    for i in 0..3 {
        let text = format!("after {i}");
        let app = if i % 2 == 0 { &node_a } else { &node_b };
        chat_until_stored(app, "bob", &session, &text).await;
        acknowledged.push(text);
    }
    let mut creator = node_a.connect("alice").await;
    let second = creator
        .create_session("After failover", &[("bob", "viewer")])
        .await;

    // Every acknowledged write is in the log, once, in order.
    let events = alice.events(&session).await;
    let contents: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "chat.message")
        .filter_map(|e| e.data["message"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        contents, acknowledged,
        "no acknowledged write lost or doubled"
    );

    // Alice's node either kept her feed or told her to recover (its shard
    // was re-subscribed); like a real client, she resubscribes from her
    // position then. Either way she gets every later message exactly once.
    let mut got: Vec<String> = Vec::new();
    let mut position = last_seen;
    while got.len() < 3 {
        let message = alice
            .recv_matching("a pub or unsubscribe push", |v| {
                v.get("id").is_none()
                    && v["push"]["channel"].as_str() == Some(channel.as_str())
                    && (v["push"].get("pub").is_some() || v["push"].get("unsubscribe").is_some())
            })
            .await;
        if let Some(p) = message["push"].get("pub") {
            assert_eq!(offset(p), position + 1, "in order, once: {p}");
            position += 1;
            got.push(
                p["data"]["data"]["message"]["content"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            continue;
        }
        let sub = alice
            .subscribe_ok(
                &channel,
                json!({"recover": true, "offset": position, "epoch": epoch}),
            )
            .await;
        if sub["recovered"] == true {
            for p in sub["publications"].as_array().cloned().unwrap_or_default() {
                assert_eq!(offset(&p), position + 1, "in order, once: {p}");
                position += 1;
                got.push(
                    p["data"]["data"]["message"]["content"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        } else {
            // A promoted replica is another Redis process: with restart
            // fencing (the default) its streams get a new epoch, and the
            // client reloads from the event log instead of recovering.
            assert_ne!(sub["epoch"].as_str(), Some(epoch.as_str()), "{sub}");
            for e in alice.events(&session).await {
                if e.offset > position && e.kind == "chat.message" {
                    got.push(e.data["message"]["content"].as_str().unwrap().to_owned());
                }
            }
            position = offset(&sub);
        }
    }
    assert_eq!(got, acknowledged[5..].to_vec());

    // The user lists and the sweeper's index are complete after the repair interval.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let alice_list = listed(&mut creator).await;
        let bob_list = listed(&mut bob).await;
        let idle = idle_active(&node_b).await;
        let complete = [&session, &second]
            .iter()
            .all(|id| alice_list.contains(*id) && bob_list.contains(*id) && idle.contains(*id));
        if complete {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "indexes incomplete: {alice_list:?} {bob_list:?} {idle:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    node_a.shutdown().await.unwrap();
    node_b.shutdown().await.unwrap();
}
