//! Every REST endpoint of `docs/api.md` over real HTTP: status codes and body
//! shapes, the event each write puts on `session:<id>` at the next offset,
//! malformed input (400/415/422), limits (413), roles (403), unknown or
//! invisible ids (404), credentials (401), idempotent sends, stale mission
//! revisions, list paging and filters, the status machine, export → import,
//! fork, stats, the audit trail and the OpenAPI document.

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Value};
use tandem::auth::{Secret, TokenMinter};

use crate::helpers::{session_channel, spawn_app, Rest, RestResponse, WsClient};

/// Every authenticated endpoint, spelled as in the OpenAPI document. In
/// [`fill`], `{id}` is a mission id under `/api/missions/` and a session id
/// elsewhere.
const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/api/sessions"),
    ("GET", "/api/sessions"),
    ("GET", "/api/sessions/active"),
    ("GET", "/api/sessions/{id}"),
    ("PATCH", "/api/sessions/{id}"),
    ("DELETE", "/api/sessions/{id}"),
    ("POST", "/api/sessions/{id}/complete"),
    ("POST", "/api/sessions/{id}/archive"),
    ("POST", "/api/sessions/{id}/restore"),
    ("POST", "/api/sessions/{id}/reopen"),
    ("POST", "/api/sessions/{id}/activity"),
    ("GET", "/api/sessions/{id}/collaborators"),
    ("PUT", "/api/sessions/{id}/collaborators/{user_id}"),
    ("DELETE", "/api/sessions/{id}/collaborators/{user_id}"),
    ("GET", "/api/sessions/{id}/messages"),
    ("POST", "/api/sessions/{id}/messages"),
    ("POST", "/api/missions"),
    ("GET", "/api/missions/{id}"),
    ("PATCH", "/api/missions/{id}"),
    ("POST", "/api/sessions/{id}/link-mission/{mission_id}"),
    ("GET", "/api/sessions/{id}/mission"),
    ("PATCH", "/api/sessions/{id}/mission"),
    ("GET", "/api/sessions/{id}/assets"),
    ("POST", "/api/sessions/{id}/assets"),
    ("DELETE", "/api/sessions/{id}/assets/{asset_id}"),
    ("GET", "/api/sessions/{id}/events"),
    ("GET", "/api/sessions/{id}/export"),
    ("POST", "/api/sessions/import"),
    ("POST", "/api/sessions/{id}/fork"),
    ("GET", "/api/sessions/{id}/stats"),
];

/// The endpoints whose path names a session (or mission) by id.
fn with_ids() -> impl Iterator<Item = (&'static str, &'static str)> {
    ENDPOINTS
        .iter()
        .copied()
        .filter(|(_, t)| t.contains("{id}"))
}

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).unwrap()
}

/// `template` with its placeholders replaced.
fn fill(template: &str, session: &str, mission: &str, user: &str) -> String {
    let id = if template.starts_with("/api/missions/") {
        mission
    } else {
        session
    };
    template
        .replace("{id}", id)
        .replace("{mission_id}", mission)
        .replace("{user_id}", user)
        // No such asset: the session decides (404 for strangers, 404 asset otherwise).
        .replace("{asset_id}", "01a2380f-0000-7000-8000-000000000000")
}

/// A valid body for the endpoint (`None` for those without one).
fn valid_body(verb: &str, template: &str) -> Option<Value> {
    let op = json!([{"op": "replace", "path": "/goal", "value": "g"}]);
    Some(match (verb, template) {
        ("POST", "/api/sessions") => json!({"name": "s"}),
        ("PATCH", "/api/sessions/{id}") => json!({"name": "x"}),
        ("PUT", _) => json!({"role": "viewer"}),
        ("POST", "/api/sessions/{id}/messages") => json!({"content": "hi"}),
        ("POST", "/api/missions") => json!({"title": "m"}),
        ("PATCH", _) => json!({ "ops": op }),
        ("POST", "/api/sessions/{id}/assets") => {
            json!({"name": "a", "media_type": "text/plain", "content": "x"})
        }
        ("POST", "/api/sessions/{id}/fork") => json!({}),
        _ => return None,
    })
}

