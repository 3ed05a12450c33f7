//! The server API (`/api/server`, issue 12): API keys (missing, wrong,
//! rotation, off), agent messages seen by WebSocket subscribers and their
//! idempotency, role and limit checks, mission step updates, ephemeral
//! events, disconnecting a user on every node, presence, stats, batch.

use serde_json::{json, Value};

use super::helpers::{session_channel, spawn_app, TestApp, RECV_TIMEOUT};
use super::redis_harness::{redis_app, unique_prefix};

const KEY: &str = "server-api-key-0123456789";
const NEW_KEY: &str = "server-api-key-rotated-9876543210";

/// A server API client.
struct Backend {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Backend {
    fn new(app: &TestApp, key: Option<&str>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{}/api/server", app.addr),
            key: key.map(str::to_owned),
        }
    }

    /// Sends `method path` (under /api/server) with an optional body and the
    /// key in `X-API-Key`; returns the status and the JSON body (`null` when empty).
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = &self.key {
            request = request.header("x-api-key", key);
        }
        self.run(request, body).await
    }

    async fn run(&self, mut request: reqwest::RequestBuilder, body: Option<Value>) -> (u16, Value) {
        if let Some(body) = body {
            request = request.json(&body);
        }
        let call = async {
            let response = request.send().await.expect("http request");
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("http body");
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("a JSON body")
            };
            (status, body)
        };
        tokio::time::timeout(RECV_TIMEOUT, call)
            .await
            .expect("server API response in time")
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
}

async fn app_with_keys(keys: &str) -> TestApp {
    spawn_app(&["--server-api-key", keys]).await
}

#[tokio::test]
async fn without_a_key_setting_the_server_api_is_off() {
    let app = spawn_app(&[]).await;
    let backend = Backend::new(&app, Some(KEY));
    for (status, body) in [
        backend.get("/node").await,
        backend.post("/batch", json!({"calls": []})).await,
        Backend::new(&app, None).get("/node").await,
    ] {
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "server_api_disabled", "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TANDEM_SERVER_API_KEY"));
    }
}

#[tokio::test]
async fn missing_and_wrong_keys_are_refused_and_both_rotated_keys_work() {
    let app = app_with_keys(&format!("{KEY},{NEW_KEY}")).await;
    let (status, body) = Backend::new(&app, None).get("/node").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    for wrong in [
        "nope",
        "server-api-key-0123456788",
        "server-api-key-0123456789x",
        "",
    ] {
        let (status, body) = Backend::new(&app, Some(wrong)).get("/node").await;
        assert_eq!(status, 401, "{wrong:?}: {body}");
        if !wrong.is_empty() {
            assert_eq!(body["error"]["code"], "invalid_api_key", "{body}");
        }
    }
    for key in [KEY, NEW_KEY] {
        let (status, body) = Backend::new(&app, Some(key)).get("/node").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["engine"], "memory");
        // The bearer form works too.
        let backend = Backend::new(&app, None);
        let request = backend
            .http
            .get(format!("{}/node", backend.base))
            .bearer_auth(key);
        assert_eq!(backend.run(request, None).await.0, 200);
    }
    // A user's JWT is no API key.
    let backend = Backend::new(&app, None);
    let request = backend
        .http
        .get(format!("{}/node", backend.base))
        .bearer_auth(app.token("alice"));
    assert_eq!(backend.run(request, None).await.0, 401);
}

#[tokio::test]
async fn an_agent_message_reaches_websocket_subscribers_once_per_idempotency_key() {
    let app = app_with_keys(KEY).await;
    let backend = Backend::new(&app, Some(KEY));
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("with an agent", &[]).await;
    let channel = session_channel(&id);
    alice.subscribe_ok(&channel, json!({})).await;

    let path = format!("/sessions/{id}/messages");
    let body = json!({
        "role": "assistant", "author": "planner-bot", "content": "Here is the plan.",
        "metadata": {"model": "m1"}, "idempotency_key": "answer-1"
    });
    let (status, first) = backend.post(&path, body.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["role"], "assistant");
    assert_eq!(first["author"], "planner-bot");
    let event = alice.expect_event(&channel, "chat.message").await;
    assert_eq!(event["data"]["actor"], "planner-bot", "{event}");
    assert_eq!(event["data"]["data"]["message"]["role"], "assistant");
    assert_eq!(
        event["data"]["data"]["message"]["content"],
        "Here is the plan."
    );

    // A retry returns the first message; nothing new is stored or sent.
    let (status, again) = backend.post(&path, body).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["id"], first["id"]);
    // The header wins over the field and is another key: a second message.
    let request = backend
        .http
        .post(format!("{}{path}", backend.base))
        .header("x-api-key", KEY)
        .header("idempotency-key", "answer-2");
    let (status, second) = backend
        .run(
            request,
            Some(json!({"role": "tool", "author": "search-tool", "content": "12 hits", "idempotency_key": "answer-1"})),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["idempotency_key"], "answer-2");
    let next = alice.expect_event(&channel, "chat.message").await;
    assert_eq!(next["data"]["data"]["message"]["role"], "tool", "{next}");
    let messages = alice
        .rpc_ok("chat.history", json!({"session_id": id}))
        .await;
    assert_eq!(messages.as_array().unwrap().len(), 2, "{messages}");

    // A user's key of the same name is another key space.
    let mine = alice
        .rpc_ok(
            "chat.send",
            json!({"session_id": id, "content": "mine", "idempotency_key": "answer-1"}),
        )
        .await;
    assert_ne!(mine["id"], first["id"]);
}

