//! Sessions in memory: one locked entry per session (record, messages, event
//! log, idempotency keys) and the indexes (user → sessions, mission → session).
//!
//! A commit holds its session's lock while it appends to the channel stream,
//! so the record, the event log and the stream advance together, and a
//! snapshot taken under the same lock is consistent with its stream position.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use dashmap::DashMap;
use serde_json::Value;
use uuid::Uuid;

use crate::sessions::model::{ChatMessage, Event, Mission, Session, SessionStatus, Timestamp};
use crate::sessions::store::{quiet_since, MessageRange, SessionRecord};

/// One session's stored state.
pub(super) struct Entry {
    pub(super) record: SessionRecord,
    pub(super) messages: Vec<ChatMessage>,
    pub(super) events: Vec<Event>,
    pub(super) idempotency: HashMap<String, Value>,
}

/// All sessions of the node.
#[derive(Default)]
pub(super) struct SessionTable {
    entries: DashMap<Uuid, Arc<Mutex<Entry>>>,
    by_user: DashMap<String, HashSet<Uuid>>,
    unlinked_missions: DashMap<Uuid, Mission>,
    mission_to_session: DashMap<Uuid, Uuid>,
    idle: Mutex<IdleIndex>,
}

/// The sweeper's index: per status, sessions ordered by the time they have
/// been quiet since ([`quiet_since`]). Updated under the session's entry lock
/// (entry lock first, then this one), so it always matches the record.
#[derive(Default)]
struct IdleIndex {
    by_status: HashMap<SessionStatus, BTreeSet<(Timestamp, Uuid)>>,
    current: HashMap<Uuid, (SessionStatus, Timestamp)>,
}

impl IdleIndex {
    fn set(&mut self, id: Uuid, status: SessionStatus, since: Timestamp) {
        if self.current.get(&id) == Some(&(status, since)) {
            return;
        }
        self.remove(id);
        self.by_status
            .entry(status)
            .or_default()
            .insert((since, id));
        self.current.insert(id, (status, since));
    }

    fn remove(&mut self, id: Uuid) {
        if let Some((status, since)) = self.current.remove(&id) {
            if let Some(set) = self.by_status.get_mut(&status) {
                set.remove(&(since, id));
            }
        }
    }
}

pub(super) fn lock(entry: &Mutex<Entry>) -> MutexGuard<'_, Entry> {
    entry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SessionTable {
    pub(super) fn get(&self, id: Uuid) -> Option<Arc<Mutex<Entry>>> {
        self.entries.get(&id).map(|e| e.clone())
    }

    /// The entry to commit into: existing, or a fresh one at version 0.
    pub(super) fn get_or_create(&self, record: &SessionRecord) -> Arc<Mutex<Entry>> {
        self.entries
            .entry(record.session.id)
            .or_insert_with(|| {
                Arc::new(Mutex::new(Entry {
                    record: SessionRecord {
                        version: 0,
                        ..record.clone()
                    },
                    messages: Vec::new(),
                    events: Vec::new(),
                    idempotency: HashMap::new(),
                }))
            })
            .clone()
    }

    /// Drops a created-but-never-committed entry (version 0).
    pub(super) fn forget_if_empty(&self, id: Uuid) {
        self.entries
            .remove_if(&id, |_, e| lock(e).record.version == 0);
    }

    /// Updates the indexes after `old` became `new`.
    pub(super) fn reindex(&self, old: Option<&SessionRecord>, new: &SessionRecord) {
        let id = new.session.id;
        let before: HashSet<&str> = old
            .filter(|o| o.version > 0)
            .map(|o| {
                o.session
                    .collaborators
                    .iter()
                    .map(|c| c.user_id.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let after: HashSet<&str> = new
            .session
            .collaborators
            .iter()
            .map(|c| c.user_id.as_str())
            .collect();
        for user in after.difference(&before) {
            self.by_user
                .entry((*user).to_owned())
                .or_default()
                .insert(id);
        }
        for user in before.difference(&after) {
            self.unindex_user(user, id);
        }
        if let Some(mission) = &new.mission {
            self.mission_to_session.insert(mission.id, id);
        }
    }

    fn idle(&self) -> MutexGuard<'_, IdleIndex> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Puts a stored record at its place in the sweeper's index (call with
    /// the entry locked).
    pub(super) fn index_idle(&self, record: &SessionRecord) {
        let session = &record.session;
        self.idle()
            .set(session.id, session.status, quiet_since(session));
    }

    /// Sessions with `status` quiet since `before` or earlier, oldest first.
    pub(super) fn due(&self, status: SessionStatus, before: Timestamp, limit: usize) -> Vec<Uuid> {
        let idle = self.idle();
        idle.by_status
            .get(&status)
            .map(|set| {
                set.iter()
                    .take_while(|(since, _)| *since <= before)
                    .take(limit)
                    .map(|(_, id)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn unindex_user(&self, user: &str, id: Uuid) {
        if let Some(mut set) = self.by_user.get_mut(user) {
            set.remove(&id);
        }
        self.by_user.remove_if(user, |_, set| set.is_empty());
    }

    pub(super) fn remove(&self, id: Uuid) -> Option<SessionRecord> {
        let (_, entry) = self.entries.remove(&id)?;
        let record = lock(&entry).record.clone();
        self.idle().remove(id);
        for c in &record.session.collaborators {
            self.unindex_user(&c.user_id, id);
        }
        if let Some(m) = &record.mission {
            self.mission_to_session.remove(&m.id);
        }
        Some(record)
    }

    pub(super) fn listed(&self, user: &str) -> usize {
        self.by_user.get(user).map_or(0, |s| s.len())
    }

    pub(super) fn sessions_of(&self, user: &str) -> Vec<Session> {
        let ids: Vec<Uuid> = self
            .by_user
            .get(user)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        ids.into_iter()
            .filter_map(|id| self.get(id))
            .map(|e| lock(&e).record.session.clone())
            .filter(|s| s.role_of(user).is_some())
            .collect()
    }

    pub(super) fn put_mission(&self, mission: Mission) {
        self.unlinked_missions.insert(mission.id, mission);
    }

    pub(super) fn remove_unlinked_mission(&self, id: Uuid) {
        self.unlinked_missions.remove(&id);
    }

    pub(super) fn mission(&self, id: Uuid) -> Option<(Mission, Option<Uuid>)> {
        if let Some(session_id) = self.mission_to_session.get(&id).map(|s| *s) {
            if let Some(entry) = self.get(session_id) {
                let e = lock(&entry);
                if let Some(m) = e.record.mission.as_ref().filter(|m| m.id == id) {
                    return Some((m.clone(), Some(session_id)));
                }
            }
        }
        self.unlinked_missions.get(&id).map(|m| (m.clone(), None))
    }
}

/// Messages of one entry within `range`, in offset order.
pub(super) fn select_messages(messages: &[ChatMessage], range: MessageRange) -> Vec<ChatMessage> {
    let matching = messages.iter().filter(|m| {
        range.before.is_none_or(|b| m.offset < b) && range.after.is_none_or(|a| m.offset > a)
    });
    if range.after.is_some() && range.before.is_none() {
        matching.take(range.limit).cloned().collect()
    } else {
        let mut newest: Vec<ChatMessage> = matching.rev().take(range.limit).cloned().collect();
        newest.reverse();
        newest
    }
}