/// Sends `verb path` as the client's user, with an optional JSON body.
async fn call(rest: &Rest, verb: &str, path: &str, body: Option<Value>) -> RestResponse {
    let mut request = rest.request(method(verb), path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    rest.fetch(request).await
}

/// Checks the status and returns the body.
#[track_caller]
fn expect(response: RestResponse, status: u16, what: &str) -> Value {
    assert_eq!(response.status, status, "{what}: {response:?}");
    response.body
}

/// Checks an error response: its status, `{"error": {"code", "message"}}`
/// (and `current_revision` only with `stale_revision`); returns the message.
#[track_caller]
fn expect_error(response: &RestResponse, status: u16, code: &str, what: &str) -> String {
    assert_eq!(response.status, status, "{what}: {response:?}");
    let body = response.body.as_object().unwrap_or_else(|| {
        panic!("{what}: the error body is not an object: {response:?}");
    });
    assert_eq!(
        body.len(),
        1,
        "{what}: only `error` at the top: {response:?}"
    );
    let error = body["error"].as_object().unwrap_or_else(|| {
        panic!("{what}: no error object: {response:?}");
    });
    assert_eq!(error["code"], code, "{what}: {response:?}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        !message.is_empty(),
        "{what}: an empty message: {response:?}"
    );
    for key in error.keys() {
        let allowed = key == "code"
            || key == "message"
            || (key == "current_revision" && code == "stale_revision");
        assert!(
            allowed,
            "{what}: unexpected error field {key}: {response:?}"
        );
    }
    assert!(
        response
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{what}: errors are JSON: {response:?}"
    );
    message.to_owned()
}

/// The session created by `rest`'s user; returns its id.
async fn create_session(rest: &Rest, name: &str, collaborators: &[(&str, &str)]) -> String {
    let collaborators: Vec<Value> = collaborators
        .iter()
        .map(|(user, role)| json!({"user_id": user, "role": role}))
        .collect();
    let body = expect(
        call(
            rest,
            "POST",
            "/api/sessions",
            Some(json!({"name": name, "collaborators": collaborators})),
        )
        .await,
        201,
        "create a session",
    );
    body["id"].as_str().unwrap().to_owned()
}

/// A mission with one hop of two tool steps.
fn mission_input(title: &str) -> Value {
    json!({
        "title": title,
        "goal": "ship it",
        "hops": [{
            "id": "h1", "name": "research",
            "steps": [
                {"id": "s1", "name": "search", "tool": "web", "inputs": {"q": "tandem"}},
                {"id": "s2", "name": "summarise", "tool": "llm"}
            ]
        }]
    })
}

/// Creates a mission as `rest`'s user and links it to `session`; returns the
/// mission id.
async fn link_new_mission(rest: &Rest, session: &str) -> String {
    let mission = expect(
        call(rest, "POST", "/api/missions", Some(mission_input("m"))).await,
        201,
        "create a mission",
    );
    let mid = mission["id"].as_str().unwrap().to_owned();
    expect(
        call(
            rest,
            "POST",
            &format!("/api/sessions/{session}/link-mission/{mid}"),
            None,
        )
        .await,
        200,
        "link the mission",
    );
    mid
}

/// Subscribes `ws` to the session's channel; returns the channel and its offset.
async fn watch(ws: &mut WsClient, session: &str) -> (String, u64) {
    let channel = session_channel(session);
    let sub = ws.subscribe_ok(&channel, json!({})).await;
    let offset = sub["offset"].as_u64().unwrap();
    (channel, offset)
}

/// The user ids of a list of collaborators.
fn users(collaborators: &Value) -> Vec<&str> {
    collaborators
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_str().unwrap())
        .collect()
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

const SESSION_KEYS: &[&str] = &[
    "collaborators",
    "created_at",
    "id",
    "last_activity_at",
    "message_count",
    "metadata",
    "mission_id",
    "name",
    "owner",
    "status",
    "updated_at",
];

/// Every write endpoint answers its documented status and body and puts its
/// event on the session's stream at the next offset; reads return the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_an_event_at_the_next_offset_and_reads_agree() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let bob_rest = app.rest("bob");
    let mut bob = app.connect("bob").await;
    bob.subscribe_ok("user:bob", json!({})).await;

    // POST /api/sessions: 201, Location, the Session.
    let response = call(
        &alice,
        "POST",
        "/api/sessions",
        Some(json!({"name": "  Trip  ", "metadata": {"team": "red"},
                    "collaborators": [{"user_id": "bob", "role": "viewer"}]})),
    )
    .await;
    let location = response.header("location").map(str::to_owned);
    let created = expect(response, 201, "POST /api/sessions");
    assert_eq!(keys(&created), SESSION_KEYS, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    assert_eq!(
        location.as_deref(),
        Some(format!("/api/sessions/{id}").as_str())
    );
    assert_eq!(created["name"], "Trip", "names are trimmed");
    assert_eq!(created["owner"], "alice");
    assert_eq!(created["status"], "active");
    assert_eq!(created["metadata"], json!({"team": "red"}));
    assert_eq!(created["message_count"], 0);
    assert!(created["mission_id"].is_null());
    assert_eq!(users(&created["collaborators"]), vec!["alice", "bob"]);
    assert_eq!(created["collaborators"][1]["role"], "viewer");
    let notice = bob.expect_notice("bob", "session.added").await;
    assert_eq!(notice["session"]["id"], id.as_str(), "{notice}");
    let (channel, mut offset) = watch(&mut bob, &id).await;
    assert_eq!(offset, 1, "session.created is the first event");

    // GET /api/sessions/{id}: the snapshot.
    let snap = expect(
        call(&alice, "GET", location.as_deref().unwrap(), None).await,
        200,
        "GET the Location",
    );
    assert_eq!(
        keys(&snap),
        vec![
            "assets",
            "collaborators",
            "messages",
            "mission",
            "position",
            "role",
            "session"
        ]
    );
    assert_eq!(snap["session"], created);
    assert_eq!(snap["role"], "owner");
    assert_eq!(snap["position"]["offset"], 1);
    assert!(snap["position"]["epoch"].is_string(), "{snap}");
    assert!(snap["mission"].is_null());
    assert_eq!(snap["messages"], json!([]));
    assert_eq!(snap["assets"], json!([]));
    assert_eq!(snap["collaborators"], created["collaborators"]);
    let bob_view = expect(
        call(&bob_rest, "GET", &format!("/api/sessions/{id}"), None).await,
        200,
        "bob GET",
    );
    assert_eq!(bob_view["role"], "viewer");

    // PATCH /api/sessions/{id}: session.updated.
    let updated = expect(
        call(
            &alice,
            "PATCH",
            &format!("/api/sessions/{id}"),
            Some(json!({"name": "Trip B", "metadata": {"team": null, "phase": 2}})),
        )
        .await,
        200,
        "PATCH session",
    );
    assert_eq!(keys(&updated), SESSION_KEYS);
    assert_eq!(updated["name"], "Trip B");
    assert_eq!(
        updated["metadata"],
        json!({"phase": 2}),
        "null removes a key"
    );
    let e = bob
        .next_event(&channel, "session.updated", &mut offset)
        .await;
    assert_eq!(e["actor"], "alice");
    assert_eq!(
        e["data"],
        json!({"name": "Trip B", "metadata": {"phase": 2}})
    );

    // POST /api/sessions/{id}/messages: 201, chat.message.
    let messages = format!("/api/sessions/{id}/messages");
    let m1 = expect(
        call(
            &alice,
            "POST",
            &messages,
            Some(json!({"content": "hello", "metadata": {"lang": "en"}})),
        )
        .await,
        201,
        "send",
    );
    for key in [
        "id",
        "session_id",
        "author",
        "role",
        "content",
        "created_at",
        "offset",
    ] {
        assert!(m1.get(key).is_some(), "a ChatMessage has {key}: {m1}");
    }
    assert_eq!(m1["role"], "user", "default role");
    assert_eq!(m1["author"], "alice");
    assert_eq!(m1["session_id"], id.as_str());
    assert_eq!(m1["offset"], offset + 1, "the message knows its offset");
    let e = bob.next_event(&channel, "chat.message", &mut offset).await;
    assert_eq!(e["data"]["message"]["id"], m1["id"]);
    assert_eq!(e["data"]["message"]["content"], "hello");
    assert_eq!(e["data"]["message"]["metadata"], json!({"lang": "en"}));
    // (The payload's own `offset` is checked by
    // `the_chat_message_event_carries_the_message_offset`.)
    let m2 = expect(
        call(
            &alice,
            "POST",
            &messages,
            Some(json!({"content": "beep", "role": "assistant"})),
        )
        .await,
        201,
        "send as assistant",
    );
    assert_eq!(m2["role"], "assistant");
    let e = bob.next_event(&channel, "chat.message", &mut offset).await;
    assert_eq!(e["data"]["message"]["id"], m2["id"]);

    // GET /api/sessions/{id}/messages with before/after/limit (viewers read).
    let history = expect(
        call(&bob_rest, "GET", &messages, None).await,
        200,
        "history",
    );
    assert_eq!(history, json!([m1, m2]));
    let before = format!("{messages}?before={}&limit=1", m2["offset"]);
    let page = expect(call(&bob_rest, "GET", &before, None).await, 200, "before");
    assert_eq!(page, json!([m1]));
    let after = format!("{messages}?after={}", m1["offset"]);
    let page = expect(call(&bob_rest, "GET", &after, None).await, 200, "after");
    assert_eq!(page, json!([m2]));
    let page = expect(
        call(&bob_rest, "GET", &format!("{messages}?limit=1"), None).await,
        200,
        "limit",
    );
    assert_eq!(page.as_array().unwrap().len(), 1, "{page}");

    // POST /api/missions: 201 + Location, unlinked (no event anywhere).
    let response = call(&alice, "POST", "/api/missions", Some(mission_input("Ship"))).await;
    let mission_location = response.header("location").map(str::to_owned);
    let mission = expect(response, 201, "POST /api/missions");
    let mid = mission["id"].as_str().unwrap().to_owned();
    assert_eq!(mission_location, Some(format!("/api/missions/{mid}")));
    assert_eq!(
        keys(&mission),
        vec![
            "created_at",
            "goal",
            "hops",
            "id",
            "owner",
            "revision",
            "session_id",
            "status",
            "title",
            "updated_at"
        ]
    );
    assert_eq!(mission["revision"], 1);
    assert_eq!(mission["status"], "proposed");
    assert_eq!(mission["owner"], "alice");
    assert!(mission["session_id"].is_null());
    assert_eq!(mission["hops"][0]["steps"][0]["status"], "pending");
    let mission_path = format!("/api/missions/{mid}");
    assert_eq!(
        expect(
            call(&alice, "GET", &mission_path, None).await,
            200,
            "GET mission"
        ),
        mission
    );
    expect_error(
        &call(&bob_rest, "GET", &mission_path, None).await,
        404,
        "not_found",
        "an unlinked mission is its owner's only",
    );
    // PATCH /api/missions/{id} on an unlinked mission: no stream to publish on.
    let draft = expect(
        call(
            &alice,
            "PATCH",
            &mission_path,
            Some(json!({"ops": [{"op": "replace", "path": "/goal", "value": "ship it well"}]})),
        )
        .await,
        200,
        "patch the draft",
    );
    assert_eq!(draft["revision"], 2);
    assert_eq!(draft["goal"], "ship it well");
    let session_mission = format!("/api/sessions/{id}/mission");
    expect_error(
        &call(&alice, "GET", &session_mission, None).await,
        404,
        "not_found",
        "no mission linked yet",
    );

    // POST /api/sessions/{id}/link-mission/{mission_id}: mission.linked.
    let link = format!("/api/sessions/{id}/link-mission/{mid}");
    let linked = expect(call(&alice, "POST", &link, None).await, 200, "link");
    assert_eq!(linked["session_id"], id.as_str());
    assert_eq!(linked["revision"], 3, "linking is a change");
    let e = bob
        .next_event(&channel, "mission.linked", &mut offset)
        .await;
    assert_eq!(e["data"]["mission"], linked);
    // GET /api/sessions/{id}/mission and GET /api/missions/{id} for a collaborator.
    assert_eq!(
        expect(
            call(&bob_rest, "GET", &session_mission, None).await,
            200,
            "session mission"
        ),
        linked
    );
    assert_eq!(
        expect(
            call(&bob_rest, "GET", &mission_path, None).await,
            200,
            "linked mission"
        ),
        linked
    );
    // Linking again returns it unchanged (and publishes nothing, see below).
    assert_eq!(
        expect(call(&alice, "POST", &link, None).await, 200, "link again"),
        linked
    );

    // PATCH /api/missions/{id}: mission.updated {mission_id, base_revision, revision, patch}.
    let ops = json!([{"op": "replace", "path": "/hops/0/steps/0/status", "value": "running"}]);
    let patched = expect(
        call(
            &alice,
            "PATCH",
            &mission_path,
            Some(json!({"ops": ops, "base_revision": 3})),
        )
        .await,
        200,
        "patch by mission id",
    );
    assert_eq!(patched["revision"], 4);
    assert_eq!(patched["hops"][0]["steps"][0]["status"], "running");
    let e = bob
        .next_event(&channel, "mission.updated", &mut offset)
        .await;
    assert_eq!(
        e["data"],
        json!({"mission_id": mid, "base_revision": 3, "revision": 4, "patch": ops})
    );
    // PATCH /api/sessions/{id}/mission (no base: applies to the current revision).
    let patched = expect(
        call(
            &alice,
            "PATCH",
            &session_mission,
            Some(
                json!({"ops": [{"op": "add", "path": "/hops/0/steps/0/outputs",
                                 "value": {"hits": 3}}]}),
            ),
        )
        .await,
        200,
        "patch the session's mission",
    );
    assert_eq!(patched["revision"], 5);
    assert_eq!(
        patched["hops"][0]["steps"][0]["outputs"],
        json!({"hits": 3})
    );
    let e = bob
        .next_event(&channel, "mission.updated", &mut offset)
        .await;
    assert_eq!(e["data"]["revision"], 5);

    // POST /api/sessions/{id}/assets: 201, asset.added.
    let assets = format!("/api/sessions/{id}/assets");
    let a1 = expect(
        call(
            &alice,
            "POST",
            &assets,
            Some(
                json!({"name": "notes", "media_type": "text/plain", "content": "hello",
                        "metadata": {"k": 1}}),
            ),
        )
        .await,
        201,
        "add an inline asset",
    );
    assert_eq!(a1["scope"], json!({"kind": "session"}), "default scope");
    assert_eq!(a1["created_by"], "alice");
    assert_eq!(a1["content"], "hello");
    let e = bob.next_event(&channel, "asset.added", &mut offset).await;
    assert_eq!(e["data"]["asset"], a1);
    let a2 = expect(
        call(
            &alice,
            "POST",
            &assets,
            Some(json!({"name": "spec", "media_type": "application/pdf",
                        "uri": "https://example.com/spec.pdf", "scope": {"kind": "hop", "hop_id": "h1"}})),
        )
        .await,
        201,
        "add a uri asset",
    );
    assert_eq!(a2["scope"], json!({"kind": "hop", "hop_id": "h1"}));
    let e = bob.next_event(&channel, "asset.added", &mut offset).await;
    assert_eq!(e["data"]["asset"], a2);
    // GET /api/sessions/{id}/assets
    assert_eq!(
        expect(call(&bob_rest, "GET", &assets, None).await, 200, "assets"),
        json!([a1, a2])
    );

    // PUT /api/sessions/{id}/collaborators/{user_id}: added, then updated.
    let carol_path = format!("/api/sessions/{id}/collaborators/carol");
    let carol = expect(
        call(&alice, "PUT", &carol_path, Some(json!({"role": "viewer"}))).await,
        200,
        "share",
    );
    assert_eq!(keys(&carol), vec!["added_at", "role", "user_id"]);
    assert_eq!(
        (&carol["user_id"], &carol["role"]),
        (&json!("carol"), &json!("viewer"))
    );
    let e = bob
        .next_event(&channel, "collaborator.added", &mut offset)
        .await;
    assert_eq!(e["data"]["collaborator"], carol);
    let carol = expect(
        call(&alice, "PUT", &carol_path, Some(json!({"role": "editor"}))).await,
        200,
        "change a role",
    );
    assert_eq!(carol["role"], "editor");
    let e = bob
        .next_event(&channel, "collaborator.updated", &mut offset)
        .await;
    assert_eq!(e["data"]["collaborator"], carol);
    // GET /api/sessions/{id}/collaborators
    let list = expect(
        call(
            &bob_rest,
            "GET",
            &format!("/api/sessions/{id}/collaborators"),
            None,
        )
        .await,
        200,
        "collaborators",
    );
    assert_eq!(users(&list), vec!["alice", "bob", "carol"]);
    assert_eq!(list[0]["role"], "owner");
    // DELETE /api/sessions/{id}/collaborators/{user_id}: 204, collaborator.removed.
    let revoked = call(&alice, "DELETE", &carol_path, None).await;
    assert!(revoked.body.is_null(), "204 has no body: {revoked:?}");
    expect(revoked, 204, "revoke");
    let e = bob
        .next_event(&channel, "collaborator.removed", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"user_id": "carol"}));

    // GET /api/sessions and /api/sessions/active
    let page = expect(
        call(&alice, "GET", "/api/sessions", None).await,
        200,
        "list",
    );
    assert_eq!(keys(&page), vec!["items", "next_cursor"]);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert!(page["next_cursor"].is_null());
    let active = expect(
        call(&bob_rest, "GET", "/api/sessions/active", None).await,
        200,
        "active",
    );
    assert_eq!(active["id"], id.as_str());
    assert_eq!(keys(&active), SESSION_KEYS);

    // POST /api/sessions/{id}/activity (any collaborator; no event).
    let touched = expect(
        call(
            &bob_rest,
            "POST",
            &format!("/api/sessions/{id}/activity"),
            None,
        )
        .await,
        200,
        "activity",
    );
    assert_eq!(touched["id"], id.as_str());
    assert_eq!(touched["status"], "active");

    // GET stats, events and export agree with the stream.
    let stats = expect(
        call(&bob_rest, "GET", &format!("/api/sessions/{id}/stats"), None).await,
        200,
        "stats",
    );
    assert_eq!(stats["messages"], 2);
    assert_eq!(stats["events"], offset);
    let events = expect(
        call(
            &bob_rest,
            "GET",
            &format!("/api/sessions/{id}/events"),
            None,
        )
        .await,
        200,
        "events",
    );
    let offsets: Vec<u64> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, (1..=offset).collect::<Vec<_>>());
    assert_eq!(
        keys(&events[0]),
        vec!["actor", "at", "data", "offset", "type"]
    );
    assert_eq!(events[0]["type"], "session.created");
    let export = expect(
        call(
            &bob_rest,
            "GET",
            &format!("/api/sessions/{id}/export"),
            None,
        )
        .await,
        200,
        "export",
    );
    assert_eq!(export["format"], "tandem.session/1");
    assert_eq!(export["messages"], json!([m1, m2]));
    assert_eq!(export["events"], events);

    // The lifecycle actions: one session.status_changed each.
    for (action, from, to) in [
        ("complete", "active", "completed"),
        ("archive", "completed", "archived"),
        ("restore", "archived", "active"),
    ] {
        let s = expect(
            call(
                &alice,
                "POST",
                &format!("/api/sessions/{id}/{action}"),
                None,
            )
            .await,
            200,
            action,
        );
        assert_eq!(keys(&s), SESSION_KEYS);
        assert_eq!(s["status"], to, "{action}");
        let e = bob
            .next_event(&channel, "session.status_changed", &mut offset)
            .await;
        assert_eq!(e["data"], json!({"from": from, "to": to}), "{action}");
    }

    // DELETE /api/sessions/{id}: 204, session.deleted, session.removed on the feed.
    let deleted = call(&alice, "DELETE", &format!("/api/sessions/{id}"), None).await;
    assert!(deleted.body.is_null(), "204 has no body: {deleted:?}");
    expect(deleted, 204, "delete");
    let e = bob
        .next_event(&channel, "session.deleted", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"session_id": id}));
    let notice = bob.expect_notice("bob", "session.removed").await;
    assert_eq!(notice["session_id"], id.as_str(), "{notice}");
    for user in [&alice, &bob_rest] {
        expect_error(
            &call(user, "GET", &format!("/api/sessions/{id}"), None).await,
            404,
            "not_found",
            "a deleted session",
        );
    }
    let page = expect(
        call(&alice, "GET", "/api/sessions", None).await,
        200,
        "list",
    );
    assert_eq!(page["items"], json!([]));
}

