//! Hostile input (SPEC §6a): amplifying patches on every entry point, the
//! maximum of every limit stored and read back on both engines, deep or
//! hostile documents refused, an undecodable record harming no one.

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::{spawn_app, Rest, TestApp};
use crate::redis_harness::{redis_app, redis_url, unique_prefix};

async fn ok(rest: &Rest, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, value) = rest.send(method.clone(), path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {value}"
    );
    value
}

/// An object nested `levels` deep: `{"a":{"a":…1…}}`.
fn nested(levels: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..levels {
        v = json!({ "a": v });
    }
    v
}

/// A session with a linked mission; returns its id.
async fn session_with_mission(rest: &Rest) -> String {
    let id = ok(
        rest,
        Method::POST,
        "/api/sessions",
        Some(json!({"name": "target"})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mission = ok(
        rest,
        Method::POST,
        "/api/missions",
        Some(json!({"title": "m", "goal": "x".repeat(1000),
            "hops": [{"id": "h1", "name": "one", "steps": [{"id": "s1", "name": "a"}]}]})),
    )
    .await;
    let mid = mission["id"].as_str().unwrap();
    ok(
        rest,
        Method::POST,
        &format!("/api/sessions/{id}/link-mission/{mid}"),
        None,
    )
    .await;
    id
}

/// The amplification attack of the hardening report: each op copies the
/// hops into themselves, doubling the document.
fn doubling_patch(ops: usize) -> Value {
    let ops: Vec<Value> = (0..ops)
        .map(|_| json!({"op": "copy", "from": "/hops", "path": "/hops/-"}))
        .collect();
    json!({ "ops": ops })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplifying_patches_are_refused_on_rest_rpc_and_import() {
    let app = spawn_app(&[]).await;
    let rest = app.rest("alice");
    let id = session_with_mission(&rest).await;
    let before = ok(
        &rest,
        Method::GET,
        &format!("/api/sessions/{id}/mission"),
        None,
    )
    .await;

    let (status, body) = rest
        .send(
            Method::PATCH,
            &format!("/api/sessions/{id}/mission"),
            Some(doubling_patch(24)),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TANDEM_MAX_"),
        "{body}"
    );

    let mut ws = app.connect("alice").await;
    let mut params = doubling_patch(24);
    params["session_id"] = json!(id);
    let err = ws.rpc_err("session.mission.patch", params).await;
    assert_eq!(err.code, 413, "{}", err.message);

    // Import: the same patch hidden in a document's history.
    let mut doc = ok(
        &rest,
        Method::GET,
        &format!("/api/sessions/{id}/export"),
        None,
    )
    .await;
    let events = doc["events"].as_array_mut().unwrap();
    let next = events.len() as u64 + 1;
    events.push(json!({
        "offset": next, "type": "mission.updated", "actor": "alice", "at": "2026-01-01T00:00:00Z",
        "data": {"mission_id": before["id"], "base_revision": 2, "revision": 3,
                 "patch": doubling_patch(24)["ops"]}
    }));
    let (status, body) = rest
        .send(Method::POST, "/api/sessions/import", Some(doc))
        .await;
    assert!(status == 413 || status == 422, "{status} {body}");

    // Nothing changed, and the server answers as ever.
    let after = ok(
        &rest,
        Method::GET,
        &format!("/api/sessions/{id}/mission"),
        None,
    )
    .await;
    assert_eq!(after, before);
    ok(&rest, Method::GET, "/api/sessions", None).await;
}

/// A JSON object whose compact form is exactly `bytes` long and `depth` deep.
fn metadata_of(bytes: usize, depth: usize) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("deep".into(), nested(depth - 1));
    map.insert("pad".into(), json!(""));
    let size = serde_json::to_vec(&map).unwrap().len();
    map.insert("pad".into(), json!("p".repeat(bytes - size)));
    assert_eq!(serde_json::to_vec(&map).unwrap().len(), bytes);
    map
}

/// Writes the maximum of every limit and reads everything back.
async fn every_limit_at_its_maximum(app: &TestApp) {
    let rest = app.rest("alice");
    let name = "é".repeat(200);
    let metadata = metadata_of(8192, 32);
    let collaborators: Vec<Value> = (1..50)
        .map(|i| json!({"user_id": format!("user-{i}-{}", "u".repeat(100)), "role": "viewer"}))
        .collect();
    let session = ok(
        &rest,
        Method::POST,
        "/api/sessions",
        Some(json!({"name": name, "metadata": metadata, "collaborators": collaborators})),
    )
    .await;
    let id = session["id"].as_str().unwrap().to_owned();
    let content = "c".repeat(16 * 1024);
    ok(
        &rest,
        Method::POST,
        &format!("/api/sessions/{id}/messages"),
        Some(json!({"content": content, "metadata": metadata, "idempotency_key": "k".repeat(128)})),
    )
    .await;
    // A mission just under the size limit, its step inputs at the depth limit
    // (mission → hops → hop → steps → step → inputs is five levels).
    let step_inputs = nested(32 - 5);
    let mut mission = json!({"title": name, "goal": "", "hops": [{"id": "h".repeat(64), "name": name,
        "steps": [{"id": "s".repeat(64), "name": name, "tool": name, "inputs": step_inputs}]}]});
    let probe = ok(&rest, Method::POST, "/api/missions", Some(mission.clone())).await;
    let room = 256 * 1024 - serde_json::to_vec(&probe).unwrap().len() - 200;
    mission["goal"] = json!("g".repeat(room));
    let created = ok(&rest, Method::POST, "/api/missions", Some(mission)).await;
    let mid = created["id"].as_str().unwrap();
    ok(
        &rest,
        Method::POST,
        &format!("/api/sessions/{id}/link-mission/{mid}"),
        None,
    )
    .await;
    for i in 0..10 {
        ok(
            &rest,
            Method::POST,
            &format!("/api/sessions/{id}/assets"),
            Some(json!({"name": format!("{i}{}", "a".repeat(199)), "media_type": "text/plain; charset=utf-8",
                "content": "x".repeat(32 * 1024), "metadata": metadata})),
        )
        .await;
    }
    let ops: Vec<Value> = (0..100)
        .map(|i| json!({"op": "replace", "path": "/status", "value": if i % 2 == 0 { "ready" } else { "proposed" }}))
        .collect();
    ok(
        &rest,
        Method::PATCH,
        &format!("/api/sessions/{id}/mission"),
        Some(json!({"ops": ops})),
    )
    .await;

    // Everything reads back, for the owner and for a collaborator.
    let snapshot = ok(&rest, Method::GET, &format!("/api/sessions/{id}"), None).await;
    assert_eq!(snapshot["session"]["name"], name.as_str());
    assert_eq!(snapshot["session"]["metadata"], json!(metadata));
    assert_eq!(snapshot["messages"][0]["content"], content.as_str());
    assert_eq!(snapshot["assets"].as_array().unwrap().len(), 10);
    assert_eq!(
        snapshot["session"]["collaborators"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    let viewer = app.rest(&format!("user-1-{}", "u".repeat(100)));
    let list = ok(&viewer, Method::GET, "/api/sessions", None).await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    let doc = ok(
        &rest,
        Method::GET,
        &format!("/api/sessions/{id}/export"),
        None,
    )
    .await;
    for path in ["events", "messages", "stats", "assets", "mission"] {
        ok(
            &rest,
            Method::GET,
            &format!("/api/sessions/{id}/{path}"),
            None,
        )
        .await;
    }
    // The export imports again (within the same limits) and reads back.
    let copy = ok(&rest, Method::POST, "/api/sessions/import", Some(doc)).await;
    let copy_id = copy["id"].as_str().unwrap();
    let again = ok(
        &rest,
        Method::GET,
        &format!("/api/sessions/{copy_id}"),
        None,
    )
    .await;
    assert_eq!(again["mission"]["goal"], snapshot["mission"]["goal"]);
    ok(
        &rest,
        Method::GET,
        &format!("/api/sessions/{copy_id}/export"),
        None,
    )
    .await;
    ok(&rest, Method::DELETE, &format!("/api/sessions/{id}"), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maximum_of_every_limit_reads_back_on_the_memory_engine() {
    let app = spawn_app(&["--max-assets", "10"]).await;
    every_limit_at_its_maximum(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maximum_of_every_limit_reads_back_on_redis() {
    let app = redis_app(&unique_prefix(), &["--max-assets", "10"]).await;
    every_limit_at_its_maximum(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_past_a_limit_are_refused_naming_it_and_nothing_is_stored() {
    let app = spawn_app(&[]).await;
    let rest = app.rest("alice");
    let deep = nested(125);
    let cases = [
        (
            json!({"name": "deep", "metadata": {"x": deep}}),
            413,
            "TANDEM_MAX_JSON_DEPTH",
        ),
        (
            json!({"name": "deep", "metadata": {"x": nested(32)}}),
            413,
            "TANDEM_MAX_JSON_DEPTH",
        ),
        (
            json!({"name": "big", "metadata": {"x": "y".repeat(9000)}}),
            413,
            "TANDEM_MAX_METADATA_BYTES",
        ),
        (
            json!({"name": "a".repeat(201)}),
            413,
            "TANDEM_MAX_NAME_CHARS",
        ),
        (json!({"name": "nul\u{0}"}), 422, "control"),
        (json!({"name": "\u{1b}[31mred"}), 422, "control"),
        (json!({"name": "evil\u{202e}txt.exe"}), 422, "bidirectional"),
    ];
    for (body, status, named) in cases {
        let (got, reply) = rest
            .send(Method::POST, "/api/sessions", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {reply}");
        assert!(
            reply["error"]["message"].as_str().unwrap().contains(named),
            "{reply}"
        );
    }
    // Naming someone as a collaborator of a hostile session is refused too,
    // so their list stays readable.
    let (got, _) = rest
        .send(
            Method::POST,
            "/api/sessions",
            Some(json!({"name": "x", "metadata": {"d": deep},
            "collaborators": [{"user_id": "bob", "role": "viewer"}]})),
        )
        .await;
    assert_eq!(got, 413);
    let list = ok(&app.rest("bob"), Method::GET, "/api/sessions", None).await;
    assert_eq!(list["items"], json!([]));
    let list = ok(&rest, Method::GET, "/api/sessions", None).await;
    assert_eq!(list["items"], json!([]), "nothing was stored");
    // An editor's metadata merge is checked as a whole.
    let id = ok(
        &rest,
        Method::POST,
        "/api/sessions",
        Some(json!({"name": "ok"})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (got, _) = rest
        .send(
            Method::PATCH,
            &format!("/api/sessions/{id}"),
            Some(json!({"metadata": {"d": deep}})),
        )
        .await;
    assert_eq!(got, 413);
    let asset = json!({"name": "a", "media_type": "not a type", "content": "x"});
    let (got, _) = rest
        .send(
            Method::POST,
            &format!("/api/sessions/{id}/assets"),
            Some(asset),
        )
        .await;
    assert_eq!(got, 422);
    let asset = json!({"name": "a", "media_type": "image/png", "uri": "javascript alert(1)"});
    let (got, _) = rest
        .send(
            Method::POST,
            &format!("/api/sessions/{id}/assets"),
            Some(asset),
        )
        .await;
    assert_eq!(got, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_is_held_to_the_limits_of_new_writes() {
    let app = spawn_app(&[]).await;
    let rest = app.rest("alice");
    let id = session_with_mission(&rest).await;
    ok(
        &rest,
        Method::POST,
        &format!("/api/sessions/{id}/messages"),
        Some(json!({"content": "hi"})),
    )
    .await;
    let doc = ok(
        &rest,
        Method::GET,
        &format!("/api/sessions/{id}/export"),
        None,
    )
    .await;
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 6] = [
        ("a 5,000-character name", |d| {
            d["session"]["name"] = json!("n".repeat(5000))
        }),
        ("200 KB of metadata", |d| {
            d["session"]["metadata"] = json!({"x": "m".repeat(200_000)})
        }),
        ("a 2 MB message", |d| {
            let big = json!("c".repeat(2_000_000));
            d["messages"][0]["content"] = big.clone();
            for e in d["events"].as_array_mut().unwrap() {
                if e["type"] == "chat.message" {
                    e["data"]["message"]["content"] = big.clone();
                }
            }
        }),
        ("an empty mission title", |d| {
            for e in d["events"].as_array_mut().unwrap() {
                if e["type"] == "mission.linked" {
                    e["data"]["mission"]["title"] = json!("");
                }
            }
        }),
        ("duplicate hop ids", |d| {
            for e in d["events"].as_array_mut().unwrap() {
                if e["type"] == "mission.linked" {
                    let hop = e["data"]["mission"]["hops"][0].clone();
                    e["data"]["mission"]["hops"]
                        .as_array_mut()
                        .unwrap()
                        .push(hop);
                }
            }
        }),
        ("a message authored by a control character", |d| {
            for e in d["events"].as_array_mut().unwrap() {
                if e["type"] == "chat.message" {
                    e["actor"] = json!("\u{0}root");
                }
            }
        }),
    ];
    for (what, edit) in edits {
        let mut bad = doc.clone();
        edit(&mut bad);
        let (status, body) = rest
            .send(Method::POST, "/api/sessions/import", Some(bad))
            .await;
        assert!(status == 413 || status == 422, "{what}: {status} {body}");
    }
    let list = ok(&rest, Method::GET, "/api/sessions", None).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "nothing was imported"
    );
    // The untouched document imports, with every message marked as imported.
    let copy = ok(&rest, Method::POST, "/api/sessions/import", Some(doc)).await;
    let copy_id = copy["id"].as_str().unwrap();
    let messages = ok(
        &rest,
        Method::GET,
        &format!("/api/sessions/{copy_id}/messages"),
        None,
    )
    .await;
    assert_eq!(
        messages[0]["imported"],
        json!({"author": "alice", "session_id": id})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_session_harms_no_one_and_its_owner_can_delete_it() {
    let prefix = unique_prefix();
    let app = redis_app(&prefix, &[]).await;
    let alice = app.rest("alice");
    let bob = app.rest("bob");
    let mut ids = Vec::new();
    for name in ["good", "broken"] {
        let s = ok(
            &alice,
            Method::POST,
            "/api/sessions",
            Some(json!({"name": name, "collaborators": [{"user_id": "bob", "role": "editor"}]})),
        )
        .await;
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    let (good, broken) = (&ids[0], &ids[1]);
    // Damage the stored record (as another version, or a bug, could).
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}:{{{broken}}}:record");
    let deep = serde_json::to_string(&nested(200)).unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("r")
        .arg(deep)
        .query_async(&mut conn)
        .await
        .unwrap();

    for rest in [&alice, &bob] {
        let list = ok(rest, Method::GET, "/api/sessions", None).await;
        let listed: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            listed,
            vec![good.as_str()],
            "the damaged session is skipped, the rest listed"
        );
        let (status, _) = rest.send(Method::GET, "/api/sessions/active", None).await;
        assert_eq!(status, 200);
    }
    let (status, body) = alice
        .send(Method::GET, &format!("/api/sessions/{broken}"), None)
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "corrupt");
    let (status, _) = bob
        .send(Method::DELETE, &format!("/api/sessions/{broken}"), None)
        .await;
    assert_eq!(status, 403, "only the owner deletes");
    let (status, _) = app
        .rest("mallory")
        .send(Method::DELETE, &format!("/api/sessions/{broken}"), None)
        .await;
    assert_eq!(status, 404);
    let (status, body) = alice
        .send(Method::DELETE, &format!("/api/sessions/{broken}"), None)
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = alice
        .send(Method::GET, &format!("/api/sessions/{broken}"), None)
        .await;
    assert_eq!(status, 404);
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn hostile_tokens_are_refused_without_harm() {
    let app = spawn_app(&["--jwt-issuer", "https://idp", "--jwt-audience", "tandem"]).await;
    let minter = app.minter();
    let exp = crate::helpers::now_secs() + 600;
    let claims = |iss: Option<&str>, aud: Option<&str>, exp: u64| tandem::auth::Claims {
        sub: "alice".into(),
        exp,
        iat: None,
        nbf: None,
        iss: iss.map(str::to_owned),
        aud: aud.map(|a| json!(a)),
        info: None,
    };
    for (what, c, code) in [
        ("no iss", claims(None, Some("tandem"), exp), 3500),
        ("no aud", claims(Some("https://idp"), None, exp), 3500),
        (
            "exp at u64::MAX",
            claims(Some("https://idp"), Some("tandem"), u64::MAX),
            3500,
        ),
    ] {
        let token = minter.mint_claims(&c).unwrap();
        let mut ws = app.open().await;
        ws.send_command("connect", json!({"token": token})).await;
        assert_eq!(ws.expect_close().await.0, code, "{what}");
    }
    let good = minter
        .mint_claims(&claims(Some("https://idp"), Some("tandem"), exp))
        .unwrap();
    let mut ws = app.open().await;
    let reply = ws.connect(&good).await;
    assert!(reply.get("error").is_none(), "{reply}");
    ws.rpc_ok("server.info", json!({})).await;
}

#[test]
fn the_token_command_refuses_a_lifetime_it_cannot_represent() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "--jwt-hs256-secret",
            crate::helpers::SECRET,
            "token",
            "--user",
            "alice",
            "--ttl",
            "100000y",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("9999"), "{err}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "--jwt-hs256-secret",
            crate::helpers::SECRET,
            "token",
            "--user",
            "alice",
            "--ttl",
            "1h",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
}

#[test]
fn boolean_settings_take_the_usual_spellings() {
    use clap::Parser;
    for (value, dev) in [
        ("1", true),
        ("yes", true),
        ("true", true),
        ("on", true),
        ("0", false),
        ("no", false),
        ("false", false),
    ] {
        let cli = tandem::config::Cli::try_parse_from(["tandem", "--dev", value]).unwrap();
        assert_eq!(cli.config.dev, dev, "{value}");
    }
    let cli = tandem::config::Cli::try_parse_from(["tandem", "--dev"]).unwrap();
    assert!(cli.config.dev);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["token", "--user", "a"])
        .env("TANDEM_DEV", "1")
        .env("TANDEM_JWT_HS256_SECRET", crate::helpers::SECRET)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// TANDEM_MAX_SESSIONS_PER_USER counts the sessions a user owns: sessions
/// they only collaborate on do not use their quota (the cheap count of
/// their list is only a first check).
async fn the_session_quota_counts_owned_sessions(app: &TestApp) {
    let alice = app.rest("alice");
    let bob = app.rest("bob");
    for i in 0..2 {
        let body = json!({"name": format!("bob's {i}"), "collaborators": [{"user_id": "alice", "role": "editor"}]});
        ok(&bob, Method::POST, "/api/sessions", Some(body)).await;
    }
    // Alice is in two sessions (the limit) but owns none.
    for i in 0..2 {
        let body = json!({"name": format!("alice's {i}")});
        ok(&alice, Method::POST, "/api/sessions", Some(body)).await;
    }
    let (status, body) = alice
        .send(
            Method::POST,
            "/api/sessions",
            Some(json!({"name": "one too many"})),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body.to_string().contains("TANDEM_MAX_SESSIONS_PER_USER"),
        "{body}"
    );
    let (status, body) = bob
        .send(
            Method::POST,
            "/api/sessions",
            Some(json!({"name": "one too many"})),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    let (_, list) = alice.send(Method::GET, "/api/sessions", None).await;
    assert_eq!(
        list.to_string().matches("\"owner\":\"alice\"").count(),
        2,
        "{list}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_quota_counts_owned_sessions_on_the_memory_engine() {
    let app = spawn_app(&["--max-sessions-per-user", "2"]).await;
    the_session_quota_counts_owned_sessions(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_quota_counts_owned_sessions_on_redis() {
    let app = redis_app(&unique_prefix(), &["--max-sessions-per-user", "2"]).await;
    the_session_quota_counts_owned_sessions(&app).await;
}
