//! Global indexes on a Redis Cluster: updated after a session's atomic
//! step, with a journal that makes a crash in between harmless.
//!
//! On one Redis the commit, touch and delete scripts update every index in
//! the same step. On a cluster a script may only touch one slot, and the
//! indexes live in other slots (`{user:…}:sessions`, `missions:linked`,
//! `activity`, `idle:*`), so a write goes:
//!
//! 1. `ZADD` a pending entry `<session>|<nonce>` to the session's shard of
//!    the journal (`{ixq-N}:pending`, scored by the time);
//! 2. the atomic step on the session's slot (record, events, stream,
//!    publication, idempotency; the collaborators set, the set of removed
//!    users and, on delete, a tombstone);
//! 3. the follow-up: reads what the indexes must say from the session's slot
//!    (`index_state.lua`) and applies it idempotently, re-reading until the
//!    record's version did not move meanwhile;
//! 4. removes its own pending entry.
//!
//! Invariant, at every instant: a session whose global index entries may
//! disagree with its record has a pending entry (written before its step,
//! removed only after an application that saw no newer version). The repair
//! task, every half repair interval, replays the entries older than half an
//! interval, so a crash between 2 and 4 leaves an index behind for at most
//! one repair interval. Activity pings raise the activity and idle scores
//! with `ZADD XX GT` (never add, never lower): a lost ping makes the sweeper
//! look early, and it re-checks the record before acting.

use std::time::Duration;

use futures_util::future::try_join_all;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::keys::PENDING_SHARDS;
use super::{millis, run, RedisEngine};
use crate::engine::EngineError;
use crate::sessions::model::SessionStatus;

/// How many attempts the follow-up makes to catch up with a record that
/// keeps changing (the later writers' own follow-ups cover the rest).
const SYNC_ATTEMPTS: usize = 4;
/// Pending entries replayed per shard and repair round.
const REPAIR_BATCH: usize = 200;
/// How long a deleted session's tombstone is kept for the follow-up.
pub(super) const TOMB_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

const STATUSES: [SessionStatus; 4] = [
    SessionStatus::Active,
    SessionStatus::Completed,
    SessionStatus::Abandoned,
    SessionStatus::Archived,
];

/// What the indexes must say about a session, read from its slot.
enum IndexState {
    Live {
        version: String,
        status: String,
        since: i64,
        activity: i64,
        mission: String,
        users: Vec<String>,
        gone: Vec<String>,
    },
    Deleted {
        mission: String,
        users: Vec<String>,
    },
    Unknown,
}

fn parse_state(value: ::redis::Value) -> Result<IndexState, EngineError> {
    use ::redis::from_redis_value;
    let items: Vec<::redis::Value> = from_redis_value(value).map_err(super::internal)?;
    let kind: String = items
        .first()
        .cloned()
        .map(from_redis_value)
        .transpose()
        .map_err(super::internal)?
        .unwrap_or_default();
    match kind.as_str() {
        "live" => {
            let (_, version, status, since, activity, mission, users, gone): (
                String,
                String,
                String,
                i64,
                i64,
                String,
                Vec<String>,
                Vec<String>,
            ) = from_redis_value(::redis::Value::Array(items)).map_err(super::internal)?;
            Ok(IndexState::Live {
                version,
                status,
                since,
                activity,
                mission,
                users,
                gone,
            })
        }
        "deleted" => {
            let (_, mission, users): (String, String, Vec<String>) =
                from_redis_value(::redis::Value::Array(items)).map_err(super::internal)?;
            Ok(IndexState::Deleted { mission, users })
        }
        _ => Ok(IndexState::Unknown),
    }
}

impl RedisEngine {
    /// Step 1: journals an index update of session `id`; returns the entry.
    pub(super) async fn begin_index_update(&self, id: Uuid) -> Result<String, EngineError> {
        let member = format!("{id}|{:016x}", rand::random::<u64>());
        let mut conn = self.conn().await?;
        run(::redis::cmd("ZADD")
            .arg(self.keys().pending_of(id))
            .arg(chrono::Utc::now().timestamp_millis())
            .arg(&member)
            .query_async::<()>(&mut conn))
        .await?;
        Ok(member)
    }

    /// Steps 3 and 4 after a write that changed the session (or, with
    /// `changed` false, only step 4). Failures are logged: the write is
    /// stored, and the pending entry left behind makes the repair task
    /// finish the job.
    pub(super) async fn finish_index_update(&self, id: Uuid, member: String, changed: bool) {
        if changed && self.inner.fault_skip_index_update {
            tracing::warn!(session = %id, "fault injection: index update left out");
            return;
        }
        let result = async {
            if changed {
                self.sync_indexes(id).await?;
            }
            self.drop_pending(id, &member).await
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(session = %id, error = %err, "index update left to the repair task");
        }
    }

    async fn drop_pending(&self, id: Uuid, member: &str) -> Result<(), EngineError> {
        let mut conn = self.conn().await?;
        run(::redis::cmd("ZREM")
            .arg(self.keys().pending_of(id))
            .arg(member)
            .query_async::<()>(&mut conn))
        .await
    }

    async fn index_state(&self, id: Uuid) -> Result<IndexState, EngineError> {
        let keys = self.keys().session(id);
        let mut conn = self.conn().await?;
        let mut invocation = self.inner.scripts.index_state.key(&keys.record);
        invocation.key(&keys.users).key(&keys.gone).key(&keys.tomb);
        parse_state(run(invocation.invoke_async(&mut conn)).await?)
    }

