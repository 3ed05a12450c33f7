//! Sessions in Redis ([`SessionStore`]): one record hash per session plus its
//! event log, messages and idempotency keys, all under the session's hash tag,
//! and the indexes (user → sessions, mission → session, activity).
//!
//! [`SessionStore::commit`] is one Lua script (`lua/commit.lua`): idempotency
//! check, version compare-and-set, offsets, stream + fan-out + event log,
//! messages, record and indexes change together or not at all. JSON is passed
//! as text and spliced by concatenation (never re-encoded by cjson).

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::keys::SessionKeys;
use super::{candidate_epoch, internal, run, RedisEngine};
use crate::engine::{EngineError, StreamPosition};
use crate::sessions::model::{ChatMessage, Event, Mission, Session, SessionStatus};
use crate::sessions::store::{
    Commit, CommitOutcome, EventDraft, MessageRange, SessionRecord, SessionStore, Snapshot,
};

/// How often `delete` re-reads a record that changed under it.
const DELETE_ATTEMPTS: usize = 5;

/// `value` as JSON text with its `offset` field removed, without the opening
/// brace (Lua prepends `{"offset":N,`).
fn rest_without_offset<T: Serialize>(value: &T) -> Result<String, EngineError> {
    let mut value = serde_json::to_value(value).map_err(internal)?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| internal("expected a JSON object"))?;
    object.remove("offset");
    let text = serde_json::to_string(&value).map_err(internal)?;
    text.strip_prefix('{')
        .map(str::to_owned)
        .ok_or_else(|| internal("expected a JSON object"))
}

