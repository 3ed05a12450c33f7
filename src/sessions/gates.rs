//! One writer at a time per session on this node.
//!
//! Every write is a compare-and-set on the session's version
//! (`SessionStore::commit`). Writers racing on one session all load the same
//! version, one commits and the others start again, so under a burst the work
//! per write grows with the number of writers, and on Redis (a round trip per
//! load and per commit) a busy session collapsed into retries and 503s. Writers
//! of this node therefore queue, in arrival order, on a gate per session;
//! writers on other nodes still meet the version check.
//!
//! The map holds a weak handle per session with a queue: an entry without
//! writers is dropped when the map next grows past [`SWEEP_AT`] entries since
//! the last sweep, so it never holds more than the sessions being written to
//! plus [`SWEEP_AT`]. The short std lock around the map is never held across an
//! `.await`; the gate itself is an async mutex, held across the commit — that
//! is what makes it a queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

/// Map size past which entries without writers are swept out.
const SWEEP_AT: usize = 1024;

#[derive(Default)]
pub(super) struct WriteGates {
    inner: Mutex<Gates>,
}

#[derive(Default)]
struct Gates {
    by_session: HashMap<Uuid, Weak<tokio::sync::Mutex<()>>>,
    swept_at_len: usize,
}

/// Held while a write to one session is in progress.
pub(super) type WriteTurn = OwnedMutexGuard<()>;

impl WriteGates {
    /// Waits for this node's earlier writers of `id` to finish.
    pub(super) async fn enter(&self, id: Uuid) -> WriteTurn {
        let gate = {
            let mut gates = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let existing = gates.by_session.get(&id).and_then(Weak::upgrade);
            match existing {
                Some(gate) => gate,
                None => {
                    let gate = Arc::new(tokio::sync::Mutex::new(()));
                    gates.by_session.insert(id, Arc::downgrade(&gate));
                    let len = gates.by_session.len();
                    if len >= gates.swept_at_len + SWEEP_AT {
                        gates.by_session.retain(|_, g| g.strong_count() > 0);
                        gates.swept_at_len = gates.by_session.len();
                    }
                    gate
                }
            }
        };
        gate.lock_owned().await
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_session
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn writers_of_one_session_take_turns_in_order() {
        let gates = Arc::new(WriteGates::default());
        let id = Uuid::new_v4();
        let first = gates.enter(id).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 0..3 {
            let (gates, order) = (gates.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = gates.enter(id).await;
                order.lock().unwrap_or_else(PoisonError::into_inner).push(n);
            }));
            // Let each queue up before the next.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Another session is not held up.
        let other = tokio::time::timeout(Duration::from_secs(1), gates.enter(Uuid::new_v4())).await;
        assert!(other.is_ok());
        assert!(order
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty());
        drop(first);
        for w in waiting {
            w.await.ok();
        }
        assert_eq!(
            *order.lock().unwrap_or_else(PoisonError::into_inner),
            vec![0, 1, 2]
        );
    }

    #[tokio::test]
    async fn idle_sessions_do_not_accumulate() {
        let gates = WriteGates::default();
        for _ in 0..5 * SWEEP_AT {
            drop(gates.enter(Uuid::new_v4()).await);
        }
        assert!(gates.len() <= SWEEP_AT + 1, "{} entries kept", gates.len());
    }
}
