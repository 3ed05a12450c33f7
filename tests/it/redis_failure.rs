//! The Redis engine when Redis goes away and comes back: writes fail fast
//! (never a false acknowledgement), `/readyz` says 503, and after Redis is
//! back the node reconnects by itself and tells subscribers to recover.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem::engine::redis::{RedisConfig, RedisEngine};
use tandem::engine::{Broker, EngineError, PublishRequest};
use tandem::engine::{Payload, Publication};
use tokio_util::sync::CancellationToken;

use super::engine_contract::{config, Recorder, Seen};
use super::helpers::spawn_app;
use super::redis_harness::{start_server, start_server_on, unique_prefix};

fn request(n: u64) -> PublishRequest {
    PublishRequest {
        publication: Publication {
            data: Payload::from_json(&json!({ "n": n })).unwrap(),
            info: None,
            offset: 0,
            tags: None,
            published_at: None,
        },
        history: true,
    }
}

/// Retries `op` until it succeeds (Redis coming back), within 10 s.
async fn eventually<T, F, Fut>(what: &str, op: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, EngineError>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match op().await {
            Ok(v) => return v,
            Err(err) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(%err, "{what}: not yet");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("{what} still failing after 10s: {err}"),
        }
    }
}

#[tokio::test]
async fn redis_outage_fails_fast_then_recovers_and_signals_insufficient_state() {
    let server = start_server("outage");
    let port = server.port;
    let events = Arc::new(Recorder::default());
    let redis = RedisConfig::single(&server.url, &unique_prefix());
    let engine = RedisEngine::new(&redis, config(), events.clone()).unwrap();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    tokio::spawn(engine.clone().run(stop));
    let ch = "outage:room";
    eventually("subscribe", || engine.subscribe(ch)).await;
    let before = engine.publish(ch, request(1)).await.unwrap();
    assert_eq!(before.offset, 1);
    events.wait_pubs(ch, 1).await;

    server.stop();
    let started = tokio::time::Instant::now();
    let err = engine.publish(ch, request(2)).await.unwrap_err();
    assert!(matches!(err, EngineError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a write fails fast: {:?}",
        started.elapsed()
    );
    assert!(matches!(
        engine.health().await,
        Err(EngineError::Unavailable(_))
    ));

    // Redis comes back empty (no persistence): a new epoch, and the node's
    // subscribers are told to recover.
    let _server = start_server_on("outage", port);
    eventually("health", || engine.health()).await;
    events
        .wait("insufficient state after the reconnect", |all| {
            all.contains(&Seen::Insufficient(ch.to_owned()))
        })
        .await;
    let after = eventually("publish", || engine.publish(ch, request(3))).await;
    assert_eq!(after.offset, 1, "a new stream");
    assert_ne!(after.epoch, before.epoch, "a new epoch");
    let delivered = events.wait_pubs(ch, 2).await;
    assert_eq!(delivered[1].0, 1);
}

/// `/readyz` follows Redis, and subscribers are told to recover (2500) once the
/// node's pub/sub connection is back.
#[tokio::test]
async fn readyz_reports_503_while_redis_is_down_and_subscribers_recover_after() {
    let server = start_server("readyz");
    let port = server.port;
    let url = server.url.clone();
    let prefix = unique_prefix();
    let app = spawn_app(&[
        "--engine",
        "redis",
        "--redis-url",
        &url,
        "--redis-prefix",
        &prefix,
    ])
    .await;
    let http = reqwest::Client::new();
    let readyz = format!("http://{}/readyz", app.addr);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = http.get(&readyz).send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut alice = app.connect("alice").await;
    let sub = alice.subscribe_ok("user:alice", json!({})).await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    server.stop();
    let status = http.get(&readyz).send().await.unwrap().status();
    assert_eq!(status, 503);
    // The failed health check is an engine error in the metrics, by kind.
    assert!(
        app.metric("tandem_engine_errors_total{op=\"health\",kind=\"unavailable\"}")
            .await
            >= 1.0
    );
    let _server = start_server_on("readyz", port);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = http.get(&readyz).send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not ready again: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let push = alice.expect_push("user:alice", "unsubscribe").await;
    assert_eq!(push["code"], 2500, "{push}");
    // The client resubscribes with its position: Redis came back empty, so
    // the epoch changed and the position is not recovered (it reloads).
    let sub = alice
        .subscribe_ok(
            "user:alice",
            json!({"recover": true, "offset": 0, "epoch": epoch}),
        )
        .await;
    assert_ne!(sub["recovered"], true, "{sub}");
    assert_ne!(sub["epoch"].as_str().unwrap(), epoch, "{sub}");
    app.shutdown().await.unwrap();
}

/// A publication that skips offsets, or comes from another epoch, makes the
/// node tell its subscribers to recover; an old offset is dropped as stale.
#[tokio::test]
async fn gaps_and_epoch_changes_are_reported_and_stale_offsets_dropped() {
    let url = super::redis_harness::redis_url();
    let prefix = unique_prefix();
    let events = Arc::new(Recorder::default());
    let redis = RedisConfig::single(&url, &prefix);
    let engine = RedisEngine::new(&redis, config(), events.clone()).unwrap();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    tokio::spawn(engine.clone().run(stop));
    let ch = "gap:room";
    engine.subscribe(ch).await.unwrap();
    let pos = engine.publish(ch, request(1)).await.unwrap();
    events.wait_pubs(ch, 1).await;

    let fanout = tandem::engine::redis::keys::Keys::new(&prefix)
        .channel(ch)
        .fanout;
    let client = redis::Client::open(url.as_str()).unwrap();
    let conn = client.get_multiplexed_async_connection().await.unwrap();
    let raw = |epoch: &str, offset: u64| {
        // The fan-out message format (engine/redis/wire.rs).
        format!("p\n{epoch}\n{offset}\n0\n0\n{{\"raw\":{offset}}}")
    };
    let send = |message: String| {
        let mut conn = conn.clone();
        let fanout = fanout.clone();
        async move {
            let _: i64 = redis::cmd("PUBLISH")
                .arg(&fanout)
                .arg(message)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    };
    send(raw(&pos.epoch, 1)).await; // stale duplicate: dropped
    send(raw(&pos.epoch, 3)).await; // gap: 2 is missing
    events
        .wait("insufficient state after a gap", |all| {
            all.contains(&Seen::Insufficient(ch.to_owned()))
        })
        .await;
    send(raw(&pos.epoch, 4)).await; // continues from the gap
    send(raw("other", 5)).await; // another epoch
    events
        .wait("a second insufficient state", |all| {
            all.iter()
                .filter(|s| **s == Seen::Insufficient(ch.to_owned()))
                .count()
                == 2
        })
        .await;
    let delivered: Vec<u64> = events.pubs(ch).iter().map(|(o, _)| *o).collect();
    assert_eq!(delivered, vec![1, 4], "stale 1 dropped, 3 and 5 reported");
}
