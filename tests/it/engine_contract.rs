//! The engine contract suite: generic checks run against every engine
//! (SPEC §6: "Both engines pass one shared contract test suite").
//!
//! Each check is an async fn taking an [`EngineFactory`]; the `contract!`
//! macro at the bottom instantiates every check for the memory engine and for
//! the Redis engine (on the harness's `redis-server`, one key prefix per test).
//! Engines are built directly and report to a [`Recorder`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Map, Value};
use tandem::engine::memory::MemoryEngine;
use tandem::engine::redis::{RedisConfig, RedisEngine};
use tandem::engine::{ClientInfo, Payload, Publication};
use tandem::engine::{
    Engine, EngineConfig, EngineError, EngineEvents, HistoryFilter, PublishRequest, StreamPosition,
};
use tandem::sessions::model::{
    new_id, ChatMessage, Collaborator, MessageRole, Mission, MissionStatus, Role, Session,
    SessionStatus,
};
use tandem::sessions::store::{Commit, CommitOutcome, EventDraft, MessageRange, SessionRecord};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use super::redis_harness::{redis_url, unique_prefix};

/// What an engine reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Pub(String, u64, String),
    Join(String, String),
    Leave(String, String),
    Unsubscribe(String, String),
    Insufficient(String),
    Disconnect(String, bool),
}

/// An [`EngineEvents`] that records everything.
#[derive(Default)]
pub struct Recorder {
    seen: Mutex<Vec<Seen>>,
    changed: Notify,
    /// Live publications that came without the time the engine accepted them.
    unstamped: std::sync::atomic::AtomicUsize,
}

impl Recorder {
    fn push(&self, seen: Seen) {
        self.seen.lock().unwrap().push(seen);
        self.changed.notify_waiters();
    }

    /// Everything so far.
    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Publications of `channel` so far: (offset, data).
    pub fn pubs(&self, channel: &str) -> Vec<(u64, String)> {
        self.all()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Pub(c, o, d) if c == channel => Some((o, d)),
                _ => None,
            })
            .collect()
    }

    /// Waits until `done` holds for what was recorded.
    pub async fn wait(&self, what: &str, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                let all = self.all();
                if done(&all) {
                    return all;
                }
                notified.await;
            }
        };
        match tokio::time::timeout(Duration::from_secs(5), wait).await {
            Ok(all) => all,
            Err(_) => panic!("timed out waiting for {what}; seen {:?}", self.all()),
        }
    }

    /// Waits for `n` publications in `channel`.
    pub async fn wait_pubs(&self, channel: &str, n: usize) -> Vec<(u64, String)> {
        let ch = channel.to_owned();
        self.wait(&format!("{n} publications in {channel}"), |all| {
            all.iter()
                .filter(|s| matches!(s, Seen::Pub(c, _, _) if *c == ch))
                .count()
                >= n
        })
        .await;
        self.pubs(channel)
    }
}

