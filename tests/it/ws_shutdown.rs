//! Graceful shutdown.

use serde_json::json;

use crate::helpers::{session_channel, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_clients_with_3001_and_run_returns_ok() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("bye", &[]).await;
    alice.subscribe_ok(&session_channel(&id), json!({})).await;
    let mut bob = app.open().await; // not yet connected
    let stopping = tokio::spawn(app.shutdown());
    let (code, reason) = alice.expect_close().await;
    assert_eq!(code, 3001, "reason {reason:?}");
    assert_eq!(bob.expect_close().await.0, 3001);
    stopping
        .await
        .unwrap()
        .expect("run returns Ok after a graceful shutdown");
}
