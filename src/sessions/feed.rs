//! The `session.activity` notice on collaborators' personal feeds: what a
//! session list needs to stay live (message count, last activity, the
//! latest offset and event) without subscribing to every session.
//!
//! Notices are ephemeral (no offset, not in history: a list refetches when
//! its feed resubscribes) and coalesced per session: at most one per
//! `interval`, and the latest state always goes out — a change inside the
//! interval is held and sent by [`SessionService::run_activity_feed`] when
//! the interval has passed.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::model::{Event, Session};
use super::service::SessionService;
use crate::channels;
use crate::engine::{Payload, Publication, PublishRequest};

/// Coalescing state of every session with recent activity on this node.
pub(super) struct ActivityFeed {
    interval: Duration,
    sessions: Mutex<HashMap<Uuid, Entry>>,
}

struct Entry {
    last_sent: Instant,
    held: Option<Notice>,
}

/// A notice and who gets it.
pub(super) struct Notice {
    members: Vec<String>,
    value: Value,
}

impl Notice {
    /// The notice for `session` after `last` was stored.
    pub(super) fn after(session: &Session, last: &Event) -> Self {
        Self {
            members: session
                .collaborators
                .iter()
                .map(|c| c.user_id.clone())
                .collect(),
            value: json!({
                "type": "session.activity",
                "session_id": session.id,
                "message_count": session.message_count,
                "last_activity_at": session.last_activity_at,
                "offset": last.offset,
                "actor": last.actor,
                "event": last.kind,
            }),
        }
    }
}

impl ActivityFeed {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            interval,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<Uuid, Entry>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a new notice: returns it when it may go out now, or holds it.
    fn offer(&self, id: Uuid, notice: Notice, now: Instant) -> Option<Notice> {
        let mut sessions = self.sessions();
        match sessions.get_mut(&id) {
            Some(entry) if now.duration_since(entry.last_sent) < self.interval => {
                entry.held = Some(notice);
                None
            }
            Some(entry) => {
                entry.last_sent = now;
                entry.held = None;
                Some(notice)
            }
            None => {
                sessions.insert(
                    id,
                    Entry {
                        last_sent: now,
                        held: None,
                    },
                );
                Some(notice)
            }
        }
    }

    /// Held notices whose interval has passed; forgets quiet sessions.
    fn due(&self, now: Instant) -> Vec<Notice> {
        let mut due = Vec::new();
        let interval = self.interval;
        self.sessions().retain(|_, entry| {
            let waited = now.duration_since(entry.last_sent);
            if waited >= interval {
                if let Some(notice) = entry.held.take() {
                    entry.last_sent = now;
                    due.push(notice);
                    return true;
                }
            }
            entry.held.is_some() || waited < interval * 10
        });
        due
    }
}

impl SessionService {
    /// Sends or holds the activity notice of a commit.
    pub(super) async fn activity_notice(&self, id: Uuid, notice: Notice) {
        let now = Instant::now();
        if let Some(notice) = self.inner.feed.offer(id, notice, now) {
            self.send_activity(notice).await;
        }
    }

    async fn send_activity(&self, notice: Notice) {
        let data = match Payload::from_json(&notice.value) {
            Ok(data) => data,
            Err(err) => {
                tracing::error!(error = %err, "activity notice not serialisable");
                return;
            }
        };
        for user in &notice.members {
            let request = PublishRequest {
                publication: Publication::of(data.clone()),
                history: false,
            };
            if let Err(err) = self.broker().publish(&channels::user(user), request).await {
                tracing::debug!(error = %err, %user, "activity notice lost");
            }
        }
    }

    /// Sends held activity notices once their interval has passed, until `stop`.
    pub async fn run_activity_feed(self, stop: CancellationToken) {
        let period = (self.inner.feed.interval / 4).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    for notice in self.inner.feed.due(Instant::now()) {
                        self.send_activity(notice).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(n: u64) -> Notice {
        Notice {
            members: vec!["alice".into()],
            value: json!({ "n": n }),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_notice_per_interval_and_the_latest_always_goes_out() {
        let feed = ActivityFeed::new(Duration::from_secs(1));
        let id = Uuid::now_v7();
        let start = Instant::now();
        assert!(
            feed.offer(id, notice(1), start).is_some(),
            "the first goes at once"
        );
        assert!(feed.offer(id, notice(2), start).is_none());
        assert!(feed
            .offer(id, notice(3), start + Duration::from_millis(500))
            .is_none());
        assert!(feed.due(start + Duration::from_millis(900)).is_empty());
        let due = feed.due(start + Duration::from_secs(1));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].value, json!({"n": 3}), "the latest state");
        assert!(feed.due(start + Duration::from_secs(3)).is_empty());
        // Quiet sessions are forgotten.
        feed.due(start + Duration::from_secs(60));
        assert!(feed.sessions().is_empty());
    }
}