#[tokio::test]
async fn roles_authors_and_limits_are_checked_like_everywhere_else() {
    let app = spawn_app(&["--server-api-key", KEY, "--max-message-bytes", "64"]).await;
    let backend = Backend::new(&app, Some(KEY));
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("rules", &[]).await;
    let path = format!("/sessions/{id}/messages");
    let cases = [
        (
            json!({"role": "user", "author": "bot", "content": "hi"}),
            422,
            "invalid",
        ),
        (
            json!({"role": "admin", "author": "bot", "content": "hi"}),
            422,
            "invalid_body",
        ),
        (
            json!({"role": "system", "author": "", "content": "hi"}),
            422,
            "invalid",
        ),
        (
            json!({"role": "system", "author": "b\u{1b}[31m", "content": "hi"}),
            422,
            "invalid",
        ),
        (
            json!({"role": "system", "author": "bot", "content": "  "}),
            422,
            "invalid",
        ),
        (
            json!({"role": "system", "author": "bot", "content": "x".repeat(65)}),
            413,
            "too_large",
        ),
        (
            json!({"role": "system", "author": "bot", "content": "hi", "idempotency_key": ""}),
            422,
            "invalid",
        ),
    ];
    for (body, status, code) in cases {
        let (got, reply) = backend.post(&path, body.clone()).await;
        assert_eq!(
            (got, reply["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {reply}"
        );
    }
    let (status, reply) = backend
        .post(
            &path,
            json!({"role": "system", "author": "bot", "content": "x".repeat(64)}),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let unknown = format!("/sessions/{}/messages", uuid::Uuid::now_v7());
    let (status, _) = backend
        .post(
            &unknown,
            json!({"role": "system", "author": "bot", "content": "hi"}),
        )
        .await;
    assert_eq!(status, 404);
    // Archived sessions are read-only for backends too.
    alice
        .rpc_ok("session.archive", json!({"session_id": id}))
        .await;
    let (status, reply) = backend
        .post(
            &path,
            json!({"role": "system", "author": "bot", "content": "late"}),
        )
        .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (409, Some("archived")),
        "{reply}"
    );
}

async fn session_with_mission(app: &TestApp) -> (super::helpers::WsClient, String) {
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("mission", &[]).await;
    let mission = alice
        .rpc_ok(
            "mission.create",
            json!({"title": "Plan", "hops": [{"id": "h1", "name": "find", "steps": [
                {"id": "s1", "name": "search", "tool": "web"},
                {"id": "s2", "name": "read", "tool": "web"}
            ]}]}),
        )
        .await;
    alice
        .rpc_ok(
            "mission.link",
            json!({"session_id": id, "mission_id": mission["id"]}),
        )
        .await;
    (alice, id)
}

#[tokio::test]
async fn a_step_update_is_a_mission_edit_subscribers_apply() {
    let app = app_with_keys(KEY).await;
    let backend = Backend::new(&app, Some(KEY));
    let (mut alice, id) = session_with_mission(&app).await;
    let channel = session_channel(&id);
    alice.subscribe_ok(&channel, json!({})).await;
    let path = format!("/sessions/{id}/mission/steps/s1");
    let (status, mission) = backend
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"status": "completed", "result": {"hits": 12}, "author": "search-tool"})),
        )
        .await;
    assert_eq!(status, 200, "{mission}");
    let step = &mission["hops"][0]["steps"][0];
    assert_eq!(
        (step["status"].as_str(), &step["outputs"]),
        (Some("completed"), &json!({"hits": 12}))
    );
    // Rolled up: one step done, one pending.
    assert_eq!(mission["hops"][0]["status"], "running");
    let event = alice.expect_event(&channel, "mission.updated").await;
    assert_eq!(event["data"]["actor"], "search-tool", "{event}");
    assert_eq!(event["data"]["data"]["revision"], mission["revision"]);
    assert_eq!(event["data"]["data"]["patch"].as_array().unwrap().len(), 2);

    // Status only; then a stale base revision, an unknown step, a result too deep.
    let (status, _) = backend
        .send(
            reqwest::Method::PATCH,
            &format!("/sessions/{id}/mission/steps/s2"),
            Some(json!({"status": "running"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, reply) = backend
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"status": "failed", "base_revision": 1})),
        )
        .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (409, Some("stale_revision")),
        "{reply}"
    );
    let (status, _) = backend
        .send(
            reqwest::Method::PATCH,
            &format!("/sessions/{id}/mission/steps/nope"),
            Some(json!({"status": "failed"})),
        )
        .await;
    assert_eq!(status, 404);
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!({ "a": deep });
    }
    let (status, reply) = backend
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"status": "failed", "result": deep})),
        )
        .await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (413, Some("too_large")),
        "{reply}"
    );
    // A session without a mission.
    let other = alice.create_session("plain", &[]).await;
    let (status, _) = backend
        .send(
            reqwest::Method::PATCH,
            &format!("/sessions/{other}/mission/steps/s1"),
            Some(json!({"status": "failed"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_ephemeral_event_is_delivered_live_and_never_stored() {
    let app = app_with_keys(KEY).await;
    let backend = Backend::new(&app, Some(KEY));
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("events", &[]).await;
    let channel = session_channel(&id);
    alice.subscribe_ok(&channel, json!({})).await;
    let path = format!("/sessions/{id}/events");
    let (status, body) = backend
        .post(
            &path,
            json!({"type": "agent.thinking", "data": {"step": "search"}, "author": "planner-bot"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let publication = alice.expect_event(&channel, "agent.thinking").await;
    assert!(
        publication.get("offset").is_none(),
        "no offset: {publication}"
    );
    assert_eq!(publication["data"]["actor"], "planner-bot");
    assert_eq!(publication["data"]["data"]["step"], "search");
    let events = alice.events(&id).await;
    assert!(
        events.iter().all(|e| e.kind != "agent.thinking"),
        "{events:?}"
    );
    for (body, status) in [
        (json!({"type": "chat.message", "data": {}}), 422),
        (json!({"type": "mission.updated"}), 422),
        (json!({"type": "Bad Type"}), 422),
        (json!({"type": "agent.blob", "data": "x".repeat(9000)}), 413),
    ] {
        let (got, reply) = backend.post(&path, body.clone()).await;
        assert_eq!(got, status, "{body}: {reply}");
    }
    let (status, _) = backend
        .post(
            &format!("/sessions/{}/events", uuid::Uuid::now_v7()),
            json!({"type": "agent.x"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn presence_channel_and_node_stats() {
    let app = app_with_keys(KEY).await;
    let backend = Backend::new(&app, Some(KEY));
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("presence", &[("bob", "viewer")]).await;
    let channel = session_channel(&id);
    alice.subscribe_ok(&channel, json!({})).await;
    let mut bob = app.connect("bob").await;
    bob.subscribe_ok(&channel, json!({})).await;

    let (status, presence) = backend.get(&format!("/sessions/{id}/presence")).await;
    assert_eq!(status, 200, "{presence}");
    assert_eq!(presence["users"], json!(["alice", "bob"]));
    assert_eq!(presence["clients"].as_array().unwrap().len(), 2);
    let (status, _) = backend
        .get(&format!("/sessions/{}/presence", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(status, 404);

    let (status, stats) = backend
        .get(&format!("/channels/stats?channel={channel}"))
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["local_subscribers"], 2);
    assert_eq!(stats["presence_users"], 2);
    assert_eq!(stats["position"]["offset"], 1, "session.created: {stats}");
    for bad in ["chat:lobby", "session:NOT-A-UUID"] {
        let (status, reply) = backend.get(&format!("/channels/stats?channel={bad}")).await;
        assert_eq!(status, 422, "{bad}: {reply}");
    }

    let (status, node) = backend.get("/node").await;
    assert_eq!(status, 200, "{node}");
    assert_eq!(
        (
            node["clients"].as_u64(),
            node["users"].as_u64(),
            node["subscriptions"].as_u64()
        ),
        (Some(2), Some(2), Some(2)),
        "{node}"
    );
    assert_eq!(node["node_id"], app.node.id());
}

#[tokio::test]
async fn disconnect_closes_every_connection_of_the_user_and_only_theirs() {
    let app = app_with_keys(KEY).await;
    let backend = Backend::new(&app, Some(KEY));
    let mut phone = app.connect("mallory").await;
    let mut laptop = app.connect("mallory").await;
    let mut alice = app.connect("alice").await;
    let (status, body) = backend.post("/users/mallory/disconnect", json!({})).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(phone.expect_close().await.0, 3503);
    assert_eq!(laptop.expect_close().await.0, 3503);
    // Alice stays connected.
    alice.rpc_ok("server.info", json!({})).await;
    // Reconnect asks the SDKs to come back at once; no body is a terminal disconnect.
    let mut again = app.connect("mallory").await;
    backend
        .post("/users/mallory/disconnect", json!({"reconnect": true}))
        .await;
    assert_eq!(again.expect_close().await.0, 3011);
    let mut last = app.connect("mallory").await;
    let (status, _) = backend
        .send(reqwest::Method::POST, "/users/mallory/disconnect", None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(last.expect_close().await.0, 3503);
    let (status, _) = backend.post("/users/%20x/disconnect", json!({})).await;
    assert_eq!(status, 422);
}

/// Two nodes on one Redis: a disconnect asked of one node closes the
/// user's connections on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_disconnect_reaches_the_users_sockets_on_every_node() {
    let prefix = unique_prefix();
    let one = redis_app(&prefix, &["--server-api-key", KEY]).await;
    let two = redis_app(&prefix, &["--server-api-key", KEY]).await;
    let mut on_one = one.connect("mallory").await;
    let mut on_two = two.connect("mallory").await;
    let (status, _) = Backend::new(&one, Some(KEY))
        .post("/users/mallory/disconnect", json!({}))
        .await;
    assert_eq!(status, 204);
    assert_eq!(on_one.expect_close().await.0, 3503);
    assert_eq!(on_two.expect_close().await.0, 3503);
}

#[tokio::test]
async fn a_batch_runs_every_call_with_its_own_result() {
    let app = spawn_app(&["--server-api-key", KEY, "--server-api-max-batch", "6"]).await;
    let backend = Backend::new(&app, Some(KEY));
    let (mut alice, id) = session_with_mission(&app).await;
    let channel = session_channel(&id);
    alice.subscribe_ok(&channel, json!({})).await;
    let calls = json!([
        {"op": "publish_event", "session_id": id, "type": "agent.thinking"},
        {"op": "append_message", "session_id": id, "role": "tool", "author": "search-tool",
         "content": "12 results", "idempotency_key": "k1"},
        {"op": "update_step", "session_id": id, "step_id": "s1", "status": "completed"},
        {"op": "append_message", "session_id": id, "role": "user", "author": "x", "content": "no"},
        {"op": "launch_rockets"},
        {"op": "node_stats"}
    ]);
    let (status, body) = backend.post("/batch", json!({"calls": calls})).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [204, 201, 200, 422, 422, 200], "{body}");
    assert_eq!(results[1]["body"]["author"], "search-tool");
    assert_eq!(
        results[2]["body"]["hops"][0]["steps"][0]["status"],
        "completed"
    );
    assert_eq!(results[3]["error"]["code"], "invalid");
    assert_eq!(results[4]["error"]["code"], "invalid_body");
    assert_eq!(results[5]["body"]["clients"], 1);
    // Their effects arrive in order.
    alice.expect_event(&channel, "agent.thinking").await;
    alice.expect_event(&channel, "chat.message").await;
    alice.expect_event(&channel, "mission.updated").await;
    // Idempotent inside batches too.
    let retry = json!([{"op": "append_message", "session_id": id, "role": "tool",
        "author": "search-tool", "content": "12 results", "idempotency_key": "k1"}]);
    let (_, again) = backend.post("/batch", json!({"calls": retry})).await;
    assert_eq!(again["results"][0]["body"]["id"], results[1]["body"]["id"]);
    // Over the batch limit.
    let many: Vec<Value> = (0..7).map(|_| json!({"op": "node_stats"})).collect();
    let (status, reply) = backend.post("/batch", json!({"calls": many})).await;
    assert_eq!(status, 413, "{reply}");
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("TANDEM_SERVER_API_MAX_BATCH"));
}
