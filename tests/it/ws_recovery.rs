//! Recovery after a dropped connection, and `history`.

use serde_json::{json, Value};

use crate::helpers::{session_channel, spawn_app, TestApp, WsClient};

fn offsets(publications: &Value) -> Vec<u64> {
    publications
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["offset"].as_u64()).collect())
        .unwrap_or_default()
}

/// The chat content of a publication (its data is the event).
fn content(publication: &Value) -> &str {
    publication["data"]["data"]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("not a chat.message publication: {publication}"))
}

/// Alice connected, owning a new session that bob and carol edit; returns
/// alice, the session id and its channel. The stream holds `session.created`
/// at offset 1, so chat message n of a test lands at offset n + 1.
async fn session(app: &TestApp) -> (WsClient, String, String) {
    let mut alice = app.connect("alice").await;
    let id = alice
        .create_session("recovery", &[("bob", "editor"), ("carol", "editor")])
        .await;
    let channel = session_channel(&id);
    (alice, id, channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_client_recovers_exactly_the_missed_publications() {
    let app = spawn_app(&[]).await;
    let (mut a, id, channel) = session(&app).await;
    let channel = channel.as_str();
    let mut b = app.connect("bob").await;
    let sub = a.subscribe_ok(channel, json!({})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    for i in 1..=3 {
        b.chat(&id, &i.to_string()).await;
    }
    let mut last = 0;
    for _ in 1..=3 {
        last = a.expect_push(channel, "pub").await["offset"]
            .as_u64()
            .unwrap();
    }
    assert_eq!(last, 4);

    drop(a); // the socket goes away without a close handshake
    for i in 4..=8 {
        b.chat(&id, &i.to_string()).await;
    }

    let mut a = app.connect("alice").await;
    let sub = a
        .subscribe_ok(
            channel,
            json!({"recover": true, "offset": last, "epoch": epoch, "recoverable": true, "flag": 1}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    assert_eq!(sub["was_recovering"], true, "{sub}");
    assert_eq!(sub["recoverable"], true, "{sub}");
    assert_eq!(sub["positioned"], true, "{sub}");
    assert_eq!(sub["epoch"], epoch.as_str(), "{sub}");
    assert_eq!(
        sub["offset"].as_u64().unwrap_or(0),
        last,
        "on success the reply offset is the client's position (reference §6): {sub}"
    );
    assert_eq!(offsets(&sub["publications"]), vec![5, 6, 7, 8, 9], "{sub}");
    for (i, p) in sub["publications"].as_array().unwrap().iter().enumerate() {
        assert_eq!(p["data"]["type"], "chat.message", "{p}");
        assert_eq!(content(p), (i + 4).to_string(), "{p}");
        assert_eq!(p["data"]["actor"], "bob", "{p}");
    }

    // Live delivery continues after the recovered ones.
    b.chat(&id, "9").await;
    let live = a.expect_push(channel, "pub").await;
    assert_eq!(live["offset"], 10, "{live}");
    assert_eq!(content(&live), "9", "{live}");
}

#[tokio::test]
async fn position_outside_the_history_window_is_not_recovered() {
    let app = spawn_app(&["--history-size", "3"]).await;
    let (mut a, id, channel) = session(&app).await;
    let channel = channel.as_str();
    let mut b = app.connect("bob").await;
    let sub = a.subscribe_ok(channel, json!({})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    b.chat(&id, "1").await;
    assert_eq!(a.expect_push(channel, "pub").await["offset"], 2);
    drop(a);
    for i in 2..=11 {
        b.chat(&id, &i.to_string()).await;
    }
    let mut a = app.connect("alice").await;
    let sub = a
        .subscribe_ok(
            channel,
            json!({"recover": true, "offset": 2, "epoch": epoch}),
        )
        .await;
    assert!(!sub["recovered"].as_bool().unwrap_or(false), "{sub}");
    assert_eq!(sub["was_recovering"], true, "{sub}");
    assert_eq!(sub["offset"], 12, "reply offset is the top: {sub}");
    assert_eq!(sub["epoch"], epoch.as_str(), "{sub}");
    assert!(
        offsets(&sub["publications"]).is_empty(),
        "no partial recovery: {sub}"
    );
}

#[tokio::test]
async fn position_at_the_edge_of_the_history_window_is_recovered() {
    let app = spawn_app(&["--history-size", "3"]).await;
    let (mut a, id, channel) = session(&app).await;
    let channel = channel.as_str();
    let epoch = a.subscribe_ok(channel, json!({})).await["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 1..=5 {
        a.chat(&id, &i.to_string()).await;
    }
    drop(a);
    // Offsets 1 (session.created) to 6; history keeps 4, 5, 6: a client at 3 misses nothing.
    let mut a = app.connect("alice").await;
    let sub = a
        .subscribe_ok(
            channel,
            json!({"recover": true, "offset": 3, "epoch": epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    assert_eq!(offsets(&sub["publications"]), vec![4, 5, 6], "{sub}");
}

#[tokio::test]
async fn wrong_epoch_is_not_recovered() {
    let app = spawn_app(&[]).await;
    let (mut a, id, channel) = session(&app).await;
    let channel = channel.as_str();
    let sub = a.subscribe_ok(channel, json!({})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    for i in 1..=2 {
        a.chat(&id, &i.to_string()).await;
    }
    drop(a);
    let mut a = app.connect("alice").await;
    let sub = a
        .subscribe_ok(
            channel,
            json!({"recover": true, "offset": 2, "epoch": "not-the-epoch"}),
        )
        .await;
    assert!(!sub["recovered"].as_bool().unwrap_or(false), "{sub}");
    assert_eq!(sub["was_recovering"], true, "{sub}");
    assert_eq!(sub["offset"], 3, "{sub}");
    assert_eq!(sub["epoch"], epoch.as_str(), "the current epoch: {sub}");
    assert!(offsets(&sub["publications"]).is_empty(), "{sub}");
}

#[tokio::test]
async fn recovering_at_the_top_is_recovered_with_nothing_to_send() {
    let app = spawn_app(&[]).await;
    let (mut a, id, channel) = session(&app).await;
    let channel = channel.as_str();
    let epoch = a.subscribe_ok(channel, json!({})).await["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    a.chat(&id, "1").await;
    drop(a);
    let mut a = app.connect("alice").await;
    let sub = a
        .subscribe_ok(
            channel,
            json!({"recover": true, "offset": 2, "epoch": epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    assert!(offsets(&sub["publications"]).is_empty(), "{sub}");
}

#[tokio::test]
async fn history_limit_since_reverse_and_wrong_epoch() {
    let app = spawn_app(&[]).await;
    let (mut a, id, channel) = session(&app).await;
    let channel = channel.as_str();
    for i in 1..=5 {
        a.chat(&id, &i.to_string()).await;
    }

    let all = a
        .call_ok("history", json!({"channel": channel, "limit": -1}))
        .await;
    assert_eq!(
        offsets(&all["publications"]),
        vec![1, 2, 3, 4, 5, 6],
        "{all}"
    );
    assert_eq!(all["offset"], 6, "{all}");
    let epoch = all["epoch"].as_str().unwrap().to_owned();
    assert_eq!(all["publications"][0]["data"]["type"], "session.created");
    assert_eq!(all["publications"][0]["data"]["actor"], "alice");
    assert_eq!(content(&all["publications"][1]), "1");
    assert_eq!(all["publications"][1]["data"]["actor"], "alice");

    let h = a
        .call_ok("history", json!({"channel": channel, "limit": 2}))
        .await;
    assert_eq!(offsets(&h["publications"]), vec![1, 2], "{h}");
    assert_eq!(h["offset"], 6, "top offset: {h}");
    assert_eq!(h["epoch"], epoch.as_str(), "{h}");

    let h = a
        .call_ok("history", json!({"channel": channel, "limit": 0}))
        .await;
    assert_eq!(h["publications"], json!([]), "always written, empty: {h}");
    assert_eq!(h["offset"], 6, "{h}");

    let h = a
        .call_ok(
            "history",
            json!({"channel": channel, "limit": 10, "since": {"offset": 3, "epoch": epoch}}),
        )
        .await;
    assert_eq!(offsets(&h["publications"]), vec![4, 5, 6], "{h}");

    let h = a
        .call_ok(
            "history",
            json!({"channel": channel, "limit": 2, "reverse": true}),
        )
        .await;
    assert_eq!(offsets(&h["publications"]), vec![6, 5], "{h}");

    let h = a
        .call_ok(
            "history",
            json!({"channel": channel, "limit": 10, "reverse": true,
                   "since": {"offset": 4, "epoch": epoch}}),
        )
        .await;
    assert_eq!(offsets(&h["publications"]), vec![3, 2, 1], "{h}");

    let code = a
        .call_err(
            "history",
            json!({"channel": channel, "limit": 10, "since": {"offset": 2, "epoch": "wrong"}}),
        )
        .await;
    assert_eq!(code, 112);
}

#[tokio::test]
async fn history_of_a_user_channel_is_private() {
    let app = spawn_app(&[]).await;
    let mut a = app.connect("alice").await;
    let own = a
        .call_ok("history", json!({"channel": "user:alice", "limit": 10}))
        .await;
    assert_eq!(own["publications"], json!([]), "{own}");
    assert_eq!(
        a.call_err("history", json!({"channel": "user:bob", "limit": 10}))
            .await,
        103
    );
}

/// Subscribing (plain or recovering) while events keep arriving loses
/// nothing and duplicates nothing between the reply and the live pushes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_during_concurrent_publishing_has_no_gap_or_duplicate() {
    const TOTAL: u64 = 400;
    let app = spawn_app(&["--max-commands-per-second", "0"]).await;
    let (mut a, id, channel) = session(&app).await;
    let epoch = a.subscribe_ok(&channel, json!({})).await["epoch"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut b = app.connect("bob").await;
    // Offsets 2..=6.
    for i in 1..=5 {
        b.chat(&id, &i.to_string()).await;
    }
    for _ in 1..=5 {
        a.expect_push(&channel, "pub").await;
    }
    drop(a);

    let writer = {
        let id = id.clone();
        tokio::spawn(async move {
            for offset in 7..=TOTAL {
                b.chat(&id, &offset.to_string()).await;
            }
            b
        })
    };

    // One client recovers from offset 6, another subscribes plainly, both mid-stream.
    let mut rec = app.connect("alice").await;
    let mut plain = app.connect("carol").await;
    let sub = rec
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": 6, "epoch": epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    let mut seen = offsets(&sub["publications"]);
    let psub = plain.subscribe_ok(&channel, json!({})).await;
    let top = psub["offset"].as_u64().unwrap_or(0);
    writer.await.unwrap();

    while seen.last().copied().unwrap_or(6) < TOTAL {
        seen.push(
            rec.expect_push(&channel, "pub").await["offset"]
                .as_u64()
                .unwrap(),
        );
    }
    assert_eq!(seen, (7..=TOTAL).collect::<Vec<_>>(), "recovering client");

    let mut live = Vec::new();
    while live.last().copied().unwrap_or(top) < TOTAL {
        live.push(
            plain.expect_push(&channel, "pub").await["offset"]
                .as_u64()
                .unwrap(),
        );
    }
    assert_eq!(
        live,
        (top + 1..=TOTAL).collect::<Vec<_>>(),
        "plain subscriber from {top}"
    );
}

/// History entries expire after `--history-ttl`; the stream position does not
/// go back, so an old position is no longer recoverable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_history_keeps_the_position_but_not_the_publications() {
    let app = spawn_app(&["--history-ttl", "1s"]).await;
    let (mut a, id, channel) = session(&app).await;
    let channel = channel.as_str();
    a.chat(&id, "1").await;
    a.chat(&id, "2").await;
    let h = a
        .call_ok("history", json!({"channel": channel, "limit": -1}))
        .await;
    assert_eq!(offsets(&h["publications"]), vec![1, 2, 3], "{h}");
    let epoch = h["epoch"].as_str().unwrap().to_owned();
    // No event marks the expiry: let the TTL pass.
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let h = a
        .call_ok("history", json!({"channel": channel, "limit": -1}))
        .await;
    assert_eq!(h["publications"], json!([]), "{h}");
    assert_eq!(h["offset"], 3, "{h}");
    assert_eq!(h["epoch"], epoch.as_str(), "{h}");
    let sub = a
        .subscribe_ok(
            channel,
            json!({"recover": true, "offset": 2, "epoch": epoch}),
        )
        .await;
    assert!(!sub["recovered"].as_bool().unwrap_or(false), "{sub}");
    assert_eq!(sub["offset"], 3, "{sub}");
}