/// `Idempotency-Key`: three POSTs give one message (same id and offset, 201
/// each time) and one event; the header wins over the body's field; keys are
/// per author.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_header_dedupes_and_wins_over_the_body() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let bob = app.rest("bob");
    let id = create_session(&alice, "idem", &[("bob", "editor")]).await;
    let mut ws = app.connect("alice").await;
    let (channel, mut offset) = watch(&mut ws, &id).await;
    let path = format!("/api/sessions/{id}/messages");
    let send = |rest: &Rest, key: Option<&str>, body: Value| {
        let mut request = rest.request(Method::POST, &path).json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request
    };

    let mut replies = Vec::new();
    for content in ["hello", "hello", "hello again?"] {
        let response = alice
            .fetch(send(&alice, Some("msg-1"), json!({"content": content})))
            .await;
        replies.push(expect(response, 201, "send with Idempotency-Key"));
    }
    assert_eq!(replies[0]["content"], "hello");
    assert_eq!(replies[0]["idempotency_key"], "msg-1");
    assert_eq!(replies[1], replies[0], "a retry returns the first message");
    assert_eq!(replies[2], replies[0], "even with other content");
    let e = ws.next_event(&channel, "chat.message", &mut offset).await;
    assert_eq!(e["data"]["message"]["id"], replies[0]["id"]);

    // The header wins over the body's field: the message is stored under the header's key.
    let by_header = expect(
        alice
            .fetch(send(
                &alice,
                Some("hdr"),
                json!({"content": "two", "idempotency_key": "body"}),
            ))
            .await,
        201,
        "header and body key",
    );
    assert_eq!(by_header["idempotency_key"], "hdr");
    let e = ws.next_event(&channel, "chat.message", &mut offset).await;
    assert_eq!(e["data"]["message"]["id"], by_header["id"]);
    let retry = expect(
        alice
            .fetch(send(
                &alice,
                None,
                json!({"content": "two", "idempotency_key": "hdr"}),
            ))
            .await,
        201,
        "the header's key in the body",
    );
    assert_eq!(retry, by_header);
    let retry = expect(
        alice
            .fetch(send(
                &alice,
                Some("hdr"),
                json!({"content": "two", "idempotency_key": "something else"}),
            ))
            .await,
        201,
        "the header again, another body key",
    );
    assert_eq!(retry, by_header);
    // The body's key alone (no header) works too.
    let by_body = expect(
        alice
            .fetch(send(
                &alice,
                None,
                json!({"content": "three", "idempotency_key": "body"}),
            ))
            .await,
        201,
        "body key",
    );
    assert_ne!(
        by_body["id"], by_header["id"],
        "the body key was not used before"
    );
    let e = ws.next_event(&channel, "chat.message", &mut offset).await;
    assert_eq!(e["data"]["message"]["id"], by_body["id"]);

    // Another author's identical key never matches.
    let bobs = expect(
        bob.fetch(send(&bob, Some("msg-1"), json!({"content": "hello"})))
            .await,
        201,
        "bob with alice's key",
    );
    assert_ne!(bobs["id"], replies[0]["id"]);
    assert_eq!(bobs["author"], "bob");
    let e = ws.next_event(&channel, "chat.message", &mut offset).await;
    assert_eq!(e["data"]["message"]["id"], bobs["id"]);

    // Exactly four messages and five events: the retries added nothing.
    let history = expect(call(&alice, "GET", &path, None).await, 200, "history");
    let ids: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(
        ids,
        vec![
            &replies[0]["id"],
            &by_header["id"],
            &by_body["id"],
            &bobs["id"]
        ]
    );
    let stats = expect(
        call(&alice, "GET", &format!("/api/sessions/{id}/stats"), None).await,
        200,
        "stats",
    );
    assert_eq!(
        (stats["messages"].as_u64(), stats["events"].as_u64()),
        (Some(4), Some(5))
    );

    // Bad keys: over 128 bytes is 422; a non-ASCII header is 400 invalid_header.
    let long = "k".repeat(129);
    expect_error(
        &alice
            .fetch(send(&alice, Some(&long), json!({"content": "x"})))
            .await,
        422,
        "invalid",
        "a 129-byte key",
    );
    let ok = "k".repeat(128);
    expect(
        alice
            .fetch(send(&alice, Some(&ok), json!({"content": "x"})))
            .await,
        201,
        "a 128-byte key",
    );
    ws.next_event(&channel, "chat.message", &mut offset).await;
    let request = alice
        .request(Method::POST, &path)
        .json(&json!({"content": "x"}))
        .header(
            "Idempotency-Key",
            HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
    let message = expect_error(
        &alice.fetch(request).await,
        400,
        "invalid_header",
        "a non-ASCII key",
    );
    assert!(
        message.to_lowercase().contains("idempotency-key"),
        "{message}"
    );
}

/// A mission edit with a stale `base_revision` is 409 `stale_revision`
/// carrying `current_revision`, on both patch endpoints, and publishes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_base_revision_is_409_with_the_current_revision() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let id = create_session(&alice, "stale", &[]).await;
    let mid = link_new_mission(&alice, &id).await; // revision 2
    let mut ws = app.connect("alice").await;
    let (channel, mut offset) = watch(&mut ws, &id).await;
    let by_id = format!("/api/missions/{mid}");
    let by_session = format!("/api/sessions/{id}/mission");
    let edit = |base: u64, title: &str| json!({"base_revision": base, "ops": [{"op": "replace", "path": "/title", "value": title}]});
    let m = expect(
        call(&alice, "PATCH", &by_session, Some(edit(2, "v3"))).await,
        200,
        "patch at the current revision",
    );
    assert_eq!(m["revision"], 3);
    let e = ws
        .next_event(&channel, "mission.updated", &mut offset)
        .await;
    assert_eq!(e["data"]["revision"], 3);
    for (path, base) in [(&by_id, 2), (&by_session, 2), (&by_id, 1), (&by_session, 9)] {
        let response = call(&alice, "PATCH", path, Some(edit(base, "late"))).await;
        let message = expect_error(&response, 409, "stale_revision", path);
        assert_eq!(
            response.body["error"]["current_revision"], 3,
            "{response:?}"
        );
        assert!(message.contains('3'), "{message}");
    }
    let mission = expect(call(&alice, "GET", &by_id, None).await, 200, "mission");
    assert_eq!(
        (&mission["title"], &mission["revision"]),
        (&json!("v3"), &json!(3))
    );
    // The next event is the next successful edit's: the refused ones published nothing.
    expect(
        call(&alice, "PATCH", &by_id, Some(edit(3, "v4"))).await,
        200,
        "patch at revision 3",
    );
    let e = ws
        .next_event(&channel, "mission.updated", &mut offset)
        .await;
    assert_eq!(e["data"]["base_revision"], 3);
    assert_eq!(e["data"]["revision"], 4);
}

