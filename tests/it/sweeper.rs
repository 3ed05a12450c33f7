//! The sweeper (docs/sweeper.md) on both engines: idle sessions are abandoned
//! then archived (events on the session channel and the owner's feed), present
//! or recently active sessions are left alone, concurrent sweeps make each
//! transition exactly once, activity revives abandoned (not archived)
//! sessions, archived sessions are deleted when configured, and the settings
//! are validated.
//!
//! Time is moved by passing a future "now" to `sweep_once` (the background
//! loop runs every hour here, so it never interferes), or by short durations.

use std::time::Duration;

use chrono::Utc;
use clap::Parser;
use serde_json::{json, Value};
use tandem::sessions::model::SessionStatus;
use tandem::sessions::service::CreateSession;
use tandem::sessions::status::Transition;
use uuid::Uuid;

use super::helpers::{session_channel, spawn_app, TestApp};
use super::redis_harness::{redis_flags, redis_url, unique_prefix};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Memory,
    Redis,
}

const HOUR: &str = "1h";

/// An app on `kind` (Redis: on `prefix`) with lifecycle settings `extra`.
async fn app_on(kind: Kind, prefix: &str, extra: &[&str]) -> TestApp {
    let url = redis_url();
    let mut args: Vec<&str> = vec!["--sweep-interval", HOUR];
    if let Kind::Redis = kind {
        args.extend(redis_flags(&url, prefix));
    }
    args.extend_from_slice(extra);
    spawn_app(&args).await
}

async fn app(kind: Kind, extra: &[&str]) -> TestApp {
    app_on(kind, &unique_prefix(), extra).await
}

fn later(by: Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(by).unwrap()
}

async fn status_of(app: &TestApp, id: &str) -> SessionStatus {
    let id = Uuid::parse_str(id).unwrap();
    app.engine
        .load(id)
        .await
        .unwrap()
        .expect("session exists")
        .session
        .status
}

async fn status_events(app: &TestApp, id: Uuid) -> Vec<tandem::sessions::model::Event> {
    app.engine
        .events(id, 1, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "session.status_changed")
        .collect()
}

// ------------------------------------------------------------ abandon, archive

