//! REST and RPC are two doors to one service: every RPC method is in the
//! table of twins (`tandem::rpc::twins`), every REST operation is the twin of
//! one, and each pair gives the same answer (success, or the same error code
//! as the HTTP status) to the same request, made by the same user, for
//! targets that do not exist and for a session the caller may only view.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Map, Value};
use tandem::rpc::twins::{REST_ONLY, TWINS};
use uuid::Uuid;

use crate::helpers::{spawn_app, Rest, TestApp, WsClient};

/// `operationId` → (method, path template) from the served OpenAPI document.
async fn rest_operations(app: &TestApp) -> Vec<(String, Method, String)> {
    let rest = app.rest("alice");
    let (status, doc) = rest.send(Method::GET, "/api/openapi.json", None).await;
    assert_eq!(status, 200);
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            out.push((id.to_owned(), method, path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_operation_has_its_twin_and_every_method_is_listed() {
    let app = spawn_app(&[]).await;
    let ops = rest_operations(&app).await;
    let rest_ids: BTreeSet<&str> = ops.iter().map(|(id, _, _)| id.as_str()).collect();
    let twinned: BTreeSet<&str> = TWINS.iter().filter_map(|t| t.rest.ok()).collect();
    let rest_only: BTreeSet<&str> = REST_ONLY.iter().map(|(id, _)| *id).collect();
    for id in &rest_ids {
        assert!(
            twinned.contains(id) || rest_only.contains(id),
            "REST operation {id} has no RPC twin and is not listed as REST-only"
        );
    }
    for id in &twinned {
        assert!(rest_ids.contains(id), "twin {id} is not a REST operation");
    }
    let registered: BTreeSet<&str> = app.node.rpc().names().collect();
    let listed: BTreeSet<&str> = TWINS.iter().map(|t| t.rpc).collect();
    assert_eq!(
        registered, listed,
        "the RPC methods and the table of twins differ"
    );
}

/// The REST path for `template`, with `{id}` as the session or mission and
/// the RPC params naming the same targets.
fn targets(
    template: &str,
    session: Uuid,
    mission: Uuid,
    asset: Uuid,
) -> (String, Map<String, Value>) {
    let mut params = Map::new();
    let mut path = template.to_owned();
    if path.contains("{id}") {
        if template.starts_with("/api/missions/") {
            params.insert("mission_id".into(), json!(mission));
            path = path.replace("{id}", &mission.to_string());
        } else {
            params.insert("session_id".into(), json!(session));
            path = path.replace("{id}", &session.to_string());
        }
    }
    if path.contains("{mission_id}") {
        params.insert("mission_id".into(), json!(mission));
        path = path.replace("{mission_id}", &mission.to_string());
    }
    if path.contains("{asset_id}") {
        params.insert("asset_id".into(), json!(asset));
        path = path.replace("{asset_id}", &asset.to_string());
    }
    if path.contains("{user_id}") {
        params.insert("user_id".into(), json!("carol"));
        path = path.replace("{user_id}", "carol");
    }
    (path, params)
}

/// Calls every twin both ways with the same targets and an empty body;
/// returns the pairs that disagree and how many REST calls gave each status.
async fn disagreements(
    ops: &[(String, Method, String)],
    rest: &Rest,
    ws: &mut WsClient,
    session: Uuid,
    mission: Uuid,
    asset: Uuid,
) -> (Vec<String>, std::collections::BTreeMap<u16, usize>) {
    let mut differ = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for twin in TWINS {
        let Ok(rest_id) = twin.rest else { continue };
        let (_, method, template) = ops
            .iter()
            .find(|(id, _, _)| id == rest_id)
            .expect("twin is a REST operation");
        let (path, params) = targets(template, session, mission, asset);
        let body = (*method != Method::GET && *method != Method::DELETE).then(|| json!({}));
        let (status, rest_body) = rest.send(method.clone(), &path, body).await;
        *statuses.entry(status).or_insert(0) += 1;
        let reply = ws.rpc(twin.rpc, Value::Object(params)).await;
        let rpc_code = reply["error"]["code"].as_u64();
        let same = match rpc_code {
            None => (200..300).contains(&status),
            Some(code) => u64::from(status) == code,
        };
        if !same {
            differ.push(format!(
                "{} ({method} {template}): REST {status} {rest_body} / RPC {reply}",
                twin.rpc
            ));
        }
    }
    (differ, statuses)
}

#[tokio::test]
async fn twins_answer_alike_for_missing_targets() {
    let app = spawn_app(&[]).await;
    let ops = rest_operations(&app).await;
    let rest = app.rest("bob");
    let mut ws = app.connect("bob").await;
    let (differ, statuses) = disagreements(
        &ops,
        &rest,
        &mut ws,
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    )
    .await;
    assert!(
        differ.is_empty(),
        "REST and RPC disagree:\n{}",
        differ.join("\n")
    );
    // The comparison saw real refusals, not only successes.
    assert!(
        statuses.get(&404).copied().unwrap_or(0) >= 15,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn twins_answer_alike_for_a_viewer() {
    let app = spawn_app(&[]).await;
    let ops = rest_operations(&app).await;
    let mut alice = app.connect("alice").await;
    let session: Uuid = alice
        .create_session("parity", &[("bob", "viewer")])
        .await
        .parse()
        .unwrap();
    let mission = alice
        .rpc_ok(
            "mission.create",
            json!({ "title": "m", "goal": "g", "hops": [] }),
        )
        .await;
    let mission: Uuid = serde_json::from_value(mission["id"].clone()).unwrap();
    alice
        .rpc_ok(
            "mission.link",
            json!({ "session_id": session, "mission_id": mission }),
        )
        .await;
    let asset = alice
        .rpc_ok(
            "assets.add",
            json!({ "session_id": session, "name": "a", "media_type": "text/plain", "content": "x" }),
        )
        .await;
    let asset: Uuid = serde_json::from_value(asset["id"].clone()).unwrap();
    let rest = app.rest("bob");
    let mut bob = app.connect("bob").await;
    let (differ, statuses) = disagreements(&ops, &rest, &mut bob, session, mission, asset).await;
    assert!(
        differ.is_empty(),
        "REST and RPC disagree:\n{}",
        differ.join("\n")
    );
    assert!(
        statuses.get(&403).copied().unwrap_or(0) >= 5,
        "{statuses:?}"
    );
    assert!(
        statuses.keys().any(|s| (200..300).contains(s)),
        "{statuses:?}"
    );
}