/// `GET /api/sessions` walks every page exactly once, filters by status and
/// name, caps `limit` at 100, and refuses bad queries; `GET /api/sessions/active`
/// is 404 for a caller with no active session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_list_pages_filters_and_active() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let names = [
        "Alpha one",
        "beta",
        "alpha two",
        "gamma",
        "ALPHA three",
        "delta",
        "epsilon",
    ];
    let mut ids = Vec::new();
    for name in names {
        ids.push(create_session(&alice, name, &[]).await);
    }
    for i in [1, 4] {
        expect(
            call(
                &alice,
                "POST",
                &format!("/api/sessions/{}/complete", ids[i]),
                None,
            )
            .await,
            200,
            "complete",
        );
    }
    let all = expect(
        call(&alice, "GET", "/api/sessions?limit=100", None).await,
        200,
        "all",
    );
    assert!(all["next_cursor"].is_null());
    let all: Vec<Value> = all["items"].as_array().unwrap().clone();
    assert_eq!(all.len(), names.len());
    let stamps: Vec<(&str, &str)> = all
        .iter()
        .map(|s| {
            (
                s["last_activity_at"].as_str().unwrap(),
                s["id"].as_str().unwrap(),
            )
        })
        .collect();
    let mut sorted = stamps.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(stamps, sorted, "most recently active first");
    assert_eq!(all[0]["id"], ids[4].as_str(), "the last one completed");

    // Walk every page of 2 (and of 3 with filters): each session exactly once.
    async fn walk(rest: &Rest, query: &str, limit: usize) -> (Vec<String>, usize) {
        let mut seen = Vec::new();
        let mut pages = 0;
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/sessions?limit={limit}{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = expect(call(rest, "GET", &path, None).await, 200, &path);
            pages += 1;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit, "{path}: {page}");
            seen.extend(items.iter().map(|s| s["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(next) => {
                    assert_eq!(items.len(), limit, "only the last page is short: {page}");
                    cursor = Some(next.to_owned());
                }
                None => return (seen, pages),
            }
            assert!(pages <= 20, "{path}: no end of pages");
        }
    }
    let expected: Vec<String> = all
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let (seen, pages) = walk(&alice, "", 2).await;
    assert_eq!(seen, expected, "every page exactly once, in order");
    assert_eq!(pages, 4);
    let (seen, pages) = walk(&alice, "", 7).await;
    assert_eq!((seen.len(), pages), (7, 1), "an exact fit has no next page");
    let (seen, _) = walk(&alice, "&status=active", 2).await;
    let active: Vec<String> = all
        .iter()
        .filter(|s| s["status"] == "active")
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, active);
    assert_eq!(seen.len(), 5);
    let (seen, _) = walk(&alice, "&q=ALPHA", 1).await;
    assert_eq!(seen.len(), 3, "case-insensitive substring");
    let (seen, _) = walk(&alice, "&q=alpha&status=completed", 3).await;
    assert_eq!(seen, vec![ids[4].clone()]);
    let (seen, _) = walk(&alice, "&q=Alpha%20t", 3).await;
    assert_eq!(seen, vec![ids[4].clone(), ids[2].clone()]);
    let none = expect(
        call(&alice, "GET", "/api/sessions?status=archived", None).await,
        200,
        "archived",
    );
    assert_eq!(none, json!({"items": [], "next_cursor": null}));
    // The default page size is 20 and the largest 100.
    let many = app.rest("dave");
    for i in 0..101 {
        create_session(&many, &format!("s{i}"), &[]).await;
    }
    for (query, len) in [("", 20), ("?limit=100", 100), ("?limit=5000", 100)] {
        let page = expect(
            call(&many, "GET", &format!("/api/sessions{query}"), None).await,
            200,
            query,
        );
        assert_eq!(page["items"].as_array().unwrap().len(), len, "{query}");
        assert!(page["next_cursor"].is_string(), "{query}");
    }
    let (seen, pages) = walk(&many, "", 100).await;
    assert_eq!((seen.len(), pages), (101, 2));

    // Bad queries.
    for query in ["limit=lots", "status=bogus", "limit=-1"] {
        expect_error(
            &call(&alice, "GET", &format!("/api/sessions?{query}"), None).await,
            400,
            "invalid_query",
            query,
        );
    }
    expect_error(
        &call(&alice, "GET", "/api/sessions?cursor=garbage", None).await,
        422,
        "invalid",
        "a cursor this server did not give",
    );

    // Other users see nothing; no active session is 404.
    let bob = app.rest("bob");
    let page = expect(call(&bob, "GET", "/api/sessions", None).await, 200, "bob");
    assert_eq!(page, json!({"items": [], "next_cursor": null}));
    expect_error(
        &call(&bob, "GET", "/api/sessions/active", None).await,
        404,
        "not_found",
        "no session at all",
    );
    let erin = app.rest("erin");
    let done = create_session(&erin, "done", &[]).await;
    expect(
        call(
            &erin,
            "POST",
            &format!("/api/sessions/{done}/complete"),
            None,
        )
        .await,
        200,
        "complete",
    );
    expect_error(
        &call(&erin, "GET", "/api/sessions/active", None).await,
        404,
        "not_found",
        "only a completed session",
    );
    let active = expect(
        call(&alice, "GET", "/api/sessions/active", None).await,
        200,
        "alice's active",
    );
    assert_eq!(
        active["id"],
        ids[6].as_str(),
        "the most recently active one"
    );
}

/// The status machine over REST: each action's event, illegal transitions
/// (409 naming both states), archived sessions read-only (409 archived), and
/// abandoned sessions revived by reopen or the activity ping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_actions_and_illegal_transitions() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let id = create_session(&alice, "status", &[("bob", "viewer")]).await;
    let mid = link_new_mission(&alice, &id).await;
    let mut ws = app.connect("alice").await;
    let (channel, mut offset) = watch(&mut ws, &id).await;
    let act = |action: &str| format!("/api/sessions/{id}/{action}");
    let refused = |response: RestResponse, from: &str, to: &str, what: &str| {
        let message = expect_error(&response, 409, "illegal_transition", what);
        assert!(
            message.contains(&format!("from {from} to {to}")),
            "{what}: the message names both states: {message}"
        );
    };

    refused(
        call(&alice, "POST", &act("restore"), None).await,
        "active",
        "active",
        "restore active",
    );
    refused(
        call(&alice, "POST", &act("reopen"), None).await,
        "active",
        "active",
        "reopen active",
    );
    expect(
        call(&alice, "POST", &act("complete"), None).await,
        200,
        "complete",
    );
    let e = ws
        .next_event(&channel, "session.status_changed", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"from": "active", "to": "completed"}));
    refused(
        call(&alice, "POST", &act("complete"), None).await,
        "completed",
        "completed",
        "complete twice",
    );
    refused(
        call(&alice, "POST", &act("reopen"), None).await,
        "completed",
        "active",
        "reopen completed",
    );
    refused(
        call(&alice, "POST", &act("restore"), None).await,
        "completed",
        "active",
        "restore completed",
    );
    expect(
        call(&alice, "POST", &act("archive"), None).await,
        200,
        "archive",
    );
    let e = ws
        .next_event(&channel, "session.status_changed", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"from": "completed", "to": "archived"}));
    refused(
        call(&alice, "POST", &act("archive"), None).await,
        "archived",
        "archived",
        "archive twice",
    );
    refused(
        call(&alice, "POST", &act("complete"), None).await,
        "archived",
        "completed",
        "complete archived",
    );
    refused(
        call(&alice, "POST", &act("reopen"), None).await,
        "archived",
        "active",
        "reopen archived",
    );

    // Archived: every write is 409 archived; reads still work.
    let other = expect(
        call(
            &alice,
            "POST",
            "/api/missions",
            Some(mission_input("other")),
        )
        .await,
        201,
        "another mission",
    );
    let bare = create_session(&alice, "bare", &[]).await;
    expect(
        call(
            &alice,
            "POST",
            &format!("/api/sessions/{bare}/archive"),
            None,
        )
        .await,
        200,
        "archive a session without a mission",
    );
    let op = json!({"ops": [{"op": "replace", "path": "/goal", "value": "g"}]});
    let writes = [
        (
            "PATCH",
            format!("/api/sessions/{id}"),
            Some(json!({"name": "x"})),
        ),
        ("POST", act("messages"), Some(json!({"content": "hi"}))),
        (
            "POST",
            act("assets"),
            Some(json!({"name": "a", "media_type": "text/plain", "content": "x"})),
        ),
        (
            "PUT",
            act("collaborators/carol"),
            Some(json!({"role": "viewer"})),
        ),
        ("DELETE", act("collaborators/bob"), None),
        ("PATCH", format!("/api/missions/{mid}"), Some(op.clone())),
        ("PATCH", act("mission"), Some(op.clone())),
        ("POST", act("activity"), None),
        // (On a session without a mission: with one, "already has a mission" wins.)
        (
            "POST",
            format!(
                "/api/sessions/{bare}/link-mission/{}",
                other["id"].as_str().unwrap()
            ),
            None,
        ),
    ];
    for (verb, path, body) in writes {
        expect_error(
            &call(&alice, verb, &path, body).await,
            409,
            "archived",
            &format!("{verb} {path} while archived"),
        );
    }
    for read in [
        "",
        "/messages",
        "/events",
        "/export",
        "/stats",
        "/assets",
        "/mission",
        "/collaborators",
    ] {
        expect(
            call(&alice, "GET", &format!("/api/sessions/{id}{read}"), None).await,
            200,
            read,
        );
    }
    let restored = expect(
        call(&alice, "POST", &act("restore"), None).await,
        200,
        "restore",
    );
    assert_eq!(restored["status"], "active");
    let e = ws
        .next_event(&channel, "session.status_changed", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"from": "archived", "to": "active"}));
    expect(
        call(&alice, "POST", &act("archive"), None).await,
        200,
        "archive an active one",
    );
    let e = ws
        .next_event(&channel, "session.status_changed", &mut offset)
        .await;
    assert_eq!(e["data"], json!({"from": "active", "to": "archived"}));

    // Abandoned (imported as such, since the sweeper does not run here).
    let mut export = expect(
        call(&alice, "GET", &act("export"), None).await,
        200,
        "export",
    );
    export["session"]["status"] = json!("abandoned");
    let mut copies = Vec::new();
    for _ in 0..2 {
        let copy = expect(
            call(&alice, "POST", "/api/sessions/import", Some(export.clone())).await,
            201,
            "import as abandoned",
        );
        assert_eq!(copy["status"], "abandoned");
        copies.push(copy["id"].as_str().unwrap().to_owned());
    }
    let (c1, c2) = (&copies[0], &copies[1]);
    let (ch1, mut off1) = watch(&mut ws, c1).await;
    refused(
        call(
            &alice,
            "POST",
            &format!("/api/sessions/{c1}/complete"),
            None,
        )
        .await,
        "abandoned",
        "completed",
        "complete abandoned",
    );
    refused(
        call(&alice, "POST", &format!("/api/sessions/{c1}/restore"), None).await,
        "abandoned",
        "active",
        "restore abandoned",
    );
    let reopened = expect(
        call(&alice, "POST", &format!("/api/sessions/{c1}/reopen"), None).await,
        200,
        "reopen",
    );
    assert_eq!(reopened["status"], "active");
    let e = ws
        .next_event(&ch1, "session.status_changed", &mut off1)
        .await;
    assert_eq!(e["data"], json!({"from": "abandoned", "to": "active"}));
    refused(
        call(&alice, "POST", &format!("/api/sessions/{c1}/reopen"), None).await,
        "active",
        "active",
        "reopen twice",
    );
    // The activity ping revives an abandoned session, with its status event.
    let (ch2, mut off2) = watch(&mut ws, c2).await;
    let revived = expect(
        call(
            &alice,
            "POST",
            &format!("/api/sessions/{c2}/activity"),
            None,
        )
        .await,
        200,
        "activity on abandoned",
    );
    assert_eq!(revived["status"], "active");
    let e = ws
        .next_event(&ch2, "session.status_changed", &mut off2)
        .await;
    assert_eq!(e["data"], json!({"from": "abandoned", "to": "active"}));
    assert_eq!(e["actor"], "alice");
}

