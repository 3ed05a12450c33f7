//! Property test of the mission patch path (SPEC §6a): random sequences of
//! JSON Patch operations — doubling copies of the whole document included —
//! either give a valid mission within every limit or are refused, and no
//! operation ever lets the document grow past the size limit before the
//! refusal (the memory bound), whatever the sequence.

use chrono::Utc;
use json_patch::PatchOperation;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use tandem::sessions::limits::DomainLimits;
use tandem::sessions::mission::{apply_patch, MissionPatch};
use tandem::sessions::model::{Mission, MissionStatus};
use tandem::sessions::patch::{PatchBudget, Patched};
use tandem::sessions::validate::{json_depth, json_size};
use tandem::sessions::DomainError;

fn limits() -> DomainLimits {
    DomainLimits {
        max_mission_bytes: 16 * 1024,
        max_patch_ops: 40,
        max_json_depth: 12,
        max_patch_work_bytes: 256 * 1024,
        ..Default::default()
    }
}

fn mission() -> Mission {
    let now = Utc::now();
    serde_json::from_value(json!({
        "id": uuid::Uuid::now_v7(),
        "title": "Plan",
        "goal": "g".repeat(300),
        "status": "proposed",
        "hops": [
            {"id": "h1", "name": "one", "steps": [
                {"id": "s1", "name": "a", "tool": "web", "inputs": {"q": "x".repeat(500), "n": [1, 2, 3]}},
                {"id": "s2", "name": "b", "status": "running"}
            ]},
            {"id": "h2", "name": "two"}
        ],
        "revision": 1,
        "owner": "alice",
        "session_id": null,
        "created_at": now,
        "updated_at": now
    }))
    .unwrap()
}

const PATHS: &[&str] = &[
    "",
    "/title",
    "/goal",
    "/status",
    "/hops",
    "/hops/-",
    "/hops/0",
    "/hops/1",
    "/hops/2",
    "/hops/0/name",
    "/hops/0/status",
    "/hops/0/steps",
    "/hops/0/steps/-",
    "/hops/0/steps/0",
    "/hops/0/steps/1/status",
    "/hops/0/steps/0/inputs",
    "/hops/0/steps/0/inputs/q",
    "/hops/0/steps/0/inputs/n/-",
    "/hops/0/steps/0/outputs",
    "/hops/1/steps",
    "/hops/1/steps/-",
    "/nope/deeper",
    "/hops/0/steps/0/inputs/a",
];

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(PATHS).prop_map(str::to_owned),
        1 => "(/[a-z0-9~-]{0,3}){0,5}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z ]{0,40}".prop_map(Value::String),
        proptest::sample::select(&["pending", "running", "completed", "failed", "skipped"][..])
            .prop_map(|s| json!(s)),
        Just(json!({"id": "h9", "name": "new hop"})),
        Just(json!({"id": "s9", "name": "new step", "status": "completed"})),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn op() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => (path(), value()).prop_map(|(p, v)| json!({"op": "add", "path": p, "value": v})),
        2 => (path(), value()).prop_map(|(p, v)| json!({"op": "replace", "path": p, "value": v})),
        1 => path().prop_map(|p| json!({"op": "remove", "path": p})),
        3 => (path(), path()).prop_map(|(f, p)| json!({"op": "copy", "from": f, "path": p})),
        1 => (path(), path()).prop_map(|(f, p)| json!({"op": "move", "from": f, "path": p})),
        1 => (path(), value()).prop_map(|(p, v)| json!({"op": "test", "path": p, "value": v})),
        // The amplification attack: the document copied into itself.
        2 => path().prop_map(|p| json!({"op": "copy", "from": "", "path": format!("/goal{p}")})),
    ]
}

fn ops() -> impl Strategy<Value = Vec<PatchOperation>> {
    prop::collection::vec(op(), 1..60).prop_map(|ops| {
        ops.into_iter()
            .filter_map(|op| serde_json::from_value(op).ok())
            .collect()
    })
}

fn check(mission: &Mission, ops: Vec<PatchOperation>) -> Result<(), TestCaseError> {
    let limits = limits();
    // Step by step: the document never exceeds the limit before a refusal.
    let mut doc = Patched::new(serde_json::to_value(mission).unwrap());
    let mut budget = PatchBudget::new(&limits);
    for op in &ops {
        match doc.apply(
            std::slice::from_ref(op),
            limits.max_mission_bytes,
            &limits,
            &mut budget,
        ) {
            Ok(()) => {
                let size = json_size(&doc.doc);
                prop_assert!(
                    size <= limits.max_mission_bytes,
                    "{size} bytes after {op:?}"
                );
                prop_assert!(doc.size() >= size, "tracked {} < exact {size}", doc.size());
                prop_assert!(json_depth(&doc.doc) <= limits.max_json_depth);
            }
            Err(DomainError::Invalid(_) | DomainError::TooLarge { .. }) => break,
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
    // The whole patch through the service's path: valid or refused.
    let patch = MissionPatch {
        ops: json_patch::Patch(ops),
        base_revision: None,
    };
    match apply_patch(mission, &patch, &limits, Utc::now()) {
        Ok(updated) => {
            prop_assert!(json_size(&updated) <= limits.max_mission_bytes);
            prop_assert_eq!(updated.revision, mission.revision + 1);
            prop_assert!(tandem::sessions::validate::mission(&updated, &limits).is_ok());
            prop_assert!(matches!(
                updated.status,
                MissionStatus::Proposed
                    | MissionStatus::Ready
                    | MissionStatus::InProgress
                    | MissionStatus::Completed
                    | MissionStatus::Failed
            ));
        }
        Err(DomainError::Invalid(_) | DomainError::TooLarge { .. }) => {}
        Err(other) => prop_assert!(false, "unexpected error {other}"),
    }
    Ok(())
}

#[test]
fn random_patches_are_valid_or_refused_and_never_outgrow_the_limit() {
    let base = mission();
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&ops(), |ops| check(&base, ops))
        .unwrap_or_else(|e| panic!("{e}"));
}