async fn idle_session_is_abandoned_then_archived(kind: Kind) {
    let app = app(kind, &["--abandon-after", "1h", "--archive-after", "1d"]).await;
    let mut alice = app.connect("alice").await;
    alice.subscribe_ok("user:alice", json!({})).await;
    let id = alice.create_session("idle", &[("bob", "viewer")]).await;
    alice.expect_notice("alice", "session.added").await;
    let snapshot = alice.snapshot(&id).await;

    // Not due yet.
    let report = app.sweeper.sweep_once(Utc::now()).await;
    assert_eq!(report.transitions(), 0, "{report:?}");
    let report = app
        .sweeper
        .sweep_once(later(Duration::from_secs(3590)))
        .await;
    assert_eq!(report.transitions(), 0, "{report:?}");

    // An hour later: abandoned, once.
    let t1 = later(Duration::from_secs(3601));
    let report = app.sweeper.sweep_once(t1).await;
    assert_eq!(report.abandoned, 1, "{report:?}");
    assert_eq!(
        report.examined, 1,
        "only the due session is read: {report:?}"
    );
    let notice = alice.expect_notice("alice", "session.status_changed").await;
    assert_eq!(notice["from"], "active", "{notice}");
    assert_eq!(notice["to"], "abandoned", "{notice}");
    assert_eq!(notice["session_id"], id.as_str());
    assert_eq!(status_of(&app, &id).await, SessionStatus::Abandoned);
    let again = app.sweeper.sweep_once(t1).await;
    assert_eq!(again.transitions(), 0, "{again:?}");

    // Archived a day after it was abandoned, not before.
    let t1_day = t1 + chrono::Duration::days(1);
    let report = app
        .sweeper
        .sweep_once(t1_day - chrono::Duration::seconds(10))
        .await;
    assert_eq!(report.archived, 0, "{report:?}");
    let report = app
        .sweeper
        .sweep_once(t1_day + chrono::Duration::seconds(1))
        .await;
    assert_eq!(report.archived, 1, "{report:?}");
    let notice = alice.expect_notice("alice", "session.status_changed").await;
    assert_eq!(
        (notice["from"].as_str(), notice["to"].as_str()),
        (Some("abandoned"), Some("archived"))
    );
    assert_eq!(status_of(&app, &id).await, SessionStatus::Archived);

    // Both transitions were published on the session channel: a client
    // resuming from the snapshot's position receives them, from `system`.
    let channel = session_channel(&id);
    let sub = alice
        .subscribe_ok(
            &channel,
            json!({"recover": true, "offset": snapshot.position.offset, "epoch": snapshot.position.epoch}),
        )
        .await;
    assert_eq!(sub["recovered"], true, "{sub}");
    let pubs: Vec<Value> = sub["publications"].as_array().unwrap().clone();
    let kinds: Vec<(&str, &str, &str)> = pubs
        .iter()
        .map(|p| {
            (
                p["data"]["type"].as_str().unwrap_or(""),
                p["data"]["actor"].as_str().unwrap_or(""),
                p["data"]["data"]["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("session.status_changed", "system", "abandoned"),
            ("session.status_changed", "system", "archived"),
        ],
        "{sub}"
    );
    // And they are in the audit trail.
    let events = alice.events(&id).await;
    assert_eq!(events.len(), 3);
    let totals = app.sweeper.totals();
    assert_eq!((totals.abandoned, totals.archived), (1, 1), "{totals:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_idle_session_is_abandoned_then_archived() {
    idle_session_is_abandoned_then_archived(Kind::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_idle_session_is_abandoned_then_archived() {
    idle_session_is_abandoned_then_archived(Kind::Redis).await;
}

// ------------------------------------------------------------ not idle

async fn present_or_recently_active_sessions_stay_active(kind: Kind) {
    let app = app(kind, &["--abandon-after", "400ms", "--archive-after", "1d"]).await;
    let mut alice = app.connect("alice").await;
    let watched = alice.create_session("watched", &[]).await;
    let pinged = alice.create_session("pinged", &[]).await;
    let quiet = alice.create_session("quiet", &[]).await;
    // Someone has `watched` open.
    alice
        .subscribe_ok(&session_channel(&watched), json!({}))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // `pinged` gets an activity ping just before the sweep.
    alice
        .rpc_ok("session.activity", json!({"session_id": pinged}))
        .await;
    let report = app.sweeper.sweep_once(Utc::now()).await;
    assert_eq!(report.abandoned, 1, "only `quiet`: {report:?}");
    assert_eq!(report.refreshed, 1, "`watched` is refreshed: {report:?}");
    assert_eq!(status_of(&app, &quiet).await, SessionStatus::Abandoned);
    assert_eq!(status_of(&app, &watched).await, SessionStatus::Active);
    assert_eq!(status_of(&app, &pinged).await, SessionStatus::Active);
    // The refresh counts as activity: the next sweep right after leaves it alone.
    let report = app.sweeper.sweep_once(Utc::now()).await;
    assert_eq!(report.transitions() + report.refreshed, 0, "{report:?}");
    // Once the ping is old, `pinged` goes too; `watched` never does while open.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = app.sweeper.sweep_once(Utc::now()).await;
    assert_eq!(report.abandoned, 1, "{report:?}");
    assert_eq!(status_of(&app, &pinged).await, SessionStatus::Abandoned);
    assert_eq!(status_of(&app, &watched).await, SessionStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_present_or_recently_active_sessions_stay_active() {
    present_or_recently_active_sessions_stay_active(Kind::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_present_or_recently_active_sessions_stay_active() {
    present_or_recently_active_sessions_stay_active(Kind::Redis).await;
}

/// A ping that lands between the sweeper's read and its commit wins: the
/// guarded transition is refused and nothing is published.
async fn activity_during_the_sweep_wins(kind: Kind) {
    let app = app(kind, &["--abandon-after", "1h"]).await;
    let mut alice = app.connect("alice").await;
    let id = alice.create_session("racing", &[]).await;
    let uuid = Uuid::parse_str(&id).unwrap();
    let read = app.engine.load(uuid).await.unwrap().unwrap();
    // The ping (no version bump).
    alice
        .rpc_ok("session.activity", json!({"session_id": id}))
        .await;
    let made = app
        .node
        .sessions()
        .sweep_transition(&read, Transition::Abandon, later(Duration::from_secs(3601)))
        .await
        .unwrap();
    assert!(
        !made,
        "a stale read must not abandon a session active since"
    );
    assert_eq!(status_of(&app, &id).await, SessionStatus::Active);
    assert!(status_events(&app, uuid).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_activity_during_the_sweep_wins() {
    activity_during_the_sweep_wins(Kind::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_activity_during_the_sweep_wins() {
    activity_during_the_sweep_wins(Kind::Redis).await;
}

// ------------------------------------------------------------ exactly once

const MANY: usize = 1000;

async fn create_many(app: &TestApp, n: usize) -> Vec<Uuid> {
    let service = app.node.sessions().clone();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..10 {
        let service = service.clone();
        tasks.spawn(async move {
            let mut ids = Vec::new();
            for i in 0..n / 10 {
                let input = CreateSession {
                    name: format!("s{chunk}-{i}"),
                    ..Default::default()
                };
                ids.push(service.create("alice", input).await.unwrap().id);
            }
            ids
        });
    }
    let mut ids = Vec::new();
    while let Some(chunk) = tasks.join_next().await {
        ids.extend(chunk.unwrap());
    }
    ids
}

async fn assert_one_transition_each(app: &TestApp, ids: &[Uuid], to: &str) {
    for id in ids {
        let events = status_events(app, *id).await;
        let count = events.iter().filter(|e| e.data["to"] == to).count();
        assert_eq!(count, 1, "session {id}: {events:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_concurrent_sweeps_transition_each_session_once() {
    let app = app(
        Kind::Memory,
        &["--abandon-after", "1h", "--archive-after", "1d"],
    )
    .await;
    let ids = create_many(&app, MANY).await;
    let t = later(Duration::from_secs(3601));
    let (a, b) = (app.sweeper.clone(), app.sweeper.clone());
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a.sweep_once(t).await }),
        tokio::spawn(async move { b.sweep_once(t).await })
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.abandoned + rb.abandoned, MANY as u64, "{ra:?} {rb:?}");
    assert_eq!(ra.errors + rb.errors, 0, "{ra:?} {rb:?}");
    assert_one_transition_each(&app, &ids, "abandoned").await;

    let t = t + chrono::Duration::days(1) + chrono::Duration::seconds(1);
    let (a, b) = (app.sweeper.clone(), app.sweeper.clone());
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a.sweep_once(t).await }),
        tokio::spawn(async move { b.sweep_once(t).await })
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.archived + rb.archived, MANY as u64, "{ra:?} {rb:?}");
    assert_one_transition_each(&app, &ids, "archived").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_two_nodes_sweeping_transition_each_session_once() {
    let prefix = unique_prefix();
    let extra = ["--abandon-after", "1h", "--archive-after", "1d"];
    let one = app_on(Kind::Redis, &prefix, &extra).await;
    let two = app_on(Kind::Redis, &prefix, &extra).await;
    let ids = create_many(&one, MANY).await;
    let t = later(Duration::from_secs(3601));
    let (a, b) = (one.sweeper.clone(), two.sweeper.clone());
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a.sweep_once(t).await }),
        tokio::spawn(async move { b.sweep_once(t).await })
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.abandoned + rb.abandoned, MANY as u64, "{ra:?} {rb:?}");
    assert_eq!(ra.errors + rb.errors, 0, "{ra:?} {rb:?}");
    assert_one_transition_each(&two, &ids, "abandoned").await;

    let t = t + chrono::Duration::days(1) + chrono::Duration::seconds(1);
    let (a, b) = (one.sweeper.clone(), two.sweeper.clone());
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a.sweep_once(t).await }),
        tokio::spawn(async move { b.sweep_once(t).await })
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.archived + rb.archived, MANY as u64, "{ra:?} {rb:?}");
    assert_one_transition_each(&one, &ids, "archived").await;
}

// ------------------------------------------------------------ revive, restore, delete

async fn activity_revives_abandoned_but_not_archived(kind: Kind) {
    let app = app(kind, &["--abandon-after", "1h", "--archive-after", "1d"]).await;
    let mut alice = app.connect("alice").await;
    let revived = alice.create_session("revived", &[]).await;
    let archived = alice.create_session("archived", &[]).await;
    let t = later(Duration::from_secs(3601));
    assert_eq!(app.sweeper.sweep_once(t).await.abandoned, 2);
    let t = t + chrono::Duration::days(1) + chrono::Duration::seconds(1);
    // Revive one before the archive sweep.
    let session = alice
        .rpc_ok("session.activity", json!({"session_id": revived}))
        .await;
    assert_eq!(session["status"], "active", "{session}");
    assert_eq!(status_of(&app, &revived).await, SessionStatus::Active);
    let report = app.sweeper.sweep_once(t).await;
    assert_eq!(report.archived, 1, "{report:?}");
    // The revived one is not archived (by that clock it is idle again, so it
    // is abandoned anew instead: quiet since its revival).
    assert_eq!(report.abandoned, 1, "{report:?}");
    assert_eq!(status_of(&app, &revived).await, SessionStatus::Abandoned);
    assert_eq!(status_of(&app, &archived).await, SessionStatus::Archived);
    // Activity does not bring an archived session back; restore does.
    let err = alice
        .rpc_err("session.activity", json!({"session_id": archived}))
        .await;
    assert_eq!(err.code, 409, "{err:?}");
    assert_eq!(status_of(&app, &archived).await, SessionStatus::Archived);
    alice
        .rpc_ok("session.restore", json!({"session_id": archived}))
        .await;
    assert_eq!(status_of(&app, &archived).await, SessionStatus::Active);
    // A restored session is quiet since its restore, not since long ago.
    let report = app.sweeper.sweep_once(Utc::now()).await;
    assert_eq!(report.transitions(), 0, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_activity_revives_abandoned_but_not_archived() {
    activity_revives_abandoned_but_not_archived(Kind::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_activity_revives_abandoned_but_not_archived() {
    activity_revives_abandoned_but_not_archived(Kind::Redis).await;
}

async fn archived_sessions_are_deleted_when_configured(kind: Kind) {
    let app = app(kind, &["--delete-archived-after", "1h"]).await;
    let mut alice = app.connect("alice").await;
    alice.subscribe_ok("user:alice", json!({})).await;
    let id = alice.create_session("old", &[]).await;
    let kept = alice.create_session("kept", &[]).await;
    alice
        .rpc_ok("session.archive", json!({"session_id": id}))
        .await;
    let report = app
        .sweeper
        .sweep_once(later(Duration::from_secs(3601)))
        .await;
    assert_eq!(report.deleted, 1, "{report:?}");
    let notice = alice.expect_notice("alice", "session.removed").await;
    assert_eq!(notice["session_id"], id.as_str());
    let uuid = Uuid::parse_str(&id).unwrap();
    assert!(app.engine.load(uuid).await.unwrap().is_none());
    assert_eq!(status_of(&app, &kept).await, SessionStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_archived_sessions_are_deleted_when_configured() {
    archived_sessions_are_deleted_when_configured(Kind::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_archived_sessions_are_deleted_when_configured() {
    archived_sessions_are_deleted_when_configured(Kind::Redis).await;
}

/// The background loop (short interval) does the job by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_sweeper_runs_on_its_interval() {
    let app = spawn_app(&["--abandon-after", "200ms", "--sweep-interval", "100ms"]).await;
    let mut alice = app.connect("alice").await;
    alice.subscribe_ok("user:alice", json!({})).await;
    let id = alice.create_session("bg", &[]).await;
    let notice = alice.expect_notice("alice", "session.status_changed").await;
    assert_eq!(notice["to"], "abandoned");
    assert_eq!(status_of(&app, &id).await, SessionStatus::Abandoned);
    assert!(app.sweeper.totals().sweeps >= 1);
}

// ------------------------------------------------------------ settings

fn parse(args: &[&str]) -> Result<tandem::config::Settings, String> {
    let mut all = vec![
        "tandem",
        "--jwt-hs256-secret",
        "0123456789abcdef0123456789abcdef",
    ];
    all.extend_from_slice(args);
    let cli = tandem::config::Cli::try_parse_from(all).map_err(|e| e.to_string())?;
    cli.config.validate().map_err(|e| e.to_string())
}

#[test]
fn lifecycle_settings_have_defaults_and_are_validated() {
    let settings = parse(&[]).unwrap();
    let sweeper = settings.sweeper();
    assert_eq!(sweeper.abandon_after, Duration::from_secs(24 * 3600));
    assert_eq!(sweeper.archive_after, Duration::from_secs(7 * 86400));
    assert_eq!(sweeper.interval, Duration::from_secs(60));
    assert_eq!(sweeper.delete_archived_after, None);
    assert_eq!(sweeper.concurrency, 16);

    let settings = parse(&[
        "--sweep-concurrency",
        "3",
        "--abandon-after",
        "90s",
        "--archive-after",
        "15m",
        "--sweep-interval",
        "250ms",
        "--delete-archived-after",
        "30d",
    ])
    .unwrap();
    let sweeper = settings.sweeper();
    assert_eq!(sweeper.abandon_after, Duration::from_secs(90));
    assert_eq!(sweeper.archive_after, Duration::from_secs(900));
    assert_eq!(sweeper.interval, Duration::from_millis(250));
    assert_eq!(sweeper.concurrency, 3);
    assert_eq!(
        sweeper.delete_archived_after,
        Some(Duration::from_secs(30 * 86400))
    );

    for (args, setting) in [
        (["--abandon-after", "0s"], "TANDEM_ABANDON_AFTER"),
        (["--archive-after", "0s"], "TANDEM_ARCHIVE_AFTER"),
        (
            ["--delete-archived-after", "0s"],
            "TANDEM_DELETE_ARCHIVED_AFTER",
        ),
        (["--sweep-interval", "1ms"], "TANDEM_SWEEP_INTERVAL"),
        (["--sweep-concurrency", "0"], "TANDEM_SWEEP_CONCURRENCY"),
        (["--sweep-concurrency", "257"], "TANDEM_SWEEP_CONCURRENCY"),
        (["--abandon-after", "1000years"], "TANDEM_ABANDON_AFTER"),
    ] {
        let err = parse(&args).unwrap_err();
        assert!(err.starts_with(setting), "{args:?}: {err}");
    }
    // Not a duration: refused by the parser, naming the flag and the forms.
    let err = parse(&["--sweep-interval", "soon"]).unwrap_err();
    assert!(
        err.contains("--sweep-interval") && err.contains("90s"),
        "{err}"
    );
}
