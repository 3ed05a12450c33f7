//! `/metrics` (issue 12): the series move under load (connect, subscribe,
//! publish, recover, HTTP calls), and no label value is a session id, a user
//! id or a channel. Slow consumers are counted in `ws_limits` (the test that
//! makes one), the sweeper's series in `sweeper`.

use std::collections::BTreeSet;

use serde_json::json;

use super::helpers::{metric_value, session_channel, spawn_app, TestApp, WsClient};
use super::redis_harness::{redis_app, unique_prefix};

/// Every label value in a Prometheus text document.
fn label_values(text: &str) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((_, rest)) = line.split_once('{') else {
            continue;
        };
        let Some((labels, _)) = rest.rsplit_once('}') else {
            continue;
        };
        for pair in labels.split("\",") {
            if let Some((_, value)) = pair.split_once("=\"") {
                values.insert(value.trim_end_matches('"').to_owned());
            }
        }
    }
    values
}

/// Connects, subscribes (one recovering), chats, calls REST: the load of
/// one test. Returns the session id and the users' names.
async fn load(app: &TestApp, alice_name: &str, bob_name: &str) -> (String, Vec<WsClient>) {
    let mut alice = app.connect(alice_name).await;
    let id = alice
        .create_session("metrics", &[(bob_name, "editor")])
        .await;
    let channel = session_channel(&id);
    let sub = alice.subscribe_ok(&channel, json!({})).await;
    let mut bob = app.connect(bob_name).await;
    bob.subscribe_ok(&channel, json!({})).await;
    for n in 0..5 {
        alice.chat(&id, &format!("message {n}")).await;
        bob.expect_event(&channel, "chat.message").await;
    }
    // A reconnect that recovers what it missed, and one that cannot.
    let mut carol = app.connect(bob_name).await;
    let recovered = carol
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": sub["offset"], "epoch": sub["epoch"]}),
        )
        .await;
    assert_eq!(recovered["recovered"], true, "{recovered}");
    let mut dave = app.connect(bob_name).await;
    let lost = dave
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": 1, "epoch": "another-epoch"}),
        )
        .await;
    assert_ne!(lost["recovered"], true, "{lost}");
    let rest = app.rest(alice_name);
    let (status, _) = rest
        .send(reqwest::Method::GET, &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = rest
        .send(
            reqwest::Method::GET,
            &format!("/api/sessions/{}", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    (id, vec![alice, bob, carol, dave])
}

async fn series_move_under_load(app: TestApp) {
    let before = app.metrics_text().await;
    let (id, clients) = load(&app, "alice-metrics-user", "bob-metrics-user").await;
    let text = app.metrics_text().await;
    let grew = |series: &str| {
        let (old, new) = (metric_value(&before, series), metric_value(&text, series));
        assert!(new > old, "{series} did not move ({old} → {new})\n{text}");
    };
    grew("tandem_connections_opened_total");
    grew("tandem_commands_total{method=\"connect\",result=\"ok\"}");
    grew("tandem_commands_total{method=\"subscribe\",result=\"ok\"}");
    grew("tandem_commands_total{method=\"rpc\",result=\"ok\"}");
    grew("tandem_publications_total{namespace=\"session\"}");
    grew("tandem_publications_total{namespace=\"user\"}");
    grew("tandem_deliveries_total");
    grew("tandem_publish_to_deliver_seconds_count");
    grew("tandem_recoveries_total{result=\"recovered\"}");
    grew("tandem_recoveries_total{result=\"not_recovered\"}");
    grew("tandem_engine_operations_total{op=\"commit\",result=\"ok\"}");
    grew("tandem_engine_operation_seconds_count{op=\"commit\"}");
    grew("tandem_http_requests_total{method=\"GET\",route=\"/api/sessions/{id}\",status=\"200\"}");
    grew("tandem_http_requests_total{method=\"GET\",route=\"/api/sessions/{id}\",status=\"404\"}");
    grew("tandem_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}");
    assert_eq!(metric_value(&text, "tandem_connections"), 4.0, "{text}");
    assert_eq!(
        metric_value(&text, "tandem_subscriptions"),
        4.0 + 0.0,
        "{text}"
    );
    assert!(
        text.contains("# TYPE tandem_publish_to_deliver_seconds histogram"),
        "{text}"
    );

    // Bounded labels: no session id, user id or channel among the values.
    let values = label_values(&text);
    for value in &values {
        assert!(
            !value.contains(&id) && !value.contains("metrics-user") && !value.contains(':'),
            "label value {value:?} names a session, user or channel"
        );
    }
    assert!(values.contains("/api/sessions/{id}"), "{values:?}");

    // Closing connections moves the disconnect counters and the gauge.
    drop(clients);
    let mut now = String::new();
    for _ in 0..250 {
        now = app.metrics_text().await;
        if disconnects(&now) >= 4.0 && metric_value(&now, "tandem_connections") == 0.0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("four disconnects and no connection left expected:\n{now}");
}

/// Connections ended, whatever the reason.
fn disconnects(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("tandem_disconnects_total{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_series_move_under_load() {
    series_move_under_load(spawn_app(&[]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_series_move_under_load() {
    series_move_under_load(redis_app(&unique_prefix(), &[]).await).await;
}

#[tokio::test]
async fn metrics_can_be_moved_or_turned_off() {
    let app = spawn_app(&["--metrics-path", "/internal/metrics"]).await;
    let response = reqwest::get(format!("http://{}/internal/metrics", app.addr))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("tandem_connections "));
    let off = spawn_app(&["--metrics", "false"]).await;
    let response = reqwest::get(format!("http://{}/metrics", off.addr))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("TANDEM_METRICS=false"));
}
