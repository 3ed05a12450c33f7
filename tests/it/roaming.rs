//! A client that follows a session across node restarts, as the SDKs do: it
//! writes chat messages with idempotency keys, reads the session's channel,
//! and when its node tells it to reconnect (3001) it connects again (to the
//! addresses it is given, in turn, with a short backoff), recovers what it
//! missed from its last offset and retries the write it had in flight with
//! the same key. It checks as it goes that it sees every offset exactly once.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{session_channel, Ended, WsClient};

/// How many connection attempts a reconnect may take.
const RECONNECT_ATTEMPTS: u32 = 100;

/// A roaming session client.
pub struct Roamer {
    /// The user.
    pub user: String,
    token: String,
    session_id: String,
    channel: String,
    ws: WsClient,
    epoch: String,
    /// Offset of the last publication seen.
    pub last: u64,
    /// Every publication's event seen, in offset order.
    pub seen: Vec<Value>,
    /// How each connection before the current one ended.
    pub ends: Vec<Ended>,
    /// The node id (`server.info`) of every connection, in order.
    pub nodes: Vec<String>,
    /// Where reconnects go, tried in turn.
    pub targets: Vec<SocketAddr>,
}

impl Roamer {
    /// Connects to `addr` as `user` and subscribes to the session's channel
    /// from its current position.
    pub async fn join(addr: SocketAddr, user: &str, token: String, session_id: &str) -> Self {
        let channel = session_channel(session_id);
        let mut ws = WsClient::open(addr).await;
        let reply = ws.connect(&token).await;
        assert!(reply.get("error").is_none(), "connect failed: {reply}");
        let sub = ws
            .subscribe_ok(&channel, json!({ "recoverable": true }))
            .await;
        let node = server_node(&mut ws).await;
        Self {
            user: user.to_owned(),
            token,
            session_id: session_id.to_owned(),
            channel,
            ws,
            epoch: sub["epoch"].as_str().expect("epoch").to_owned(),
            last: sub["offset"].as_u64().unwrap_or(0),
            seen: Vec::new(),
            ends: Vec::new(),
            nodes: vec![node],
            targets: vec![addr],
        }
    }

    /// Sends chat message number `n` (content and idempotency key
    /// `<user>-<n>`), reconnecting and retrying when the connection ends.
    pub async fn send(&mut self, n: usize) -> Value {
        let key = format!("{}-{n}", self.user);
        loop {
            let params = json!({
                "method": "chat.send",
                "data": { "session_id": self.session_id, "content": key, "idempotency_key": key },
            });
            match self.ws.try_call("rpc", params).await {
                Ok(reply) => {
                    assert!(reply.get("error").is_none(), "chat.send failed: {reply}");
                    self.take_publications();
                    return reply["rpc"]["data"].clone();
                }
                Err(ended) => self.reconnect(ended).await,
            }
        }
    }

    /// Reads until the publication at `offset` has been seen.
    pub async fn catch_up(&mut self, offset: u64) {
        self.take_publications();
        while self.last < offset {
            let channel = self.channel.clone();
            let what = format!("publications up to offset {offset} in {channel}");
            // The first publication buffered or read: none is buffered before it.
            let push = self
                .ws
                .recv_matching(&what, |v| {
                    v.get("id").is_none()
                        && v["push"]["channel"].as_str() == Some(&channel)
                        && v["push"].get("pub").is_some()
                })
                .await;
            self.accept(&push["push"]["pub"]);
            self.take_publications();
        }
    }

    /// Moves buffered publications of the channel into `seen`, checking
    /// each continues the offsets without a gap or a repeat.
    fn take_publications(&mut self) {
        let channel = self.channel.clone();
        let pushes = self.ws.take_buffered(|v| {
            v.get("id").is_none()
                && v["push"]["channel"].as_str() == Some(&channel)
                && v["push"].get("pub").is_some()
        });
        for push in pushes {
            self.accept(&push["push"]["pub"]);
        }
    }

    fn accept(&mut self, publication: &Value) {
        let offset = publication["offset"].as_u64().unwrap_or(0);
        assert_eq!(
            offset,
            self.last + 1,
            "{}: publication out of sequence (gap or repeat) after {}: {publication}",
            self.user,
            self.last
        );
        self.last = offset;
        self.seen.push(publication["data"].clone());
    }

    async fn reconnect(&mut self, ended: Ended) {
        self.take_publications();
        self.ends.push(ended);
        let mut failures = Vec::new();
        for attempt in 0..RECONNECT_ATTEMPTS {
            let target = self.targets[attempt as usize % self.targets.len()];
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let mut ws = match WsClient::try_open(target).await {
                Ok(ws) => ws,
                Err(err) => {
                    failures.push(err);
                    continue;
                }
            };
            let reply = ws.connect(&self.token).await;
            assert!(reply.get("error").is_none(), "reconnect failed: {reply}");
            let sub = ws
                .subscribe_ok(
                    &self.channel,
                    json!({ "recover": true, "offset": self.last, "epoch": self.epoch, "recoverable": true }),
                )
                .await;
            assert_eq!(
                sub["recovered"], true,
                "{}: not recovered from offset {}: {sub}",
                self.user, self.last
            );
            for publication in sub["publications"].as_array().into_iter().flatten() {
                self.accept(publication);
            }
            let node = server_node(&mut ws).await;
            self.nodes.push(node);
            self.ws = ws;
            self.take_publications();
            return;
        }
        panic!(
            "{}: could not reconnect in {RECONNECT_ATTEMPTS} attempts: {failures:?}",
            self.user
        );
    }
}

/// The node id a connection is served by.
pub async fn server_node(ws: &mut WsClient) -> String {
    let info = ws.rpc_ok("server.info", json!({})).await;
    info["node"]
        .as_str()
        .unwrap_or_else(|| panic!("server.info has no node: {info}"))
        .to_owned()
}
