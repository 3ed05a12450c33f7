//! Limits: frame size, channels per connection, command rate, slow consumers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{session_channel, spawn_app, Ended, WsClient};

#[tokio::test]
async fn frame_above_the_limit_closes_1009() {
    let app = spawn_app(&["--max-frame-bytes", "2048"]).await;
    let mut ws = app.connect("alice").await;
    let session = ws.create_session("big", &[]).await;
    // Just below the limit is fine.
    ws.chat(&session, &"x".repeat(1800)).await;
    let id = ws.next_id();
    let big = json!({"id": id, "rpc": {"method": "chat.send",
        "data": {"session_id": session, "content": "x".repeat(4000)}}});
    ws.send(big).await;
    assert_eq!(ws.expect_close().await.0, 1009);
}

#[tokio::test]
async fn too_many_channels_is_106() {
    let app = spawn_app(&["--max-channels", "2"]).await;
    let mut ws = app.connect("alice").await;
    let one = session_channel(&ws.create_session("one", &[]).await);
    let three = session_channel(&ws.create_session("three", &[]).await);
    ws.subscribe_ok(&one, json!({})).await;
    ws.subscribe_ok("user:alice", json!({})).await;
    let reply = ws.subscribe(&three, json!({})).await;
    assert_eq!(reply["error"]["code"], 106, "{reply}");
    // Leaving one makes room again.
    ws.call_ok("unsubscribe", json!({"channel": one})).await;
    ws.subscribe_ok(&three, json!({})).await;
}

#[tokio::test]
async fn too_many_commands_is_111_and_temporary() {
    let app = spawn_app(&["--max-commands-per-second", "5"]).await;
    let mut ws = app.open().await;
    // connect and ten rpcs in one frame: handled within microseconds, so the
    // bucket (burst 5) lets connect and exactly four rpcs through.
    let mut lines = vec![json!({"id": 1, "connect": {"token": app.token("alice")}}).to_string()];
    for id in 2..=11 {
        lines.push(json!({"id": id, "rpc": {"method": "server.info"}}).to_string());
    }
    ws.send_raw(lines.join("\n")).await;
    let connect = ws.recv().await;
    assert!(connect["connect"]["client"].is_string(), "{connect}");
    for id in 2..=11 {
        let reply = ws.recv().await;
        assert_eq!(reply["id"], id, "replies in order: {reply}");
        if id <= 5 {
            assert!(
                reply["rpc"]["data"].is_object(),
                "#{id} within the burst: {reply}"
            );
        } else {
            assert_eq!(reply["error"]["code"], 111, "#{id} over the limit: {reply}");
            assert_eq!(reply["error"]["temporary"], true, "{reply}");
        }
    }
    // The connection stays; once a token refills (0.2 s at 5/s) commands pass again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws.call_ok("rpc", json!({"method": "server.info"})).await;
}

/// A subscriber that stops reading is closed as slow (3008) once its queue
/// fills (in messages); a healthy subscriber on the same channel gets every
/// publication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_closed_3008_healthy_one_gets_everything() {
    slow_consumer_case(&["--max-queue", "16"], 8).await;
}

/// The same when the queue is bounded in bytes only: 64 KiB (four of the
/// 16 KiB messages), with room for 100,000 messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_over_its_byte_budget_is_closed_3008() {
    slow_consumer_case(&["--max-queue", "100000", "--max-queue-bytes", "65536"], 2).await;
}