    /// Makes the global index entries of session `id` match its record (or
    /// its tombstone), until the record's version held still meanwhile.
    pub(super) async fn sync_indexes(&self, id: Uuid) -> Result<(), EngineError> {
        for _ in 0..SYNC_ATTEMPTS {
            let state = self.index_state(id).await?;
            let seen = match &state {
                IndexState::Live { version, .. } => Some(version.clone()),
                _ => None,
            };
            self.apply_indexes(id, state).await?;
            let keys = self.keys().session(id);
            let mut conn = self.conn().await?;
            let now: Option<String> = run(::redis::cmd("HGET")
                .arg(&keys.record)
                .arg("v")
                .query_async(&mut conn))
            .await?;
            if now == seen {
                return Ok(());
            }
        }
        Err(EngineError::Unavailable(
            "session kept changing while its indexes were updated".into(),
        ))
    }

    async fn apply_indexes(&self, id: Uuid, state: IndexState) -> Result<(), EngineError> {
        let keys = self.keys();
        let sid = id.to_string();
        let mut cmds: Vec<::redis::Cmd> = Vec::new();
        let mut unlink = None;
        match state {
            IndexState::Live {
                status,
                since,
                activity,
                mission,
                users,
                gone,
                ..
            } => {
                for user in &users {
                    cmds.push(cmd2("SADD", keys.user_sessions(user), &sid));
                }
                for user in gone.iter().filter(|u| !users.contains(u)) {
                    cmds.push(cmd2("SREM", keys.user_sessions(user), &sid));
                }
                if activity > 0 {
                    let mut c = ::redis::cmd("ZADD");
                    c.arg(keys.activity()).arg("GT").arg(activity).arg(&sid);
                    cmds.push(c);
                }
                // A record without a status (none on a cluster) leaves the idle index alone.
                let known = STATUSES.iter().any(|s| s.as_str() == status);
                for s in STATUSES.into_iter().filter(|_| known) {
                    if s.as_str() == status {
                        let mut c = ::redis::cmd("ZADD");
                        c.arg(keys.idle(s)).arg("GT").arg(since).arg(&sid);
                        cmds.push(c);
                    } else {
                        cmds.push(cmd2("ZREM", keys.idle(s), &sid));
                    }
                }
                if !mission.is_empty() {
                    let mut c = ::redis::cmd("HSET");
                    c.arg(keys.linked_missions()).arg(&mission).arg(&sid);
                    cmds.push(c);
                }
            }
            IndexState::Deleted { mission, users } => {
                for user in &users {
                    cmds.push(cmd2("SREM", keys.user_sessions(user), &sid));
                }
                cmds.push(cmd2("ZREM", keys.activity(), &sid));
                for s in STATUSES {
                    cmds.push(cmd2("ZREM", keys.idle(s), &sid));
                }
                if !mission.is_empty() {
                    unlink = Some(mission);
                }
            }
            IndexState::Unknown => {
                cmds.push(cmd2("ZREM", keys.activity(), &sid));
                for s in STATUSES {
                    cmds.push(cmd2("ZREM", keys.idle(s), &sid));
                }
            }
        }
        let conn = self.conn().await?;
        // Each entry lives in its own slot: one command each, all at once.
        try_join_all(cmds.into_iter().map(|c| {
            let mut conn = conn.clone();
            async move { run(c.query_async::<::redis::Value>(&mut conn)).await }
        }))
        .await?;
        if let Some(mission) = unlink {
            let mut conn = conn.clone();
            let mut invocation = self.inner.scripts.unlink.key(keys.linked_missions());
            invocation.arg(mission).arg(&sid);
            let _: i64 = run(invocation.invoke_async(&mut conn)).await?;
        }
        Ok(())
    }

    /// One repair round: replays the pending index updates older than half
    /// a repair interval. Returns how many sessions it brought up to date.
    pub async fn repair_indexes(&self) -> Result<usize, EngineError> {
        if !self.inner.split {
            return Ok(0);
        }
        let cutoff = chrono::Utc::now().timestamp_millis()
            - i64::try_from(millis(self.inner.repair_interval / 2)).unwrap_or(i64::MAX);
        let mut repaired = 0;
        for shard in 0..PENDING_SHARDS {
            let key = self.keys().pending(shard);
            let mut conn = self.conn().await?;
            let members: Vec<String> = run(::redis::cmd("ZRANGEBYSCORE")
                .arg(&key)
                .arg("-inf")
                .arg(cutoff)
                .arg("LIMIT")
                .arg(0)
                .arg(REPAIR_BATCH)
                .query_async(&mut conn))
            .await?;
            for member in members {
                let id = member
                    .split_once('|')
                    .and_then(|(id, _)| Uuid::parse_str(id).ok());
                if let Some(id) = id {
                    if let Err(err) = self.sync_indexes(id).await {
                        tracing::warn!(session = %id, error = %err, "index repair failed; retried next round");
                        continue;
                    }
                    repaired += 1;
                }
                run(::redis::cmd("ZREM")
                    .arg(&key)
                    .arg(&member)
                    .query_async::<()>(&mut conn))
                .await?;
            }
        }
        Ok(repaired)
    }

    /// Runs [`RedisEngine::repair_indexes`] every half repair interval until
    /// `stop` (on one Redis there is nothing to repair and it returns at once).
    pub async fn run_repair(self, stop: CancellationToken) {
        if !self.inner.split {
            return;
        }
        let mut tick = tokio::time::interval(self.inner.repair_interval / 2);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.repair_indexes().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "index repair: pending updates replayed"),
                Err(err) => tracing::warn!(error = %err, "index repair round failed"),
            }
        }
    }
}

fn cmd2(name: &str, key: String, member: &str) -> ::redis::Cmd {
    let mut c = ::redis::cmd(name);
    c.arg(key).arg(member);
    c
}