impl EngineEvents for Recorder {
    fn publication(&self, channel: &str, publication: &Publication) {
        if publication.published_at.is_none() {
            self.unstamped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.push(Seen::Pub(
            channel.to_owned(),
            publication.offset,
            publication.data.as_str().unwrap().to_owned(),
        ));
    }
    fn join(&self, channel: &str, info: &ClientInfo) {
        self.push(Seen::Join(channel.to_owned(), info.client.clone()));
    }
    fn leave(&self, channel: &str, info: &ClientInfo) {
        self.push(Seen::Leave(channel.to_owned(), info.client.clone()));
    }
    fn unsubscribe_user(&self, channel: &str, user: &str) {
        self.push(Seen::Unsubscribe(channel.to_owned(), user.to_owned()));
    }
    fn disconnect_user(&self, user: &str, reconnect: bool) {
        self.push(Seen::Disconnect(user.to_owned(), reconnect));
    }
    fn insufficient_state(&self, channel: &str) {
        self.push(Seen::Insufficient(channel.to_owned()));
    }
}

/// An engine under test with its recorder; background tasks stop on drop.
pub struct Harnessed {
    pub engine: Arc<dyn Engine>,
    pub events: Arc<Recorder>,
    _stop: DropGuard,
}

/// Builds engines for the suite. Engines from one factory share their
/// storage when the engine can (Redis: same server and prefix).
pub trait EngineFactory {
    fn make(&self, config: EngineConfig) -> impl Future<Output = Harnessed>;
}

pub struct MemoryFactory;

impl EngineFactory for MemoryFactory {
    async fn make(&self, config: EngineConfig) -> Harnessed {
        let events = Arc::new(Recorder::default());
        let engine = MemoryEngine::new(config, events.clone());
        let stop = CancellationToken::new();
        tokio::spawn(engine.clone().run_cleanup(stop.clone()));
        Harnessed {
            engine: Arc::new(engine),
            events,
            _stop: stop.drop_guard(),
        }
    }
}

pub struct RedisFactory {
    pub url: String,
    pub prefix: String,
}

impl RedisFactory {
    pub fn new() -> Self {
        Self {
            url: redis_url(),
            prefix: unique_prefix(),
        }
    }
}

impl EngineFactory for RedisFactory {
    async fn make(&self, config: EngineConfig) -> Harnessed {
        let events = Arc::new(Recorder::default());
        let redis = RedisConfig::single(&self.url, &self.prefix);
        let engine = RedisEngine::new(&redis, config, events.clone()).expect("redis engine");
        let stop = CancellationToken::new();
        tokio::spawn(engine.clone().run(stop.clone()));
        Harnessed {
            engine: Arc::new(engine),
            events,
            _stop: stop.drop_guard(),
        }
    }
}

/// The Redis engine on the harness's three-master Redis Cluster.
pub struct ClusterFactory {
    pub prefix: String,
}

impl ClusterFactory {
    pub fn new() -> Self {
        Self {
            prefix: unique_prefix(),
        }
    }
}

impl EngineFactory for ClusterFactory {
    async fn make(&self, config: EngineConfig) -> Harnessed {
        let events = Arc::new(Recorder::default());
        let cluster = super::redis_cluster_harness::cluster();
        let redis = RedisConfig {
            cluster_nodes: cluster.seeds.split(',').map(str::to_owned).collect(),
            repair_interval: std::time::Duration::from_secs(1),
            ..RedisConfig::single("redis://unused", &self.prefix)
        };
        let engine = RedisEngine::new(&redis, config, events.clone()).expect("redis engine");
        assert!(engine.is_cluster());
        let stop = CancellationToken::new();
        tokio::spawn(engine.clone().run(stop.clone()));
        tokio::spawn(engine.clone().run_repair(stop.clone()));
        assert!(
            engine.wait_ready(std::time::Duration::from_secs(10)).await,
            "cluster pub/sub up"
        );
        Harnessed {
            engine: Arc::new(engine),
            events,
            _stop: stop.drop_guard(),
        }
    }
}

pub fn config() -> EngineConfig {
    EngineConfig {
        history_size: 100,
        history_ttl: Duration::from_secs(60),
        presence_ttl: Duration::from_secs(60),
    }
}

fn publication(data: Value) -> PublishRequest {
    PublishRequest {
        publication: Publication {
            data: Payload::from_json(&data).unwrap(),
            info: None,
            offset: 0,
            tags: None,
            published_at: None,
        },
        history: true,
    }
}

fn info(client: &str, user: &str) -> ClientInfo {
    ClientInfo {
        user: user.into(),
        client: client.into(),
        conn_info: Some(
            Payload::from_json(&json!({"name": user, "empty": {}, "list": []})).unwrap(),
        ),
        chan_info: None,
    }
}

fn offsets(page: &[Publication]) -> Vec<u64> {
    page.iter().map(|p| p.offset).collect()
}

fn filter(limit: usize, since: Option<StreamPosition>, reverse: bool) -> HistoryFilter {
    HistoryFilter {
        limit,
        since,
        reverse,
    }
}

fn channel() -> String {
    format!("test:{}", Uuid::new_v4().simple())
}

// ---------------------------------------------------------------- streams

pub async fn publish_offsets_are_gapless_and_delivered_in_order(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let ch = channel();
    h.engine.subscribe(&ch).await.unwrap();
    for i in 1..=5u64 {
        let pos = h
            .engine
            .publish(&ch, publication(json!({"n": i})))
            .await
            .unwrap();
        assert_eq!(pos.offset, i);
        assert!(!pos.epoch.is_empty());
    }
    // Concurrent publishers: offsets stay a gapless sequence.
    let mut tasks = Vec::new();
    for i in 6..=30u64 {
        let engine = h.engine.clone();
        let ch = ch.clone();
        tasks.push(tokio::spawn(async move {
            engine
                .publish(
                    &ch,
                    publication(
                        json!({"n": i, "empty": {}, "list": [], "big": 12345678901234567890u64}),
                    ),
                )
                .await
                .unwrap()
                .offset
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, (6..=30).collect::<Vec<_>>());
    let delivered = h.events.wait_pubs(&ch, 30).await;
    assert_eq!(
        delivered.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<_>>(),
        "delivered in offset order"
    );
    assert_eq!(delivered[0].1, r#"{"n":1}"#);
    // Every live publication says when the engine accepted it (the
    // publish-to-deliver latency), and history does not keep that time.
    assert_eq!(
        h.events
            .unstamped
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    // Payloads survive byte for byte (empty objects/arrays, big numbers).
    let stored = h
        .engine
        .history(&ch, filter(100, None, false))
        .await
        .unwrap();
    assert!(stored.publications.iter().all(|p| p.published_at.is_none()));
    for p in stored.publications.iter().skip(5) {
        let v: Value = serde_json::from_str(p.data.as_str().unwrap()).unwrap();
        assert_eq!(v["empty"], json!({}));
        assert_eq!(v["list"], json!([]));
        assert!(
            p.data.as_str().unwrap().contains("12345678901234567890"),
            "{}",
            p.data.as_str().unwrap()
        );
    }
    // Without history: delivered, no offset, position unchanged.
    let mut plain = publication(json!({"plain": true}));
    plain.history = false;
    let pos = h.engine.publish(&ch, plain).await.unwrap();
    assert_eq!(pos.offset, 30);
    let delivered = h.events.wait_pubs(&ch, 31).await;
    assert_eq!(delivered[30], (0, r#"{"plain":true}"#.to_owned()));
}

pub async fn publication_info_and_tags_round_trip(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let ch = channel();
    h.engine.subscribe(&ch).await.unwrap();
    let mut req = publication(json!({"x": 1}));
    req.publication.info = Some(info("c1", "alice"));
    req.publication.tags = Some(BTreeMap::from([("k".to_owned(), "v".to_owned())]));
    h.engine.publish(&ch, req.clone()).await.unwrap();
    let page = h
        .engine
        .history(&ch, filter(10, None, false))
        .await
        .unwrap();
    let p = &page.publications[0];
    assert_eq!(p.info, req.publication.info);
    assert_eq!(p.tags, req.publication.tags);
    assert_eq!(p.offset, 1);
    h.events.wait_pubs(&ch, 1).await;
}

pub async fn history_limit_since_reverse_and_epoch(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let ch = channel();
    // A fresh channel has a stable epoch and offset 0.
    let empty = h.engine.history(&ch, filter(0, None, false)).await.unwrap();
    assert_eq!(empty.position.offset, 0);
    let again = h
        .engine
        .history(&ch, filter(10, None, false))
        .await
        .unwrap();
    assert_eq!(again.position.epoch, empty.position.epoch);
    assert!(again.publications.is_empty());
    for i in 1..=5 {
        h.engine
            .publish(&ch, publication(json!({"n": i})))
            .await
            .unwrap();
    }
    let e = |o: u64| {
        Some(StreamPosition {
            offset: o,
            epoch: empty.position.epoch.clone(),
        })
    };
    let all = h.engine.history(&ch, filter(2, None, false)).await.unwrap();
    assert_eq!(offsets(&all.publications), vec![1, 2]);
    assert_eq!(all.position.offset, 5);
    assert_eq!(all.position.epoch, empty.position.epoch);
    let newest = h.engine.history(&ch, filter(2, None, true)).await.unwrap();
    assert_eq!(offsets(&newest.publications), vec![5, 4]);
    let after = h
        .engine
        .history(&ch, filter(10, e(2), false))
        .await
        .unwrap();
    assert_eq!(offsets(&after.publications), vec![3, 4, 5]);
    let before = h.engine.history(&ch, filter(10, e(4), true)).await.unwrap();
    assert_eq!(offsets(&before.publications), vec![3, 2, 1]);
    let top = h
        .engine
        .history(&ch, filter(10, e(5), false))
        .await
        .unwrap();
    assert!(top.publications.is_empty());
    let only_position = h.engine.history(&ch, filter(0, e(1), false)).await.unwrap();
    assert!(only_position.publications.is_empty());
    assert_eq!(only_position.position.offset, 5);
    let any_epoch = StreamPosition {
        offset: 3,
        epoch: String::new(),
    };
    let lenient = h
        .engine
        .history(&ch, filter(10, Some(any_epoch), false))
        .await
        .unwrap();
    assert_eq!(offsets(&lenient.publications), vec![4, 5]);
    let wrong = StreamPosition {
        offset: 1,
        epoch: "another".into(),
    };
    let err = h
        .engine
        .history(&ch, filter(10, Some(wrong), false))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::UnrecoverablePosition), "{err:?}");
}

pub async fn trimming_by_size_and_ttl_keeps_the_position(f: impl EngineFactory) {
    let mut cfg = config();
    cfg.history_size = 3;
    cfg.history_ttl = Duration::from_millis(400);
    let h = f.make(cfg).await;
    let ch = channel();
    for i in 1..=5 {
        h.engine
            .publish(&ch, publication(json!({"n": i})))
            .await
            .unwrap();
    }
    let page = h
        .engine
        .history(&ch, filter(10, None, false))
        .await
        .unwrap();
    assert_eq!(offsets(&page.publications), vec![3, 4, 5]);
    let epoch = page.position.epoch.clone();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let page = h
        .engine
        .history(&ch, filter(10, None, false))
        .await
        .unwrap();
    assert!(
        page.publications.is_empty(),
        "expired: {:?}",
        page.publications
    );
    assert_eq!(page.position.offset, 5);
    assert_eq!(page.position.epoch, epoch);
    let pos = h
        .engine
        .publish(&ch, publication(json!({"n": 6})))
        .await
        .unwrap();
    assert_eq!(pos.offset, 6);
    assert_eq!(pos.epoch, epoch);
}

pub async fn recovery_works_inside_the_window_only(f: impl EngineFactory) {
    let mut cfg = config();
    cfg.history_size = 5;
    let h = f.make(cfg).await;
    let ch = channel();
    for i in 1..=4 {
        h.engine
            .publish(&ch, publication(json!({"n": i})))
            .await
            .unwrap();
    }
    let top = h
        .engine
        .history(&ch, filter(0, None, false))
        .await
        .unwrap()
        .position;
    // A client at offset 2 recovers exactly 3 and 4.
    let since = StreamPosition {
        offset: 2,
        epoch: top.epoch.clone(),
    };
    let page = h
        .engine
        .history(&ch, filter(100, Some(since), false))
        .await
        .unwrap();
    assert_eq!(offsets(&page.publications), vec![3, 4]);
    assert_eq!(page.position.offset, 4);
    // After the window moved past it, the first publication returned is not
    // the next one, which is how a subscriber sees the position is lost.
    for i in 5..=10 {
        h.engine
            .publish(&ch, publication(json!({"n": i})))
            .await
            .unwrap();
    }
    let since = StreamPosition {
        offset: 2,
        epoch: top.epoch.clone(),
    };
    let page = h
        .engine
        .history(&ch, filter(100, Some(since), false))
        .await
        .unwrap();
    assert_eq!(offsets(&page.publications), vec![6, 7, 8, 9, 10]);
}

// ---------------------------------------------------------------- presence

pub async fn presence_add_remove_and_expiry(f: impl EngineFactory) {
    let mut cfg = config();
    cfg.presence_ttl = Duration::from_millis(700);
    let h = f.make(cfg).await;
    let ch = channel();
    h.engine
        .add_presence(&ch, &info("a", "alice"))
        .await
        .unwrap();
    h.engine.add_presence(&ch, &info("b", "bob")).await.unwrap();
    h.engine
        .add_presence(&ch, &info("c", "carol"))
        .await
        .unwrap();
    let present = h.engine.presence(&ch).await.unwrap();
    assert_eq!(present.keys().cloned().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(present["a"], info("a", "alice"));
    h.engine.remove_presence(&ch, "c").await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    h.engine
        .add_presence(&ch, &info("a", "alice"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let present = h.engine.presence(&ch).await.unwrap();
    assert_eq!(
        present.keys().cloned().collect::<Vec<_>>(),
        ["a"],
        "b expired, a was refreshed"
    );
    assert!(h.engine.presence(&channel()).await.unwrap().is_empty());
}

pub async fn disconnecting_a_user_reaches_the_node(f: impl EngineFactory) {
    let h = f.make(config()).await;
    // Subscribed to anything: the node-wide order needs no channel.
    h.engine.subscribe(&channel()).await.unwrap();
    h.engine.disconnect_user("alice", true).await.unwrap();
    h.engine.disconnect_user("bob", false).await.unwrap();
    let seen = h
        .events
        .wait("two disconnects", |all| {
            all.iter()
                .filter(|s| matches!(s, Seen::Disconnect(..)))
                .count()
                >= 2
        })
        .await;
    let disconnects: Vec<&Seen> = seen
        .iter()
        .filter(|s| matches!(s, Seen::Disconnect(..)))
        .collect();
    assert_eq!(
        disconnects,
        vec![
            &Seen::Disconnect("alice".into(), true),
            &Seen::Disconnect("bob".into(), false)
        ]
    );
}

pub async fn join_leave_and_unsubscribe_user_are_delivered(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let ch = channel();
    h.engine.subscribe(&ch).await.unwrap();
    h.engine
        .publish_join(&ch, &info("a", "alice"))
        .await
        .unwrap();
    h.engine
        .publish_leave(&ch, &info("a", "alice"))
        .await
        .unwrap();
    h.engine.unsubscribe_user(&ch, "alice").await.unwrap();
    let seen = h
        .events
        .wait("join, leave and unsubscribe", |all| all.len() >= 3)
        .await;
    assert_eq!(
        seen,
        vec![
            Seen::Join(ch.clone(), "a".into()),
            Seen::Leave(ch.clone(), "a".into()),
            Seen::Unsubscribe(ch.clone(), "alice".into()),
        ]
    );
    h.engine.unsubscribe(&ch).await.unwrap();
    assert!(h.engine.health().await.is_ok());
}

// ---------------------------------------------------------------- sessions

fn record(owner: &str, others: &[&str]) -> SessionRecord {
    let now = Utc::now();
    let mut collaborators = vec![Collaborator {
        user_id: owner.into(),
        role: Role::Owner,
        added_at: now,
    }];
    for user in others {
        collaborators.push(Collaborator {
            user_id: (*user).into(),
            role: Role::Editor,
            added_at: now,
        });
    }
    SessionRecord {
        session: Session {
            id: new_id(),
            name: "Plan".into(),
            owner: owner.into(),
            collaborators,
            status: SessionStatus::Active,
            metadata: Map::new(),
            mission_id: None,
            created_at: now,
            updated_at: now,
            last_activity_at: now,
            message_count: 0,
        },
        mission: None,
        assets: Vec::new(),
        version: 0,
    }
}

fn draft(kind: &str, data: Value) -> EventDraft {
    EventDraft {
        kind: kind.into(),
        actor: "alice".into(),
        at: Utc::now(),
        data,
        imported: None,
    }
}

fn message(session: Uuid, content: &str, offset: u64) -> ChatMessage {
    ChatMessage {
        id: new_id(),
        session_id: session,
        author: "alice".into(),
        role: MessageRole::User,
        content: content.into(),
        created_at: Utc::now(),
        offset,
        metadata: None,
        idempotency_key: None,
        imported: None,
    }
}

fn mission(owner: &str) -> Mission {
    let now = Utc::now();
    Mission {
        id: new_id(),
        title: "Trip".into(),
        goal: String::new(),
        status: MissionStatus::Proposed,
        hops: Vec::new(),
        revision: 1,
        owner: owner.into(),
        session_id: None,
        created_at: now,
        updated_at: now,
    }
}

fn simple(record: SessionRecord, events: Vec<EventDraft>) -> Commit {
    Commit {
        record,
        messages: Vec::new(),
        events,
        idempotency: None,
        expect_activity_at_most: None,
        members_before: None,
    }
}

async fn create(engine: &dyn Engine, record: &SessionRecord) -> SessionRecord {
    match engine
        .commit(simple(
            record.clone(),
            vec![draft("session.created", json!({}))],
        ))
        .await
        .unwrap()
    {
        CommitOutcome::Committed { events, position } => {
            assert_eq!(events[0].offset, 1);
            assert_eq!(position.offset, 1);
        }
        other => panic!("create: {other:?}"),
    }
    engine.load(record.session.id).await.unwrap().unwrap()
}

pub async fn commit_is_a_compare_and_set(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let rec = record("alice", &[]);
    let id = rec.session.id;
    assert!(h.engine.load(id).await.unwrap().is_none());
    let stored = create(&*h.engine, &rec).await;
    assert_eq!(stored.version, 1);
    // Creating again conflicts.
    let again = h
        .engine
        .commit(simple(
            rec.clone(),
            vec![draft("session.created", json!({}))],
        ))
        .await
        .unwrap();
    assert!(matches!(again, CommitOutcome::Conflict));
    let mut first = stored.clone();
    first.session.name = "First".into();
    let mut second = stored.clone();
    second.session.name = "Second".into();
    let ok = h
        .engine
        .commit(simple(
            first,
            vec![draft("session.updated", json!({"name": "First"}))],
        ))
        .await
        .unwrap();
    assert!(matches!(ok, CommitOutcome::Committed { .. }));
    let stale = h
        .engine
        .commit(simple(second, vec![draft("session.updated", json!({}))]))
        .await
        .unwrap();
    assert!(matches!(stale, CommitOutcome::Conflict));
    let now = h.engine.load(id).await.unwrap().unwrap();
    assert_eq!(now.version, 2);
    assert_eq!(now.session.name, "First");
    // A commit on a session that does not exist conflicts.
    let mut ghost = record("alice", &[]);
    ghost.version = 3;
    let outcome = h
        .engine
        .commit(simple(ghost, vec![draft("x", json!({}))]))
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Conflict));
}

pub async fn commit_appends_events_and_messages_with_offsets(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let rec = record("alice", &[]);
    let id = rec.session.id;
    let ch = tandem::channels::session(id);
    h.engine.subscribe(&ch).await.unwrap();
    let stored = create(&*h.engine, &rec).await;
    let commit = Commit {
        record: stored,
        messages: vec![message(id, "hello", 0), message(id, "imported", 3)],
        events: vec![
            draft(
                "chat.message",
                json!({"text": "hello", "empty": {}, "list": []}),
            ),
            draft("session.updated", json!({"n": 18446744073709551615u64})),
        ],
        idempotency: None,
        expect_activity_at_most: None,
        members_before: None,
    };
    let CommitOutcome::Committed { events, position } = h.engine.commit(commit).await.unwrap()
    else {
        panic!("not committed");
    };
    assert_eq!(events.iter().map(|e| e.offset).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(events[0].kind, "chat.message");
    assert_eq!(position.offset, 3);
    let log = h.engine.events(id, 1, 100).await.unwrap();
    assert_eq!(log.iter().map(|e| e.offset).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        log[1].data,
        json!({"text": "hello", "empty": {}, "list": []})
    );
    assert_eq!(log[2].data, json!({"n": 18446744073709551615u64}));
    let tail = h.engine.events(id, 2, 1).await.unwrap();
    assert_eq!(tail.iter().map(|e| e.offset).collect::<Vec<_>>(), [2]);
    let msgs = h
        .engine
        .messages(
            id,
            MessageRange {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got: Vec<(String, u64)> = msgs.iter().map(|m| (m.content.clone(), m.offset)).collect();
    assert_eq!(
        got,
        [("hello".to_owned(), 2), ("imported".to_owned(), 3)],
        "offset 0 became the first event's; a given offset is kept"
    );
    let after = h
        .engine
        .messages(
            id,
            MessageRange {
                after: Some(2),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].content, "imported");
    let before = h
        .engine
        .messages(
            id,
            MessageRange {
                before: Some(3),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].content, "hello");
    // The live feed carries the events with their offsets, in order.
    let delivered = h.events.wait_pubs(&ch, 3).await;
    assert_eq!(
        delivered.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let second: Value = serde_json::from_str(&delivered[1].1).unwrap();
    assert_eq!(second["offset"], 2);
    assert_eq!(second["type"], "chat.message");
    assert_eq!(second["data"]["empty"], json!({}));
    // And the stream's history is the same.
    let page = h
        .engine
        .history(&ch, filter(10, None, false))
        .await
        .unwrap();
    assert_eq!(offsets(&page.publications), vec![1, 2, 3]);
    let first: Value = serde_json::from_str(page.publications[0].data.as_str().unwrap()).unwrap();
    assert_eq!(first["offset"], 1);
    assert_eq!(first["type"], "session.created");
}

pub async fn idempotent_commits_apply_once(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let rec = record("alice", &[]);
    let id = rec.session.id;
    let stored = create(&*h.engine, &rec).await;
    let commit = |record: SessionRecord| Commit {
        record,
        messages: vec![message(id, "once", 0)],
        events: vec![draft("chat.message", json!({"text": "once"}))],
        idempotency: Some((
            "key-1".to_owned(),
            json!({"id": "m1", "offset": 0, "empty": {}}),
        )),
        expect_activity_at_most: None,
        members_before: None,
    };
    let first = h.engine.commit(commit(stored.clone())).await.unwrap();
    assert!(matches!(first, CommitOutcome::Committed { .. }));
    let fresh = h.engine.load(id).await.unwrap().unwrap();
    // Same key, even on the fresh record: the first response, with its offset.
    for record in [stored, fresh] {
        match h.engine.commit(commit(record)).await.unwrap() {
            CommitOutcome::Duplicate(response) => {
                assert_eq!(response, json!({"id": "m1", "offset": 2, "empty": {}}));
            }
            other => panic!("expected a duplicate, got {other:?}"),
        }
    }
    let msgs = h
        .engine
        .messages(
            id,
            MessageRange {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(h.engine.events(id, 1, 10).await.unwrap().len(), 2);
}

pub async fn snapshot_is_consistent(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let rec = record("alice", &[]);
    let id = rec.session.id;
    assert!(h.engine.snapshot(id, 10).await.unwrap().is_none());
    let mut current = create(&*h.engine, &rec).await;
    for i in 0..4 {
        current.session.message_count += 1;
        let outcome = h
            .engine
            .commit(Commit {
                record: current.clone(),
                messages: vec![message(id, &format!("m{i}"), 0)],
                events: vec![draft("chat.message", json!({"i": i}))],
                idempotency: None,
                expect_activity_at_most: None,
                members_before: None,
            })
            .await
            .unwrap();
        assert!(matches!(outcome, CommitOutcome::Committed { .. }));
        current = h.engine.load(id).await.unwrap().unwrap();
    }
    let snap = h.engine.snapshot(id, 2).await.unwrap().unwrap();
    assert_eq!(snap.record, current);
    assert_eq!(snap.position.offset, 5);
    let contents: Vec<_> = snap.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["m2", "m3"], "newest messages, oldest first");
    let ch = tandem::channels::session(id);
    let top = h.engine.history(&ch, filter(0, None, false)).await.unwrap();
    assert_eq!(snap.position, top.position);
}

pub async fn sessions_of_follows_collaborators(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let rec = record("alice", &["bob"]);
    let id = rec.session.id;
    let stored = create(&*h.engine, &rec).await;
    let other = record("carol", &[]);
    create(&*h.engine, &other).await;
    let ids = |sessions: Vec<Session>| sessions.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(h.engine.sessions_of("alice").await.unwrap()), [id]);
    assert_eq!(ids(h.engine.sessions_of("bob").await.unwrap()), [id]);
    assert!(h.engine.sessions_of("dave").await.unwrap().is_empty());
    assert_eq!(h.engine.listed_sessions("alice").await.unwrap(), 1);
    assert_eq!(h.engine.listed_sessions("bob").await.unwrap(), 1);
    assert_eq!(h.engine.listed_sessions("dave").await.unwrap(), 0);
    let mut changed = stored;
    changed.session.collaborators.retain(|c| c.user_id != "bob");
    changed.session.collaborators.push(Collaborator {
        user_id: "dave".into(),
        role: Role::Viewer,
        added_at: Utc::now(),
    });
    let outcome = h
        .engine
        .commit(simple(
            changed,
            vec![draft("collaborators.changed", json!({}))],
        ))
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    assert!(h.engine.sessions_of("bob").await.unwrap().is_empty());
    assert_eq!(ids(h.engine.sessions_of("dave").await.unwrap()), [id]);
    assert_eq!(h.engine.listed_sessions("dave").await.unwrap(), 1);
    // A writer that knows the members it read passes them along; the
    // store then relies on them (and its version check) to find who left.
    let mut current = h.engine.load(id).await.unwrap().unwrap();
    let before: Vec<String> = current
        .session
        .collaborators
        .iter()
        .map(|c| c.user_id.clone())
        .collect();
    current
        .session
        .collaborators
        .retain(|c| c.user_id != "dave");
    current.session.collaborators.push(Collaborator {
        user_id: "erin".into(),
        role: Role::Editor,
        added_at: Utc::now(),
    });
    let outcome = h
        .engine
        .commit(Commit {
            members_before: Some(before),
            ..simple(current, vec![draft("collaborators.changed", json!({}))])
        })
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    assert!(h.engine.sessions_of("dave").await.unwrap().is_empty());
    assert_eq!(ids(h.engine.sessions_of("erin").await.unwrap()), [id]);
    assert_eq!(ids(h.engine.sessions_of("alice").await.unwrap()), [id]);
    assert_eq!(
        ids(h.engine.sessions_of("carol").await.unwrap()),
        [other.session.id]
    );
}

pub async fn touch_records_activity(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let rec = record("alice", &[]);
    let id = rec.session.id;
    assert!(!h.engine.touch(id, Utc::now()).await.unwrap());
    let stored = create(&*h.engine, &rec).await;
    let later = stored.session.last_activity_at + chrono::Duration::seconds(5);
    assert!(h.engine.touch(id, later).await.unwrap());
    let loaded = h.engine.load(id).await.unwrap().unwrap();
    assert_eq!(loaded.session.last_activity_at, later);
    assert_eq!(loaded.version, stored.version, "touch is not a commit");
    // An older touch does not move it back.
    assert!(h
        .engine
        .touch(id, stored.session.last_activity_at)
        .await
        .unwrap());
    let loaded = h.engine.load(id).await.unwrap().unwrap();
    assert_eq!(loaded.session.last_activity_at, later);
    // A commit with an older activity time keeps the newer one.
    let outcome = h
        .engine
        .commit(simple(stored.clone(), vec![draft("x", json!({}))]))
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    let loaded = h.engine.load(id).await.unwrap().unwrap();
    assert_eq!(loaded.session.last_activity_at, later);
    let listed = h.engine.sessions_of("alice").await.unwrap();
    assert_eq!(listed[0].last_activity_at, later);
}

pub async fn delete_publishes_farewell_and_removes_everything(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let mut rec = record("alice", &["bob"]);
    let m = mission("alice");
    rec.mission = Some(m.clone());
    let id = rec.session.id;
    let ch = tandem::channels::session(id);
    h.engine.subscribe(&ch).await.unwrap();
    create(&*h.engine, &rec).await;
    let epoch = h
        .engine
        .history(&ch, filter(0, None, false))
        .await
        .unwrap()
        .position
        .epoch;
    assert!(h.engine.mission(m.id).await.unwrap().is_some());
    assert!(h
        .engine
        .delete(id, draft("session.deleted", json!({})))
        .await
        .unwrap());
    let delivered = h.events.wait_pubs(&ch, 2).await;
    assert_eq!(delivered[1].0, 2);
    assert!(delivered[1].1.contains("session.deleted"));
    assert!(h.engine.load(id).await.unwrap().is_none());
    assert!(h.engine.snapshot(id, 10).await.unwrap().is_none());
    assert!(h.engine.sessions_of("alice").await.unwrap().is_empty());
    assert!(h.engine.sessions_of("bob").await.unwrap().is_empty());
    assert!(h.engine.events(id, 1, 10).await.unwrap().is_empty());
    assert!(h.engine.mission(m.id).await.unwrap().is_none());
    assert!(!h
        .engine
        .delete(id, draft("session.deleted", json!({})))
        .await
        .unwrap());
    // The stream is gone: a new epoch starts.
    let after = h
        .engine
        .history(&ch, filter(10, None, false))
        .await
        .unwrap();
    assert_eq!(after.position.offset, 0);
    assert_ne!(after.position.epoch, epoch);
}

// ---------------------------------------------------------------- sweeper index

fn quiet_at(owner: &str, at: chrono::DateTime<Utc>) -> SessionRecord {
    let mut rec = record(owner, &[]);
    rec.session.created_at = at;
    rec.session.updated_at = at;
    rec.session.last_activity_at = at;
    rec
}

pub async fn due_sessions_follow_status_and_activity(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let t0 = Utc::now();
    let hours = |n: i64| t0 - chrono::Duration::hours(n);
    let s3 = create(&*h.engine, &quiet_at("alice", hours(3))).await;
    let s2 = create(&*h.engine, &quiet_at("alice", hours(2))).await;
    let s1 = create(&*h.engine, &quiet_at("alice", hours(1))).await;
    let due = |before| {
        let engine = h.engine.clone();
        async move {
            engine
                .due_sessions(SessionStatus::Active, before, 10)
                .await
                .unwrap()
        }
    };
    let cutoff = t0 - chrono::Duration::minutes(90);
    assert_eq!(
        due(cutoff).await,
        [s3.session.id, s2.session.id],
        "oldest first"
    );
    assert_eq!(due(t0).await, [s3.session.id, s2.session.id, s1.session.id]);
    assert!(due(hours(4)).await.is_empty());
    assert_eq!(
        h.engine
            .due_sessions(SessionStatus::Active, cutoff, 1)
            .await
            .unwrap(),
        [s3.session.id],
        "limit"
    );
    // Activity moves a session out of the due range.
    assert!(h.engine.touch(s3.session.id, t0).await.unwrap());
    assert_eq!(due(cutoff).await, [s2.session.id]);
    // A status change moves it to that status's index, quiet since the change.
    let mut abandoned = s2.clone();
    abandoned.session.status = SessionStatus::Abandoned;
    abandoned.session.updated_at = hours(1);
    let outcome = h
        .engine
        .commit(simple(
            abandoned,
            vec![draft("session.status_changed", json!({}))],
        ))
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    assert!(due(cutoff).await.is_empty());
    let abandoned_due = |before| {
        let engine = h.engine.clone();
        async move {
            engine
                .due_sessions(SessionStatus::Abandoned, before, 10)
                .await
                .unwrap()
        }
    };
    assert!(abandoned_due(cutoff).await.is_empty());
    assert_eq!(abandoned_due(t0).await, [s2.session.id]);
    assert!(h
        .engine
        .due_sessions(SessionStatus::Archived, t0, 10)
        .await
        .unwrap()
        .is_empty());
    // Deleting removes it from the index.
    assert!(h
        .engine
        .delete(s2.session.id, draft("session.deleted", json!({})))
        .await
        .unwrap());
    assert!(abandoned_due(t0).await.is_empty());
}

pub async fn commit_guard_refuses_after_newer_activity(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let t0 = Utc::now() - chrono::Duration::hours(1);
    let stored = create(&*h.engine, &quiet_at("alice", t0)).await;
    let id = stored.session.id;
    let guarded = |record: SessionRecord, at_most| Commit {
        expect_activity_at_most: Some(at_most),
        ..simple(record, vec![draft("session.status_changed", json!({}))])
    };
    // An activity ping does not bump the version, but the guard sees it.
    let later = t0 + chrono::Duration::seconds(5);
    assert!(h.engine.touch(id, later).await.unwrap());
    let outcome = h.engine.commit(guarded(stored.clone(), t0)).await.unwrap();
    assert!(matches!(outcome, CommitOutcome::Conflict), "{outcome:?}");
    let loaded = h.engine.load(id).await.unwrap().unwrap();
    assert_eq!(loaded.version, stored.version, "nothing stored");
    assert_eq!(h.engine.events(id, 1, 10).await.unwrap().len(), 1);
    // With the activity it read, the same commit goes through.
    let outcome = h
        .engine
        .commit(guarded(stored.clone(), later))
        .await
        .unwrap();
    assert!(
        matches!(outcome, CommitOutcome::Committed { .. }),
        "{outcome:?}"
    );
}

pub async fn missions_put_get_link_and_remove(f: impl EngineFactory) {
    let h = f.make(config()).await;
    let m = mission("alice");
    assert!(h.engine.mission(m.id).await.unwrap().is_none());
    h.engine.put_mission(m.clone()).await.unwrap();
    assert_eq!(
        h.engine.mission(m.id).await.unwrap(),
        Some((m.clone(), None))
    );
    // Linking: the session stores it, the unlinked copy is removed.
    let mut rec = record("alice", &[]);
    let mut linked = m.clone();
    linked.session_id = Some(rec.session.id);
    rec.mission = Some(linked.clone());
    rec.session.mission_id = Some(m.id);
    create(&*h.engine, &rec).await;
    h.engine.remove_unlinked_mission(m.id).await.unwrap();
    assert_eq!(
        h.engine.mission(m.id).await.unwrap(),
        Some((linked, Some(rec.session.id)))
    );
    let other = mission("bob");
    h.engine.put_mission(other.clone()).await.unwrap();
    h.engine.remove_unlinked_mission(other.id).await.unwrap();
    assert!(h.engine.mission(other.id).await.unwrap().is_none());
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::MemoryFactory).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::RedisFactory::new()).await;
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::ClusterFactory::new()).await;
                }
            )*
        }
    };
}

contract!(
    due_sessions_follow_status_and_activity,
    commit_guard_refuses_after_newer_activity,
    publish_offsets_are_gapless_and_delivered_in_order,
    publication_info_and_tags_round_trip,
    history_limit_since_reverse_and_epoch,
    trimming_by_size_and_ttl_keeps_the_position,
    recovery_works_inside_the_window_only,
    presence_add_remove_and_expiry,
    join_leave_and_unsubscribe_user_are_delivered,
    disconnecting_a_user_reaches_the_node,
    commit_is_a_compare_and_set,
    commit_appends_events_and_messages_with_offsets,
    idempotent_commits_apply_once,
    snapshot_is_consistent,
    sessions_of_follows_collaborators,
    touch_records_activity,
    delete_publishes_farewell_and_removes_everything,
    missions_put_get_link_and_remove,
);