/// `window`: how many publications the publisher may be ahead of the
/// healthy reader (so the healthy reader's queue never fills).
async fn slow_consumer_case(limits: &[&str], window: u64) {
    let mut args = vec!["--max-commands-per-second", "0"];
    args.extend_from_slice(limits);
    let app = spawn_app(&args).await;
    let mut publisher = app.connect("publisher").await;
    let session = publisher
        .create_session("slow", &[("slowpoke", "viewer"), ("healthy", "viewer")])
        .await;
    let channel = session_channel(&session);
    let channel = channel.as_str();
    let token = app.token("slowpoke");

    let mut slow = WsClient::open_small_buffer(app.addr).await;
    assert!(slow.connect(&token).await["connect"].is_object());
    slow.subscribe_ok(channel, json!({})).await;
    let slow_id = slow.client_id.clone();

    let mut healthy = app.connect("healthy").await;
    healthy.subscribe_ok(channel, json!({})).await;

    // The healthy reader records offsets until it sees the final marker, and
    // says when the slow client's leave push arrives.
    let (left_tx, left_rx) = tokio::sync::oneshot::channel::<()>();
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0u64);
    let reader = tokio::spawn(async move {
        let mut left_tx = Some(left_tx);
        let mut offsets = Vec::new();
        loop {
            let msg = healthy.recv().await;
            let push = &msg["push"];
            if let Some(leave) = push.get("leave") {
                if leave["info"]["client"] == slow_id.as_str() {
                    if let Some(tx) = left_tx.take() {
                        let _ = tx.send(());
                    }
                }
            } else if let Some(p) = push.get("pub") {
                // Chat message `seq` is at offset seq + 1 (session.created is 1).
                let meta = &p["data"]["data"]["message"]["metadata"];
                let seq = meta["seq"].as_u64().unwrap_or_else(|| panic!("{p}"));
                let offset = p["offset"].as_u64().unwrap();
                assert_eq!(seq + 1, offset, "{p}");
                offsets.push(seq);
                progress_tx.send_replace(seq);
                if meta["last"] == true {
                    return offsets;
                }
            }
        }
    });

    let stop = Arc::new(AtomicBool::new(false));
    let publishing = {
        let stop = stop.clone();
        // The largest chat message the default limit allows.
        let pad = "p".repeat(16 * 1024);
        tokio::spawn(async move {
            let mut seq = 0u64;
            // Cap: 128 MiB in total, far more than any socket buffers.
            while !stop.load(Ordering::Relaxed) && seq < 8_000 {
                seq += 1;
                // Stay at most `window` publications ahead of the healthy reader, so
                // its queue (16) never fills however the 2 cores are shared.
                progress
                    .wait_for(|&seen| seen + window >= seq)
                    .await
                    .expect("healthy reader alive");
                let message = json!({"session_id": session, "content": pad,
                    "metadata": {"seq": seq}});
                publisher.rpc_ok("chat.send", message).await;
            }
            seq += 1;
            let message = json!({"session_id": session, "content": "last",
                "metadata": {"seq": seq, "last": true}});
            publisher.rpc_ok("chat.send", message).await;
            seq
        })
    };

    tokio::time::timeout(Duration::from_secs(40), left_rx)
        .await
        .expect("the slow client was never dropped (no leave push within 40s)")
        .expect("reader alive");
    // Resume reading the slow socket: queued frames first, then the close frame.
    slow.timeout = Duration::from_secs(20);
    let ended = slow.wait_end().await;
    stop.store(true, Ordering::Relaxed);
    let published = publishing.await.unwrap();
    let offsets = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("healthy reader finished")
        .unwrap();
    assert_eq!(
        offsets,
        (1..=published).collect::<Vec<_>>(),
        "healthy subscriber got every publication in order"
    );
    match ended {
        Ended::Close(code, reason) => assert_eq!(code, 3008, "reason {reason:?}"),
        other => panic!("slow client got no close frame 3008: {other:?}"),
    }
    // What the slow client did get before the close is a gapless prefix
    // (offsets from 2: the first chat message follows session.created).
    let got: Vec<u64> = slow
        .buffered()
        .iter()
        .filter_map(|m| m["push"]["pub"]["offset"].as_u64())
        .map(|offset| offset - 1)
        .collect();
    assert_eq!(got, (1..=got.len() as u64).collect::<Vec<_>>());
    assert!(
        (got.len() as u64) < published,
        "the slow client missed the tail"
    );
}

#[tokio::test]
async fn a_user_holds_at_most_the_configured_connections() {
    let app = spawn_app(&["--max-connections-per-user", "2"]).await;
    let first = app.connect("alice").await;
    let _second = app.connect("alice").await;
    let _bob = app.connect("bob").await;
    let mut third = app.open().await;
    third
        .send_command("connect", serde_json::json!({"token": app.token("alice")}))
        .await;
    let (code, reason) = third.expect_close().await;
    assert_eq!((code, reason.as_str()), (3504, "connection limit"));
    // The slot frees once the first connection has gone.
    drop(first);
    let node = app.node.clone();
    let freed = async {
        while node.connections_of("alice") >= 2 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), freed)
        .await
        .expect("the closed connection leaves the user index");
    let mut again = app.connect("alice").await;
    again.rpc_ok("server.info", serde_json::json!({})).await;
}