/// Viewers read but every write is 403; only the owner shares, revokes and
/// deletes (403 for editors); nothing refused reaches the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_roles_get_403() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let editor = app.rest("ed");
    let viewer = app.rest("vi");
    let id = create_session(&alice, "roles", &[("ed", "editor"), ("vi", "viewer")]).await;
    let mid = link_new_mission(&alice, &id).await;
    let s = |rest: &str| format!("/api/sessions/{id}{rest}");
    let own = expect(
        call(&viewer, "POST", "/api/missions", Some(mission_input("v"))).await,
        201,
        "a viewer creates their own mission",
    );
    let own = own["id"].as_str().unwrap().to_owned();
    let op = json!({"ops": [{"op": "replace", "path": "/goal", "value": "g"}]});
    let viewer_writes = [
        ("PATCH", s(""), Some(json!({"name": "x"}))),
        ("POST", s("/complete"), None),
        ("POST", s("/archive"), None),
        ("POST", s("/restore"), None),
        ("POST", s("/reopen"), None),
        ("POST", s("/messages"), Some(json!({"content": "hi"}))),
        ("PATCH", format!("/api/missions/{mid}"), Some(op.clone())),
        ("PATCH", s("/mission"), Some(op.clone())),
        ("POST", s(&format!("/link-mission/{own}")), None),
        (
            "POST",
            s("/assets"),
            Some(json!({"name": "a", "media_type": "text/plain", "content": "x"})),
        ),
        (
            "PUT",
            s("/collaborators/x"),
            Some(json!({"role": "viewer"})),
        ),
        ("DELETE", s("/collaborators/ed"), None),
        ("DELETE", s(""), None),
    ];
    for (verb, path, body) in viewer_writes {
        expect_error(
            &call(&viewer, verb, &path, body).await,
            403,
            "forbidden",
            &format!("viewer {verb} {path}"),
        );
    }
    // Editors write, but only the owner shares, revokes and deletes.
    expect(
        call(
            &editor,
            "POST",
            &s("/messages"),
            Some(json!({"content": "editors write"})),
        )
        .await,
        201,
        "an editor sends",
    );
    for (verb, path, body) in [
        (
            "PUT",
            s("/collaborators/x"),
            Some(json!({"role": "viewer"})),
        ),
        (
            "PUT",
            s("/collaborators/vi"),
            Some(json!({"role": "editor"})),
        ),
        ("DELETE", s("/collaborators/vi"), None),
        ("DELETE", s(""), None),
    ] {
        let message = expect_error(
            &call(&editor, verb, &path, body).await,
            403,
            "forbidden",
            &format!("editor {verb} {path}"),
        );
        assert!(message.contains("owner"), "{verb} {path}: {message}");
    }
    // Nothing refused reached the stream.
    let events = expect(
        call(&alice, "GET", &s("/events"), None).await,
        200,
        "events",
    );
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["session.created", "mission.linked", "chat.message"]
    );
    // Viewers read, and ping activity.
    for path in [
        s(""),
        s("/messages"),
        s("/events"),
        s("/export"),
        s("/stats"),
        s("/collaborators"),
        s("/assets"),
        s("/mission"),
        format!("/api/missions/{mid}"),
    ] {
        expect(call(&viewer, "GET", &path, None).await, 200, &path);
    }
    expect(
        call(&viewer, "POST", &s("/activity"), None).await,
        200,
        "viewer activity",
    );
    // A viewer may fork (a new session of their own).
    let fork = expect(
        call(&viewer, "POST", &s("/fork"), None).await,
        201,
        "viewer fork",
    );
    assert_eq!(fork["owner"], "vi");
}

/// A session or mission that does not exist, or that the caller does not
/// collaborate on, is 404 on every endpoint naming it; so is an unknown
/// collaborator, a mission the caller does not own, and an unknown `/api` path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_and_strangers_get_404() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let mallory = app.rest("mallory");
    let id = create_session(&alice, "private", &[]).await;
    let mid = link_new_mission(&alice, &id).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let mallorys = expect(
        call(
            &mallory,
            "POST",
            "/api/missions",
            Some(mission_input("mine")),
        )
        .await,
        201,
        "mallory's mission",
    );
    let mallorys = mallorys["id"].as_str().unwrap().to_owned();
    for (verb, template) in with_ids() {
        let cases = if template.starts_with("/api/missions/") {
            [mid.as_str(), unknown.as_str()].map(|m| fill(template, &id, m, "alice"))
        } else {
            [id.as_str(), unknown.as_str()].map(|s| fill(template, s, &mallorys, "alice"))
        };
        for path in cases {
            let message = expect_error(
                &call(&mallory, verb, &path, valid_body(verb, template)).await,
                404,
                "not_found",
                &format!("mallory {verb} {path}"),
            );
            assert!(message.contains("not found"), "{verb} {path}: {message}");
        }
    }
    // The owner asking about things that do not exist.
    let s = |rest: &str| format!("/api/sessions/{id}{rest}");
    for (verb, path) in [
        ("DELETE", s("/collaborators/nobody")),
        ("POST", s(&format!("/link-mission/{mallorys}"))),
        ("POST", s(&format!("/link-mission/{unknown}"))),
        ("GET", format!("/api/missions/{mallorys}")),
    ] {
        expect_error(
            &call(&alice, verb, &path, None).await,
            404,
            "not_found",
            &format!("alice {verb} {path}"),
        );
    }
    // Unknown API paths answer the JSON error shape too.
    for path in ["/api/nope", "/api/sessions/x/y/z", &s("/unknown")] {
        expect_error(
            &call(&alice, "GET", path, None).await,
            404,
            "not_found",
            path,
        );
    }
    // Alice's session is untouched.
    let events = expect(
        call(&alice, "GET", &s("/events"), None).await,
        200,
        "events",
    );
    assert_eq!(events.as_array().unwrap().len(), 2);
}

/// Missing, malformed, invalid and expired bearer tokens are 401 with the
/// JSON error shape and a `WWW-Authenticate` challenge on every endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_401_on_every_endpoint() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let id = create_session(&alice, "auth", &[]).await;
    let mid = link_new_mission(&alice, &id).await;
    let expired = app
        .minter()
        .mint_with_exp("alice", crate::helpers::now_secs() - 120, None)
        .unwrap();
    let forged = TokenMinter::new(&Secret::new("another-secret-another-secret-0123456789"))
        .mint("alice", std::time::Duration::from_secs(60), None)
        .unwrap();
    let cases: [(Option<String>, &str); 6] = [
        (None, "unauthorized"),
        (Some("Basic YWxpY2U6cHc=".into()), "unauthorized"),
        (Some("Bearer".into()), "unauthorized"),
        (Some("Bearer not.a.jwt".into()), "invalid_token"),
        (Some(format!("Bearer {forged}")), "invalid_token"),
        (Some(format!("Bearer {expired}")), "token_expired"),
    ];
    for (verb, template) in ENDPOINTS.iter().copied() {
        let path = fill(template, &id, &mid, "bob");
        for (authorization, code) in &cases {
            let mut request = alice.anonymous(method(verb), &path);
            if let Some(value) = authorization {
                request = request.header(AUTHORIZATION, value);
            }
            if let Some(body) = valid_body(verb, template) {
                request = request.json(&body);
            }
            let response = alice.fetch(request).await;
            let what = format!("{verb} {path} with {authorization:?}");
            expect_error(&response, 401, code, &what);
            let challenge = response.header("www-authenticate").unwrap_or_default();
            assert!(challenge.starts_with("Bearer"), "{what}: {response:?}");
        }
    }
    // The expired token's user is fine with a fresh one; nothing changed.
    let events = expect(
        call(&alice, "GET", &format!("/api/sessions/{id}/events"), None).await,
        200,
        "events",
    );
    assert_eq!(events.as_array().unwrap().len(), 2);
    let expired_rest = app.rest_with_token(&expired);
    let message = expect_error(
        &call(&expired_rest, "GET", "/api/sessions", None).await,
        401,
        "token_expired",
        "expired",
    );
    assert!(message.contains("expired"), "{message}");
}