/// A count for Redis (`LIMIT`, `LRANGE` in Lua): "all" (`usize::MAX`) must
/// stay an integer Redis and Lua's doubles both read exactly.
fn count_arg(count: usize) -> u64 {
    const MAX: u64 = 1 << 50;
    u64::try_from(count).map_or(MAX, |c| c.min(MAX))
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn corrupt(what: impl std::fmt::Display) -> EngineError {
    EngineError::Corrupt(what.to_string())
}

/// A stored record with its last activity applied (touches do not rewrite the JSON).
fn parse_record(json: &str, activity: Option<&str>) -> Result<SessionRecord, EngineError> {
    let mut record: SessionRecord = serde_json::from_str(json).map_err(corrupt)?;
    if let Some(at) = activity.filter(|a| !a.is_empty()) {
        let at = DateTime::parse_from_rfc3339(at)
            .map_err(corrupt)?
            .with_timezone(&Utc);
        if at > record.session.last_activity_at {
            record.session.last_activity_at = at;
        }
    }
    Ok(record)
}

/// A message member of the messages ZSET: `<seq>|<json>`.
fn parse_message(member: &str) -> Result<ChatMessage, EngineError> {
    let json = member
        .split_once('|')
        .map(|(_, json)| json)
        .ok_or_else(|| corrupt("malformed message entry"))?;
    serde_json::from_str(json).map_err(corrupt)
}

/// The commit script's reply.
enum Reply {
    Ok { epoch: String, first: u64, top: u64 },
    Conflict,
    Duplicate(Value),
}

fn parse_reply(parts: Vec<String>) -> Result<Reply, EngineError> {
    match parts.as_slice() {
        [status] if status == "conflict" => Ok(Reply::Conflict),
        [status, response] if status == "duplicate" => Ok(Reply::Duplicate(
            serde_json::from_str(response).map_err(internal)?,
        )),
        [status, epoch, first, top] if status == "ok" => Ok(Reply::Ok {
            epoch: epoch.clone(),
            first: first.parse().map_err(internal)?,
            top: top.parse().map_err(internal)?,
        }),
        _ => Err(internal(format!("unexpected commit reply {parts:?}"))),
    }
}

impl RedisEngine {
    async fn record_fields(
        &self,
        keys: &SessionKeys,
    ) -> Result<(Option<String>, Option<String>, Option<String>), EngineError> {
        let mut conn = self.conn().await?;
        run(::redis::cmd("HMGET")
            .arg(&keys.record)
            .arg("r")
            .arg("t")
            .arg("v")
            .query_async(&mut conn))
        .await
    }
}

#[async_trait]
impl SessionStore for RedisEngine {
    async fn load(&self, id: Uuid) -> Result<Option<SessionRecord>, EngineError> {
        let keys = self.keys().session(id);
        let (record, activity, _) = self.record_fields(&keys).await?;
        record
            .map(|json| parse_record(&json, activity.as_deref()))
            .transpose()
    }

    async fn snapshot(&self, id: Uuid, messages: usize) -> Result<Option<Snapshot>, EngineError> {
        let keys = self.keys().session(id);
        let mut conn = self.conn().await?;
        let mut invocation = self.inner.scripts.snapshot.key(&keys.record);
        invocation
            .key(&keys.messages)
            .key(&keys.channel.meta)
            .arg(messages)
            .arg(candidate_epoch());
        let reply: ::redis::Value = run(invocation.invoke_async(&mut conn)).await?;
        if matches!(&reply, ::redis::Value::Array(items) if items.is_empty()) {
            return Ok(None);
        }
        let (json, activity, epoch, top, members): (String, String, String, u64, Vec<String>) =
            ::redis::from_redis_value(reply).map_err(internal)?;
        let mut messages = members
            .iter()
            .map(|m| parse_message(m))
            .collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(Some(Snapshot {
            record: parse_record(&json, Some(&activity))?,
            messages,
            position: StreamPosition { offset: top, epoch },
        }))
    }

    async fn commit(&self, commit: Commit) -> Result<CommitOutcome, EngineError> {
        let Commit {
            mut record,
            messages,
            events,
            idempotency,
            expect_activity_at_most,
            members_before,
        } = commit;
        let id = record.session.id;
        let keys = self.keys().session(id);
        let read_version = record.version;
        let mut conn = self.conn().await?;
        // Either way the script's version check makes this consistent: the
        // collaborators set changes only with the version.
        let old_users: Vec<String> = match members_before {
            Some(members) => members,
            None => {
                run(::redis::cmd("SMEMBERS")
                    .arg(&keys.users)
                    .query_async(&mut conn))
                .await?
            }
        };
        let users: BTreeSet<String> = record
            .session
            .collaborators
            .iter()
            .map(|c| c.user_id.clone())
            .collect();
        let removed: Vec<String> = old_users
            .into_iter()
            .filter(|u| !users.contains(u))
            .collect();
        record.version = read_version + 1;
        let record_json = serde_json::to_string(&record).map_err(internal)?;
        let activity = record.session.last_activity_at;
        let mission_id = record
            .mission
            .as_ref()
            .map(|m| m.id.to_string())
            .unwrap_or_default();
        let (idem_key, idem_mode, idem_body) = match &idempotency {
            Some((key, response)) if response.is_object() => {
                (key.clone(), "o", rest_without_offset(response)?)
            }
            Some((key, response)) => (
                key.clone(),
                "r",
                serde_json::to_string(response).map_err(internal)?,
            ),
            None => (String::new(), "r", String::new()),
        };
        let event_rests = events
            .iter()
            .map(|draft| rest_without_offset(&draft.clone().at_offset(0)))
            .collect::<Result<Vec<_>, _>>()?;

        let mut invocation = self.session_script(&self.inner.scripts.commit, &keys);
        if !self.inner.split {
            for user in users.iter().chain(removed.iter()) {
                invocation.key(self.keys().user_sessions(user));
            }
        }
        invocation
            .arg(read_version)
            .arg(record_json)
            .arg(millis(activity))
            .arg(candidate_epoch())
            .arg(self.inner.config.history_size)
            .arg(self.history_ttl_ms())
            .arg(&keys.channel.fanout)
            .arg(idem_key)
            .arg(idem_mode)
            .arg(idem_body)
            .arg(id.to_string())
            .arg(mission_id)
            .arg(events.len())
            .arg(messages.len())
            .arg(users.len())
            .arg(removed.len())
            .arg(rfc3339(activity))
            .arg(record.session.status.as_str())
            .arg(millis(record.session.updated_at))
            .arg(
                expect_activity_at_most
                    .map(|at| millis(at).to_string())
                    .unwrap_or_default(),
            )
            .arg(&record.session.owner);
        for user in users.iter().chain(removed.iter()) {
            invocation.arg(user);
        }
        for rest in &event_rests {
            invocation.arg(rest);
        }
        for message in &messages {
            if message.offset == 0 {
                invocation
                    .arg("z")
                    .arg(0)
                    .arg(rest_without_offset(message)?);
            } else {
                invocation
                    .arg("k")
                    .arg(message.offset)
                    .arg(serde_json::to_string(message).map_err(internal)?);
            }
        }
        let pending = if self.inner.split {
            Some(self.begin_index_update(id).await?)
        } else {
            None
        };
        let parts: Vec<String> = run(invocation.invoke_async(&mut conn)).await?;
        let reply = parse_reply(parts)?;
        if let Some(member) = pending {
            let changed = matches!(reply, Reply::Ok { .. });
            self.finish_index_update(id, member, changed).await;
        }
        if matches!(reply, Reply::Ok { .. }) {
            self.wait_for_replicas(&keys.record).await;
        }
        match reply {
            Reply::Conflict => Ok(CommitOutcome::Conflict),
            Reply::Duplicate(response) => Ok(CommitOutcome::Duplicate(response)),
            Reply::Ok { epoch, first, top } => {
                let events = events
                    .into_iter()
                    .zip(first..)
                    .map(|(draft, offset)| draft.at_offset(offset))
                    .collect();
                Ok(CommitOutcome::Committed {
                    events,
                    position: StreamPosition { offset: top, epoch },
                })
            }
        }
    }

    async fn messages(
        &self,
        id: Uuid,
        range: MessageRange,
    ) -> Result<Vec<ChatMessage>, EngineError> {
        if range.limit == 0 {
            return Ok(Vec::new());
        }
        let keys = self.keys().session(id);
        let mut conn = self.conn().await?;
        let oldest_first = range.after.is_some() && range.before.is_none();
        let members: Vec<String> = if oldest_first {
            let after = range.after.unwrap_or_default();
            run(::redis::cmd("ZRANGEBYSCORE")
                .arg(&keys.messages)
                .arg(format!("({after}"))
                .arg("+inf")
                .arg("LIMIT")
                .arg(0)
                .arg(count_arg(range.limit))
                .query_async(&mut conn))
            .await?
        } else {
            let max = range
                .before
                .map_or_else(|| "+inf".to_owned(), |b| format!("({b}"));
            let min = range
                .after
                .map_or_else(|| "-inf".to_owned(), |a| format!("({a}"));
            run(::redis::cmd("ZREVRANGEBYSCORE")
                .arg(&keys.messages)
                .arg(max)
                .arg(min)
                .arg("LIMIT")
                .arg(0)
                .arg(count_arg(range.limit))
                .query_async(&mut conn))
            .await?
        };
        let mut messages = members
            .iter()
            .map(|m| parse_message(m))
            .collect::<Result<Vec<_>, _>>()?;
        if !oldest_first {
            messages.reverse();
        }
        Ok(messages)
    }

    async fn events(&self, id: Uuid, from: u64, limit: usize) -> Result<Vec<Event>, EngineError> {
        let keys = self.keys().session(id);
        let mut conn = self.conn().await?;
        let mut invocation = self.inner.scripts.events.key(&keys.events);
        invocation.arg(from).arg(count_arg(limit));
        let entries: Vec<String> = run(invocation.invoke_async(&mut conn)).await?;
        let mut events = Vec::with_capacity(entries.len());
        for entry in entries {
            let event: Event = serde_json::from_str(&entry).map_err(corrupt)?;
            if event.offset >= from {
                events.push(event);
            }
        }
        events.truncate(limit);
        Ok(events)
    }

    async fn listed_sessions(&self, user: &str) -> Result<usize, EngineError> {
        let mut conn = self.conn().await?;
        run(::redis::cmd("SCARD")
            .arg(self.keys().user_sessions(user))
            .query_async(&mut conn))
        .await
    }

    async fn sessions_of(&self, user: &str) -> Result<Vec<Session>, EngineError> {
        let mut conn = self.conn().await?;
        let members: Vec<String> = run(::redis::cmd("SMEMBERS")
            .arg(self.keys().user_sessions(user))
            .query_async(&mut conn))
        .await?;
        let ids: Vec<Uuid> = members
            .iter()
            .filter_map(|id| Uuid::parse_str(id).ok())
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(Option<String>, Option<String>)> = if self.inner.split {
            // Records live in many slots: one read each, all at once.
            futures_util::future::try_join_all(ids.iter().map(|id| {
                let mut conn = conn.clone();
                let mut cmd = ::redis::cmd("HMGET");
                cmd.arg(self.keys().session(*id).record).arg("r").arg("t");
                async move { run(cmd.query_async(&mut conn)).await }
            }))
            .await?
        } else {
            let mut pipe = ::redis::pipe();
            for id in &ids {
                pipe.cmd("HMGET")
                    .arg(self.keys().session(*id).record)
                    .arg("r")
                    .arg("t");
            }
            run(pipe.query_async(&mut conn)).await?
        };
        let mut sessions = Vec::new();
        for (id, (json, activity)) in ids.iter().zip(rows) {
            let Some(json) = json else { continue };
            match parse_record(&json, activity.as_deref()) {
                Ok(record) if record.session.role_of(user).is_some() => {
                    sessions.push(record.session)
                }
                Ok(_) => {}
                // One undecodable record must not hide the user's other sessions.
                Err(err) => {
                    tracing::error!(session = %id, error = %err, "skipping a session that cannot be decoded")
                }
            }
        }
        Ok(sessions)
    }

    async fn touch(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, EngineError> {
        let keys = self.keys().session(id);
        let mut conn = self.conn().await?;
        let mut invocation = self.inner.scripts.touch.key(&keys.record);
        if self.inner.split {
            invocation
                .arg(millis(at))
                .arg(id.to_string())
                .arg(rfc3339(at));
            let reply: ::redis::Value = run(invocation.invoke_async(&mut conn)).await?;
            if matches!(reply, ::redis::Value::Int(0)) {
                return Ok(false);
            }
            let parts: Vec<String> = ::redis::from_redis_value(reply).map_err(internal)?;
            if let [_, status, since] = parts.as_slice() {
                self.raise_activity(id, millis(at), status, since).await?;
            }
            return Ok(true);
        }
        invocation.key(self.keys().activity());
        for idle in self.keys().idle_all() {
            invocation.key(idle);
        }
        invocation
            .arg(millis(at))
            .arg(id.to_string())
            .arg(rfc3339(at));
        let found: i64 = run(invocation.invoke_async(&mut conn)).await?;
        Ok(found == 1)
    }

    async fn delete(&self, id: Uuid, farewell: EventDraft) -> Result<bool, EngineError> {
        let keys = self.keys().session(id);
        let rest = rest_without_offset(&farewell.at_offset(0))?;
        for _ in 0..DELETE_ATTEMPTS {
            // Read without decoding the record, so an undecodable one can go too.
            let mut conn = self.conn().await?;
            let (version, mission, json): (Option<String>, Option<String>, Option<String>) =
                run(::redis::cmd("HMGET")
                    .arg(&keys.record)
                    .arg("v")
                    .arg("m")
                    .arg("r")
                    .query_async(&mut conn))
                .await?;
            let Some(version) = version else {
                return Ok(false);
            };
            // Records written before the `m` field: the mission id from the record.
            let mission = mission.unwrap_or_else(|| {
                json.and_then(|j| parse_record(&j, None).ok())
                    .and_then(|r| r.mission)
                    .map(|m| m.id.to_string())
                    .unwrap_or_default()
            });
            let users: Vec<String> = run(::redis::cmd("SMEMBERS")
                .arg(&keys.users)
                .query_async(&mut conn))
            .await?;
            let mut invocation = self.session_script(&self.inner.scripts.delete, &keys);
            if self.inner.split {
                invocation.key(&keys.tomb);
            } else {
                for user in &users {
                    invocation.key(self.keys().user_sessions(user));
                }
            }
            invocation
                .arg(version)
                .arg(candidate_epoch())
                .arg(self.inner.config.history_size)
                .arg(self.history_ttl_ms())
                .arg(&keys.channel.fanout)
                .arg(id.to_string())
                .arg(mission)
                .arg(&rest)
                .arg(super::millis(super::indexes::TOMB_TTL));
            let pending = if self.inner.split {
                Some(self.begin_index_update(id).await?)
            } else {
                None
            };
            let outcome: i64 = run(invocation.invoke_async(&mut conn)).await?;
            if let Some(member) = pending {
                self.finish_index_update(id, member, outcome == 1).await;
            }
            match outcome {
                1 => {
                    self.wait_for_replicas(&keys.record).await;
                    return Ok(true);
                }
                0 => return Ok(false),
                _ => continue,
            }
        }
        Err(EngineError::Unavailable(
            "session kept changing while being deleted".into(),
        ))
    }

    async fn members(&self, id: Uuid) -> Result<Option<(String, Vec<String>)>, EngineError> {
        let keys = self.keys().session(id);
        let mut conn = self.conn().await?;
        let (owner, json): (Option<String>, Option<String>) = run(::redis::cmd("HMGET")
            .arg(&keys.record)
            .arg("o")
            .arg("r")
            .query_async(&mut conn))
        .await?;
        // Records written before the `o` field: the owner from the record.
        let owner = match (owner, json) {
            (Some(owner), _) => owner,
            (None, Some(json)) => match parse_record(&json, None) {
                Ok(record) => record.session.owner,
                Err(_) => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        let users: Vec<String> = run(::redis::cmd("SMEMBERS")
            .arg(&keys.users)
            .query_async(&mut conn))
        .await?;
        Ok(Some((owner, users)))
    }

    async fn put_mission(&self, mission: Mission) -> Result<(), EngineError> {
        let json = serde_json::to_string(&mission).map_err(internal)?;
        let mut conn = self.conn().await?;
        run(::redis::cmd("HSET")
            .arg(self.keys().unlinked_missions())
            .arg(mission.id.to_string())
            .arg(json)
            .query_async::<()>(&mut conn))
        .await
    }

    async fn mission(&self, id: Uuid) -> Result<Option<(Mission, Option<Uuid>)>, EngineError> {
        let mut conn = self.conn().await?;
        let linked: Option<String> = run(::redis::cmd("HGET")
            .arg(self.keys().linked_missions())
            .arg(id.to_string())
            .query_async(&mut conn))
        .await?;
        if let Some(session_id) = linked.and_then(|s| Uuid::parse_str(&s).ok()) {
            if let Some(record) = self.load(session_id).await? {
                if let Some(mission) = record.mission.filter(|m| m.id == id) {
                    return Ok(Some((mission, Some(session_id))));
                }
            }
        }
        let unlinked: Option<String> = run(::redis::cmd("HGET")
            .arg(self.keys().unlinked_missions())
            .arg(id.to_string())
            .query_async(&mut conn))
        .await?;
        unlinked
            .map(|json| {
                serde_json::from_str::<Mission>(&json)
                    .map(|m| (m, None))
                    .map_err(internal)
            })
            .transpose()
    }

    async fn remove_unlinked_mission(&self, id: Uuid) -> Result<(), EngineError> {
        let mut conn = self.conn().await?;
        run(::redis::cmd("HDEL")
            .arg(self.keys().unlinked_missions())
            .arg(id.to_string())
            .query_async::<()>(&mut conn))
        .await
    }

    async fn due_sessions(
        &self,
        status: SessionStatus,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Uuid>, EngineError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let ids: Vec<String> = run(::redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys().idle(status))
            .arg("-inf")
            .arg(millis(before))
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut conn))
        .await?;
        ids.iter()
            .map(|id| Uuid::parse_str(id).map_err(internal))
            .collect()
    }
}

impl RedisEngine {
    /// Touch on a cluster: raises the activity and idle entries that exist
    /// (`XX GT`: never adds one, never lowers one).
    async fn raise_activity(
        &self,
        id: Uuid,
        at: i64,
        status: &str,
        since: &str,
    ) -> Result<(), EngineError> {
        let sid = id.to_string();
        let conn = self.conn().await?;
        let mut activity = ::redis::cmd("ZADD");
        activity
            .arg(self.keys().activity())
            .arg("XX")
            .arg("GT")
            .arg(at)
            .arg(&sid);
        let mut cmds = vec![activity];
        let status = [
            SessionStatus::Active,
            SessionStatus::Completed,
            SessionStatus::Abandoned,
            SessionStatus::Archived,
        ]
        .into_iter()
        .find(|s| s.as_str() == status);
        if let Some(status) = status {
            let mut idle = ::redis::cmd("ZADD");
            idle.arg(self.keys().idle(status))
                .arg("XX")
                .arg("GT")
                .arg(since)
                .arg(&sid);
            cmds.push(idle);
        }
        futures_util::future::try_join_all(cmds.into_iter().map(|c| {
            let mut conn = conn.clone();
            async move { run(c.query_async::<::redis::Value>(&mut conn)).await }
        }))
        .await?;
        Ok(())
    }

    /// Starts a call of `script` with the keys the commit and delete scripts
    /// share, in their order: KEYS 1–9 (record, stream, meta, event log,
    /// messages, idempotency, collaborators, activity, linked missions), then
    /// the idle index sets. Callers append the user index sets. On a cluster:
    /// KEYS 1–7 and the removed-users set, all in the session's slot.
    fn session_script<'a>(
        &'a self,
        script: &'a redis::Script,
        keys: &'a SessionKeys,
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.key(&keys.record);
        invocation
            .key(&keys.channel.stream)
            .key(&keys.channel.meta)
            .key(&keys.events)
            .key(&keys.messages)
            .key(&keys.idempotency)
            .key(&keys.users);
        if self.inner.split {
            // One slot only: the removed-users set; the indexes follow the step.
            invocation.key(&keys.gone);
            return invocation;
        }
        invocation
            .key(self.keys().activity())
            .key(self.keys().linked_missions());
        for idle in self.keys().idle_all() {
            invocation.key(idle);
        }
        invocation
    }
}