/// Bodies: malformed JSON is 400, valid JSON of the wrong shape 422, a
/// non-JSON `Content-Type` 415, over 1 MiB 413; path ids that are not UUIDs
/// are 400 `invalid_path`; malformed query strings 400 `invalid_query`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_400_415_422_and_413() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let id = create_session(&alice, "bodies", &[]).await;
    let mid = link_new_mission(&alice, &id).await;
    let export = expect(
        call(&alice, "GET", &format!("/api/sessions/{id}/export"), None).await,
        200,
        "export",
    );
    let s = |rest: &str| format!("/api/sessions/{id}{rest}");
    // (verb, path, a valid body, a body of the wrong shape)
    let with_bodies = [
        (
            "POST",
            "/api/sessions".to_owned(),
            json!({"name": "n"}),
            json!({"name": 5}),
        ),
        (
            "POST",
            "/api/sessions".to_owned(),
            json!({"name": "n"}),
            json!({}),
        ),
        (
            "POST",
            "/api/sessions".to_owned(),
            json!({"name": "n"}),
            json!({"name": "n", "collaborators": [{"user_id": "b", "role": "admin"}]}),
        ),
        ("PATCH", s(""), json!({"name": "n"}), json!({"name": ["n"]})),
        (
            "PUT",
            s("/collaborators/bob"),
            json!({"role": "viewer"}),
            json!({"role": "admin"}),
        ),
        (
            "PUT",
            s("/collaborators/bob"),
            json!({"role": "viewer"}),
            json!({}),
        ),
        (
            "POST",
            s("/messages"),
            json!({"content": "hi"}),
            json!({"content": 1}),
        ),
        (
            "POST",
            s("/messages"),
            json!({"content": "hi"}),
            json!({"content": "hi", "role": "robot"}),
        ),
        (
            "POST",
            s("/messages"),
            json!({"content": "hi"}),
            json!(["hi"]),
        ),
        (
            "POST",
            "/api/missions".to_owned(),
            json!({"title": "t"}),
            json!({"goal": "no title"}),
        ),
        (
            "POST",
            "/api/missions".to_owned(),
            json!({"title": "t"}),
            json!({"title": "t", "status": "exploded"}),
        ),
        (
            "PATCH",
            format!("/api/missions/{mid}"),
            json!({"ops": [{"op": "replace", "path": "/goal", "value": "g"}]}),
            json!({"ops": "replace"}),
        ),
        (
            "PATCH",
            s("/mission"),
            json!({"ops": [{"op": "replace", "path": "/goal", "value": "g"}]}),
            json!({"ops": [{"op": "frobnicate", "path": "/goal"}]}),
        ),
        (
            "POST",
            s("/assets"),
            json!({"name": "a", "media_type": "text/plain", "content": "x"}),
            json!({"name": "a"}),
        ),
        (
            "POST",
            "/api/sessions/import".to_owned(),
            export.clone(),
            json!({}),
        ),
        (
            "POST",
            s("/fork"),
            json!({"at_offset": 1}),
            json!({"at_offset": "one"}),
        ),
        (
            "POST",
            s("/fork"),
            json!({"at_offset": 1}),
            json!({"at_offset": -1}),
        ),
    ];
    for (verb, path, good, wrong) in &with_bodies {
        let what = format!("{verb} {path}");
        let send = |body: &str, content_type: Option<&str>| {
            let mut request = alice.request(method(verb), path).body(body.to_owned());
            if let Some(ct) = content_type {
                request = request.header(CONTENT_TYPE, ct);
            }
            alice.fetch(request)
        };
        for bad in ["{\"name\": ", "not json", "{'a': 1}", ""] {
            if bad.is_empty() && path.ends_with("/fork") {
                continue; // an empty body is a valid fork request
            }
            expect_error(
                &send(bad, Some("application/json")).await,
                400,
                "malformed_json",
                &format!("{what} with {bad:?}"),
            );
        }
        expect_error(
            &send(&wrong.to_string(), Some("application/json")).await,
            422,
            "invalid_body",
            &format!("{what} with {wrong}"),
        );
        expect_error(
            &send(&good.to_string(), Some("text/plain")).await,
            415,
            "unsupported_media_type",
            &format!("{what} as text/plain"),
        );
        expect_error(
            &send(&good.to_string(), Some("application/x-www-form-urlencoded")).await,
            415,
            "unsupported_media_type",
            &format!("{what} as a form"),
        );
    }
    // A domain rule on a well-formed body: a user listed twice.
    let twice = json!({"name": "n", "collaborators": [
        {"user_id": "bob", "role": "editor"}, {"user_id": "bob", "role": "viewer"}]});
    expect_error(
        &call(&alice, "POST", "/api/sessions", Some(twice)).await,
        422,
        "invalid",
        "a user listed twice",
    );

    // Without a Content-Type, and as application/*+json, bodies are accepted.
    let response = alice
        .fetch(
            alice
                .request(Method::POST, &s("/messages"))
                .body(r#"{"content":"bare"}"#),
        )
        .await;
    expect(response, 201, "no Content-Type");
    let response = alice
        .fetch(
            alice
                .request(Method::POST, &s("/messages"))
                .header(CONTENT_TYPE, "application/merge-patch+json; charset=utf-8")
                .body(r#"{"content":"typed"}"#),
        )
        .await;
    expect(response, 201, "application/*+json");

    // Over the 1 MiB body limit: 413 payload_too_large; the import takes more.
    let big = json!({"content": "x".repeat(1024 * 1024 + 1)});
    expect_error(
        &call(&alice, "POST", &s("/messages"), Some(big)).await,
        413,
        "payload_too_large",
        "a 1 MiB message body",
    );
    let mut padded = export.to_string();
    padded.push_str(&" ".repeat(1024 * 1024 + 1));
    let response = alice
        .fetch(
            alice
                .request(Method::POST, "/api/sessions/import")
                .header(CONTENT_TYPE, "application/json")
                .body(padded),
        )
        .await;
    expect(response, 201, "an import document over 1 MiB");
    let mut huge = export.to_string();
    huge.push_str(&" ".repeat(16 * 1024 * 1024 + 1));
    let response = alice
        .fetch(
            alice
                .request(Method::POST, "/api/sessions/import")
                .header(CONTENT_TYPE, "application/json")
                .body(huge),
        )
        .await;
    expect_error(&response, 413, "payload_too_large", "an import over 16 MiB");

    // Path ids that are not UUIDs.
    for (verb, template) in with_ids() {
        for (sid, m) in [("not-a-uuid", mid.as_str()), ("123", mid.as_str())] {
            let path = if template.starts_with("/api/missions/") {
                fill(template, &id, sid, "bob")
            } else {
                fill(template, sid, m, "bob")
            };
            expect_error(
                &call(&alice, verb, &path, valid_body(verb, template)).await,
                400,
                "invalid_path",
                &format!("{verb} {path}"),
            );
        }
    }
    expect_error(
        &call(&alice, "POST", &s("/link-mission/not-a-uuid"), None).await,
        400,
        "invalid_path",
        "a mission id that is not a UUID",
    );

    // Malformed query strings.
    for query in [
        "/messages?limit=lots",
        "/messages?before=x",
        "/messages?after=-3",
        "/events?from=x",
        "/events?from=-1",
        "/events?limit=many",
    ] {
        expect_error(
            &call(&alice, "GET", &s(query), None).await,
            400,
            "invalid_query",
            query,
        );
    }
}

/// Limits small enough to hit with a few bytes.
const SMALL_LIMITS: &[&str] = &[
    "--max-message-bytes",
    "64",
    "--max-patch-ops",
    "2",
    "--max-collaborators",
    "2",
    "--max-name-chars",
    "10",
    "--max-metadata-bytes",
    "64",
    "--max-asset-bytes",
    "32",
    "--max-mission-bytes",
    "2048",
];

/// Domain limits are 413 `too_large` naming the limit; invalid values are 422
/// `invalid`; exactly at a limit is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_413_and_invalid_values_422() {
    let app = spawn_app(SMALL_LIMITS).await;
    let alice = app.rest("alice");
    async fn refused(rest: &Rest, verb: &str, path: &str, body: Value, status: u16, needle: &str) {
        let code = if status == 413 {
            "too_large"
        } else {
            "invalid"
        };
        let what = format!("{verb} {path} {body}");
        let message = expect_error(
            &call(rest, verb, path, Some(body)).await,
            status,
            code,
            &what,
        );
        assert!(
            message.contains(needle),
            "{what}: {message:?} should mention {needle:?}"
        );
    }
    let a = &alice;

    // POST /api/sessions
    let create = "/api/sessions";
    refused(a, "POST", create, json!({"name": "  "}), 422, "empty").await;
    refused(
        a,
        "POST",
        create,
        json!({"name": "x".repeat(11)}),
        413,
        "10 characters",
    )
    .await;
    refused(
        a,
        "POST",
        create,
        json!({"name": "ok", "metadata": {"pad": "x".repeat(64)}}),
        413,
        "64 bytes",
    )
    .await;
    refused(
        a,
        "POST",
        create,
        json!({"name": "ok", "collaborators": [
            {"user_id": "b", "role": "editor"}, {"user_id": "c", "role": "viewer"}]}),
        413,
        "2 per session",
    )
    .await;
    refused(
        a,
        "POST",
        create,
        json!({"name": "ok", "collaborators": [{"user_id": "b", "role": "owner"}]}),
        422,
        "owner",
    )
    .await;
    refused(
        a,
        "POST",
        create,
        json!({"name": "ok", "collaborators": [{"user_id": "", "role": "viewer"}]}),
        422,
        "user id",
    )
    .await;
    let dup = json!({"name": "ok", "collaborators": [
        {"user_id": "alice", "role": "viewer"}]});
    let response = call(a, "POST", create, Some(dup)).await;
    expect_error(
        &response,
        422,
        "invalid",
        "the owner listed as a collaborator",
    );
    let id = expect(
        call(
            a,
            "POST",
            create,
            Some(json!({"name": "x".repeat(10), "collaborators": [{"user_id": "b", "role": "editor"}]})),
        )
        .await,
        201,
        "exactly at the limits",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = |rest: &str| format!("/api/sessions/{id}{rest}");

    // PATCH /api/sessions/{id}
    refused(a, "PATCH", &s(""), json!({}), 422, "nothing to update").await;
    refused(a, "PATCH", &s(""), json!({"name": " "}), 422, "empty").await;
    refused(
        a,
        "PATCH",
        &s(""),
        json!({"name": "y".repeat(11)}),
        413,
        "10 characters",
    )
    .await;
    refused(
        a,
        "PATCH",
        &s(""),
        json!({"metadata": {"pad": "x".repeat(64)}}),
        413,
        "64 bytes",
    )
    .await;

    // POST /api/sessions/{id}/messages
    let m = s("/messages");
    refused(a, "POST", &m, json!({"content": "   "}), 422, "empty").await;
    refused(
        a,
        "POST",
        &m,
        json!({"content": "x".repeat(65)}),
        413,
        "64 bytes",
    )
    .await;
    refused(
        a,
        "POST",
        &m,
        json!({"content": "hi", "metadata": {"pad": "x".repeat(64)}}),
        413,
        "64 bytes",
    )
    .await;
    refused(
        a,
        "POST",
        &m,
        json!({"content": "hi", "idempotency_key": "k".repeat(129)}),
        422,
        "idempotency",
    )
    .await;
    refused(
        a,
        "POST",
        &m,
        json!({"content": "hi", "idempotency_key": ""}),
        422,
        "idempotency",
    )
    .await;
    expect(
        call(a, "POST", &m, Some(json!({"content": "x".repeat(64)}))).await,
        201,
        "64 bytes",
    );

    // POST /api/missions, PATCH /api/missions/{id}, PATCH /api/sessions/{id}/mission
    refused(
        a,
        "POST",
        "/api/missions",
        json!({"title": " "}),
        422,
        "empty",
    )
    .await;
    refused(
        a,
        "POST",
        "/api/missions",
        mission_input(&"t".repeat(11)),
        413,
        "10 characters",
    )
    .await;
    refused(
        a,
        "POST",
        "/api/missions",
        json!({"title": "t", "goal": "g".repeat(2100)}),
        413,
        "2048 bytes",
    )
    .await;
    let dup = json!({"title": "dup", "hops": [{"id": "h", "name": "a"}, {"id": "h", "name": "b"}]});
    refused(a, "POST", "/api/missions", dup, 422, "hop ids").await;
    let mid = link_new_mission(a, &id).await;
    let op = json!({"op": "replace", "path": "/goal", "value": "g"});
    for path in [format!("/api/missions/{mid}"), s("/mission")] {
        let p = path.as_str();
        refused(
            a,
            "PATCH",
            p,
            json!({"ops": [op, op, op]}),
            413,
            "2 operations",
        )
        .await;
        refused(
            a,
            "PATCH",
            p,
            json!({"ops": []}),
            422,
            "at least one operation",
        )
        .await;
        refused(
            a,
            "PATCH",
            p,
            json!({"ops": [{"op": "replace", "path": "/owner", "value": "eve"}]}),
            422,
            "read-only",
        )
        .await;
        refused(
            a,
            "PATCH",
            p,
            json!({"ops": [{"op": "remove", "path": "/hops/7"}]}),
            422,
            "patch",
        )
        .await;
        refused(
            a,
            "PATCH",
            p,
            json!({"ops": [{"op": "replace", "path": "/status", "value": "exploded"}]}),
            422,
            "not valid",
        )
        .await;
        refused(
            a,
            "PATCH",
            p,
            json!({"ops": [{"op": "replace", "path": "/goal", "value": "g".repeat(2100)}]}),
            413,
            "2048 bytes",
        )
        .await;
    }
    let linked = expect(call(a, "GET", &s("/mission"), None).await, 200, "mission");
    assert_eq!(linked["revision"], 2, "no refused patch applied: {linked}");
    // POST link-mission: a second mission, or one linked elsewhere, is 422.
    let second = expect(
        call(a, "POST", "/api/missions", Some(mission_input("two"))).await,
        201,
        "a second mission",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        a,
        "POST",
        &s(&format!("/link-mission/{second}")),
        json!(null),
        422,
        "",
    )
    .await;
    let other = create_session(a, "other", &[]).await;
    refused(
        a,
        "POST",
        &format!("/api/sessions/{other}/link-mission/{mid}"),
        json!(null),
        422,
        "",
    )
    .await;

    // POST /api/sessions/{id}/assets
    let asset = |extra: Value| {
        let mut v = json!({"name": "a", "media_type": "text/plain"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let p = s("/assets");
    refused(a, "POST", &p, asset(json!({})), 422, "exactly one").await;
    refused(
        a,
        "POST",
        &p,
        asset(json!({"content": "x", "uri": "https://e.com"})),
        422,
        "exactly one",
    )
    .await;
    refused(
        a,
        "POST",
        &p,
        asset(json!({"content": "x".repeat(33)})),
        413,
        "32 bytes",
    )
    .await;
    refused(
        a,
        "POST",
        &p,
        asset(json!({"content": "x", "media_type": "text"})),
        422,
        "media_type",
    )
    .await;
    refused(
        a,
        "POST",
        &p,
        asset(json!({"content": "x", "name": "n".repeat(11)})),
        413,
        "10 characters",
    )
    .await;
    refused(
        a,
        "POST",
        &p,
        asset(json!({"content": "x", "scope": {"kind": "hop", "hop_id": "nope"}})),
        422,
        "no hop",
    )
    .await;
    let bare = create_session(a, "bare", &[]).await;
    refused(
        a,
        "POST",
        &format!("/api/sessions/{bare}/assets"),
        asset(json!({"content": "x", "scope": {"kind": "mission"}})),
        422,
        "mission",
    )
    .await;
    expect(
        call(
            a,
            "POST",
            &p,
            Some(asset(json!({"content": "x".repeat(32)}))),
        )
        .await,
        201,
        "32 bytes",
    );

    // PUT / DELETE collaborators (the session has 2: at the limit)
    refused(
        a,
        "PUT",
        &s("/collaborators/c"),
        json!({"role": "viewer"}),
        413,
        "2 per session",
    )
    .await;
    refused(
        a,
        "PUT",
        &s("/collaborators/b"),
        json!({"role": "owner"}),
        422,
        "owner",
    )
    .await;
    refused(
        a,
        "PUT",
        &s("/collaborators/alice"),
        json!({"role": "viewer"}),
        422,
        "owner",
    )
    .await;
    let message = expect_error(
        &call(a, "DELETE", &s("/collaborators/alice"), None).await,
        422,
        "invalid",
        "revoke the owner",
    );
    assert!(message.contains("owner"), "{message}");
    expect(
        call(
            a,
            "PUT",
            &s("/collaborators/b"),
            Some(json!({"role": "viewer"})),
        )
        .await,
        200,
        "change a role at the limit",
    );

    // POST /api/sessions/{id}/fork: at_offset outside 1..=latest
    let events = expect(call(a, "GET", &s("/events"), None).await, 200, "events");
    let top = events.as_array().unwrap().len() as u64;
    for at in [0, top + 1] {
        refused(
            a,
            "POST",
            &s("/fork"),
            json!({"at_offset": at}),
            422,
            &format!("between 1 and {top}"),
        )
        .await;
    }

    // POST /api/sessions/import: wrong format, a gap, orphan messages, too many collaborators.
    let good = expect(call(a, "GET", &s("/export"), None).await, 200, "export");
    let mut doc = good.clone();
    doc["format"] = json!("other/1");
    refused(a, "POST", "/api/sessions/import", doc, 422, "format").await;
    let mut gap = good.clone();
    gap["events"].as_array_mut().unwrap().remove(1);
    refused(
        a,
        "POST",
        "/api/sessions/import",
        gap,
        422,
        "expected offset 2",
    )
    .await;
    let mut orphan = good.clone();
    orphan["messages"][0]["offset"] = json!(top + 5);
    refused(
        a,
        "POST",
        "/api/sessions/import",
        orphan,
        422,
        "offset of its event",
    )
    .await;
}

/// Export → import (201 + Location) → export gives the same messages,
/// mission and assets; fork at an offset or with an empty body; stats
/// counts; the events trail paged with `from`/`limit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_fork_stats_and_events() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let bob = app.rest("bob");
    let carol = app.rest("carol");
    let id = expect(
        call(
            &alice,
            "POST",
            "/api/sessions",
            Some(json!({"name": "orig", "metadata": {"topic": "launch"},
                        "collaborators": [{"user_id": "bob", "role": "editor"}]})),
        )
        .await,
        201,
        "create",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned(); // 1
    let s = |rest: &str| format!("/api/sessions/{id}{rest}");
    expect(
        call(
            &alice,
            "POST",
            &s("/messages"),
            Some(json!({"content": "hello"})),
        )
        .await,
        201,
        "2",
    );
    expect(
        call(
            &bob,
            "POST",
            &s("/messages"),
            Some(
                json!({"content": "thinking", "role": "assistant", "metadata": {"model": "m1"},
                        "idempotency_key": "b-1"}),
            ),
        )
        .await,
        201,
        "3",
    );
    let mid = link_new_mission(&alice, &id).await; // 4
    expect(
        call(
            &bob,
            "PATCH",
            &s("/mission"),
            Some(json!({"ops": [{"op": "replace", "path": "/hops/0/steps/0/status", "value": "completed"}]})),
        )
        .await,
        200,
        "5",
    );
    expect(
        call(
            &alice,
            "POST",
            &s("/assets"),
            Some(json!({"name": "brief", "media_type": "text/plain", "content": "the brief"})),
        )
        .await,
        201,
        "6",
    );
    expect(
        call(
            &bob,
            "POST",
            &s("/messages"),
            Some(json!({"content": "tool says hi", "role": "tool"})),
        )
        .await,
        201,
        "7",
    );
    expect(
        call(
            &alice,
            "POST",
            &s("/assets"),
            Some(json!({"name": "map", "media_type": "image/png", "uri": "https://example.com/map.png",
                        "scope": {"kind": "mission"}})),
        )
        .await,
        201,
        "8",
    );
    expect(
        call(&alice, "PATCH", &s(""), Some(json!({"name": "orig v2"}))).await,
        200,
        "9",
    );

    // GET /api/sessions/{id}/stats
    let stats = expect(call(&bob, "GET", &s("/stats"), None).await, 200, "stats");
    assert_eq!(
        keys(&stats),
        vec![
            "events",
            "events_by_type",
            "messages",
            "messages_by_author",
            "messages_by_role",
            "steps_by_status"
        ]
    );
    assert_eq!(stats["messages"], 3);
    assert_eq!(stats["messages_by_author"], json!({"alice": 1, "bob": 2}));
    assert_eq!(
        stats["messages_by_role"],
        json!({"user": 1, "assistant": 1, "tool": 1})
    );
    assert_eq!(stats["events"], 9);
    assert_eq!(
        stats["events_by_type"],
        json!({"session.created": 1, "chat.message": 3, "mission.linked": 1,
               "mission.updated": 1, "asset.added": 2, "session.updated": 1})
    );
    assert_eq!(
        stats["steps_by_status"],
        json!({"completed": 1, "pending": 1})
    );

    // GET /api/sessions/{id}/events with from/limit: every event exactly once.
    let all = expect(call(&bob, "GET", &s("/events"), None).await, 200, "events");
    let all = all.as_array().unwrap().clone();
    assert_eq!(all.len(), 9);
    let mut walked: Vec<Value> = Vec::new();
    let mut from = 1;
    loop {
        let page = expect(
            call(
                &bob,
                "GET",
                &s(&format!("/events?from={from}&limit=4")),
                None,
            )
            .await,
            200,
            "a page of events",
        );
        let page = page.as_array().unwrap().clone();
        assert!(page.len() <= 4);
        if page.is_empty() {
            break;
        }
        from = page.last().unwrap()["offset"].as_u64().unwrap() + 1;
        walked.extend(page);
    }
    assert_eq!(walked, all);
    let tail = expect(
        call(&bob, "GET", &s("/events?from=8"), None).await,
        200,
        "tail",
    );
    assert_eq!(tail.as_array().unwrap().as_slice(), &all[7..]);
    let one = expect(
        call(&bob, "GET", &s("/events?from=3&limit=1"), None).await,
        200,
        "one",
    );
    assert_eq!(one, json!([all[2]]));
    let past = expect(
        call(&bob, "GET", &s("/events?from=99"), None).await,
        200,
        "past the end",
    );
    assert_eq!(past, json!([]));
    let from0 = expect(
        call(&bob, "GET", &s("/events?from=0&limit=2"), None).await,
        200,
        "from 0",
    );
    assert_eq!(from0, json!([all[0], all[1]]));

    // GET export, POST import as carol (201 + Location), GET export of the copy.
    let original = expect(
        call(&alice, "GET", &s("/export"), None).await,
        200,
        "export",
    );
    assert_eq!(
        keys(&original),
        vec![
            "assets",
            "events",
            "exported_at",
            "format",
            "messages",
            "mission",
            "session"
        ]
    );
    assert_eq!(original["format"], "tandem.session/1");
    assert_eq!(original["events"], json!(all));
    assert_eq!(original["messages"].as_array().unwrap().len(), 3);
    let response = call(
        &carol,
        "POST",
        "/api/sessions/import",
        Some(original.clone()),
    )
    .await;
    let location = response.header("location").map(str::to_owned);
    let imported = expect(response, 201, "import");
    assert_eq!(keys(&imported), SESSION_KEYS);
    let copy_id = imported["id"].as_str().unwrap().to_owned();
    assert_ne!(copy_id, id);
    assert_eq!(location, Some(format!("/api/sessions/{copy_id}")));
    assert_eq!(imported["owner"], "carol");
    assert_eq!(
        users(&imported["collaborators"]),
        vec!["carol"],
        "a document grants no access"
    );
    assert_eq!(imported["name"], "orig v2");
    assert_eq!(imported["message_count"], 3);
    let snap = expect(
        call(&carol, "GET", location.as_deref().unwrap(), None).await,
        200,
        "the Location",
    );
    assert_eq!(snap["session"], imported);
    expect_error(
        &call(&bob, "GET", &format!("/api/sessions/{copy_id}"), None).await,
        404,
        "not_found",
        "the original's collaborators have no access to the copy",
    );
    let copy = expect(
        call(
            &carol,
            "GET",
            &format!("/api/sessions/{copy_id}/export"),
            None,
        )
        .await,
        200,
        "export the copy",
    );
    let portable = |messages: &Value| -> Vec<Value> {
        messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m.as_object_mut().unwrap().remove("session_id");
                m
            })
            .collect()
    };
    // Imported messages are the importer's, marked with their original author.
    let imported = |messages: &Value| -> Vec<Value> {
        portable(messages)
            .into_iter()
            .map(|mut m| {
                m["imported"] = json!({"author": m["author"], "session_id": id});
                m["author"] = json!("carol");
                m
            })
            .collect()
    };
    assert_eq!(portable(&copy["messages"]), imported(&original["messages"]));
    assert!(copy["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["session_id"] == copy_id.as_str()));
    let without_ids = |mission: &Value| {
        let mut m = mission.clone();
        for key in ["id", "session_id", "owner", "created_at", "updated_at"] {
            m.as_object_mut().unwrap().remove(key);
        }
        m
    };
    assert_eq!(
        without_ids(&copy["mission"]),
        without_ids(&original["mission"])
    );
    assert_ne!(
        copy["mission"]["id"],
        mid.as_str(),
        "the mission gets a new id"
    );
    assert_eq!(copy["mission"]["session_id"], copy_id.as_str());
    let mut assets = original["assets"].clone();
    for asset in assets.as_array_mut().unwrap() {
        asset["imported"] = json!({"author": asset["created_by"], "session_id": id});
        asset["created_by"] = json!("carol");
    }
    assert_eq!(copy["assets"], assets);
    let n = all.len();
    let copy_events = copy["events"].as_array().unwrap();
    for (copied, event) in copy_events[..n].iter().zip(&all[..]) {
        assert_eq!(copied["actor"], "carol", "{copied}");
        assert_eq!(copied["imported"], json!({"actor": event["actor"]}));
        assert_eq!(
            (&copied["offset"], &copied["type"], &copied["at"]),
            (&event["offset"], &event["type"], &event["at"])
        );
    }
    assert_eq!(copy_events.len(), n + 1);
    assert_eq!(copy_events[n]["type"], "session.imported");
    assert_eq!(copy_events[n]["actor"], "carol");
    // The copy's stream continues after session.imported.
    let mut ws = app.connect("carol").await;
    let (channel, mut offset) = watch(&mut ws, &copy_id).await;
    assert_eq!(offset, n as u64 + 1);
    expect(
        call(
            &carol,
            "POST",
            &format!("/api/sessions/{copy_id}/messages"),
            Some(json!({"content": "mine"})),
        )
        .await,
        201,
        "write to the copy",
    );
    ws.next_event(&channel, "chat.message", &mut offset).await;

    // POST fork {"at_offset": 4} (bob, an editor): history up to 4, then session.forked.
    let response = call(&bob, "POST", &s("/fork"), Some(json!({"at_offset": 4}))).await;
    let location = response.header("location").map(str::to_owned);
    let fork = expect(response, 201, "fork at 4");
    let fork_id = fork["id"].as_str().unwrap().to_owned();
    assert_eq!(location, Some(format!("/api/sessions/{fork_id}")));
    assert_eq!(keys(&fork), SESSION_KEYS);
    assert_eq!(fork["owner"], "bob");
    assert_eq!(fork["name"], "orig (fork)", "the name it had at offset 4");
    assert_eq!(fork["status"], "active");
    assert_eq!(fork["message_count"], 2);
    assert_eq!(users(&fork["collaborators"]), vec!["bob"]);
    let forked = expect(
        call(
            &bob,
            "GET",
            &format!("/api/sessions/{fork_id}/export"),
            None,
        )
        .await,
        200,
        "export the fork",
    );
    let fork_events = forked["events"].as_array().unwrap();
    assert_eq!(fork_events[..4], all[..4]);
    assert_eq!(fork_events.len(), 5);
    assert_eq!(fork_events[4]["type"], "session.forked");
    assert_eq!(
        fork_events[4]["data"]["from"],
        json!({"session_id": id, "offset": 4})
    );
    assert_eq!(
        portable(&forked["messages"]),
        portable(&original["messages"])[..2].to_vec()
    );
    assert_eq!(
        forked["mission"]["hops"][0]["steps"][0]["status"], "pending",
        "as it was at 4"
    );
    assert_eq!(forked["assets"], json!([]), "the assets came later");
    expect_error(
        &call(&alice, "GET", &format!("/api/sessions/{fork_id}"), None).await,
        404,
        "not_found",
        "alice cannot see bob's fork",
    );

    // POST fork with an empty body, and with {}: the whole history.
    let empty = expect(
        alice.fetch(alice.request(Method::POST, &s("/fork"))).await,
        201,
        "fork with an empty body",
    );
    let braces = expect(
        call(&alice, "POST", &s("/fork"), Some(json!({}))).await,
        201,
        "fork {}",
    );
    for whole in [&empty, &braces] {
        let wid = whole["id"].as_str().unwrap();
        assert_eq!(whole["message_count"], 3);
        assert_eq!(whole["name"], "orig v2 (fork)");
        let doc = expect(
            call(&alice, "GET", &format!("/api/sessions/{wid}/export"), None).await,
            200,
            "export a whole fork",
        );
        let events = doc["events"].as_array().unwrap();
        assert_eq!(events.len(), n + 1);
        assert_eq!(events[..n], all[..]);
        assert_eq!(
            events[n]["data"]["from"],
            json!({"session_id": id, "offset": n})
        );
        assert_eq!(doc["assets"], original["assets"]);
        assert_eq!(portable(&doc["messages"]), portable(&original["messages"]));
    }
    // The original is unchanged by all of this.
    let after = expect(
        call(&alice, "GET", &s("/events"), None).await,
        200,
        "events",
    );
    assert_eq!(after, json!(all));
}

/// `GET /api/openapi.json` needs no token and describes every endpoint
/// exercised here.
#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
    let app = spawn_app(&[]).await;
    let rest = app.rest("alice");
    let response = rest
        .fetch(rest.anonymous(Method::GET, "/api/openapi.json"))
        .await;
    assert!(
        response
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{response:?}"
    );
    let doc = expect(response, 200, "openapi without a token");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    // The server API (API keys; tested in server_api.rs) is in the same document.
    const SERVER_ENDPOINTS: [(&str, &str); 8] = [
        ("POST", "/api/server/sessions/{id}/messages"),
        ("PATCH", "/api/server/sessions/{id}/mission/steps/{step_id}"),
        ("POST", "/api/server/sessions/{id}/events"),
        ("POST", "/api/server/users/{user_id}/disconnect"),
        ("GET", "/api/server/sessions/{id}/presence"),
        ("GET", "/api/server/channels/stats"),
        ("GET", "/api/server/node"),
        ("POST", "/api/server/batch"),
    ];
    for (verb, template) in ENDPOINTS
        .iter()
        .copied()
        .chain(SERVER_ENDPOINTS)
        .chain([("GET", "/api/openapi.json"), ("GET", "/api/info")])
    {
        let operation = &paths.get(template).unwrap_or(&Value::Null)[verb.to_lowercase()];
        if !operation.is_object() {
            missing.push(format!("{verb} {template}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not in the OpenAPI document: {missing:?}"
    );
    let documented: usize = paths
        .values()
        .map(|p| {
            p.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .count()
        })
        .sum();
    assert_eq!(
        documented,
        ENDPOINTS.len() + SERVER_ENDPOINTS.len() + 2,
        "no undocumented extra endpoints here"
    );
    assert!(
        !paths.contains_key("/api/dev/token"),
        "the dev login is not documented"
    );
    // With a token it is the same document.
    let again = expect(
        call(&rest, "GET", "/api/openapi.json", None).await,
        200,
        "with a token",
    );
    assert_eq!(again, doc);
}

/// A `chat.message` event carries the message as the REST reply, history and
/// export return it, except `offset`: the message's offset is the event's own
/// offset, so the payload leaves it out instead of carrying a placeholder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_message_event_carries_the_message_offset() {
    let app = spawn_app(&[]).await;
    let alice = app.rest("alice");
    let id = create_session(&alice, "offsets", &[]).await;
    let mut ws = app.connect("alice").await;
    let (channel, mut offset) = watch(&mut ws, &id).await;
    let sent = expect(
        call(
            &alice,
            "POST",
            &format!("/api/sessions/{id}/messages"),
            Some(json!({"content": "hello"})),
        )
        .await,
        201,
        "send",
    );
    assert_eq!(sent["offset"], 2);
    let live = ws.next_event(&channel, "chat.message", &mut offset).await;
    let events = expect(
        call(
            &alice,
            "GET",
            &format!("/api/sessions/{id}/events?from=2"),
            None,
        )
        .await,
        200,
        "events",
    );
    let problems: Vec<String> = [("live", &live), ("stored", &events[0])]
        .into_iter()
        .filter(|(_, e)| {
            let mut message = e["data"]["message"].clone();
            let placeholder = message.get("offset").is_some();
            message["offset"] = e["offset"].clone();
            placeholder || message != sent
        })
        .map(|(what, e)| {
            format!(
                "{what} event {} carries message offset {} (reply: {})",
                e["offset"], e["data"]["message"]["offset"], sent["offset"]
            )
        })
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}
