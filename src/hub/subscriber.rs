//! One client's subscription to one channel, and the hand-over from
//! "subscribing" (live publications are buffered) to "live".
//!
//! A subscriber is registered in the hub *before* its history is read, so no
//! publication can fall between the history read and live delivery. While it
//! is pending, live publications are buffered; [`Subscriber::activate`] merges
//! them with what history returned (sorted, deduplicated by offset), queues the
//! subscribe reply and the remaining publications, and switches to live — all
//! under the subscriber's lock, so no live push can overtake the reply.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bytes::Bytes;

use super::client::ClientHandle;
use crate::protocol::reply::Publication;
use crate::protocol::Disconnect;

enum State {
    Pending(Vec<Publication>),
    Live,
}

/// A client subscribed to a channel.
pub struct Subscriber {
    client: ClientHandle,
    join_leave: bool,
    /// Most publications buffered while pending before the client counts as slow.
    buffer_limit: usize,
    state: Mutex<State>,
    /// Set when the node may have missed publications of the channel: the
    /// client is being told to resubscribe and recover, and must not receive
    /// later publications first (its position would jump over the missing ones).
    stale: AtomicBool,
}

impl Subscriber {
    pub(super) fn new(client: ClientHandle, join_leave: bool, buffer_limit: usize) -> Self {
        Self {
            client,
            join_leave,
            buffer_limit,
            state: Mutex::new(State::Pending(Vec::new())),
            stale: AtomicBool::new(false),
        }
    }

    /// The subscribed client.
    pub fn client(&self) -> &ClientHandle {
        &self.client
    }

    /// Whether join/leave pushes go to this subscriber.
    pub fn wants_join_leave(&self) -> bool {
        self.join_leave
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stops deliveries of publications to this subscriber for good (it is
    /// being replaced by a recovering resubscribe).
    pub(super) fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// Delivers a publication whose push is already encoded.
    pub(super) fn deliver(&self, publication: &Publication, push: &Bytes) {
        if self.stale.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.lock();
        match &mut *state {
            State::Live => {
                self.client.outbox().enqueue(push.clone());
            }
            State::Pending(buffer) => {
                if buffer.len() >= self.buffer_limit {
                    self.client.outbox().close(Disconnect::SLOW);
                } else {
                    buffer.push(publication.clone());
                }
            }
        }
    }

    /// Delivers a push that is only meaningful live (join/leave).
    pub(super) fn deliver_live(&self, push: &Bytes) {
        if matches!(*self.lock(), State::Live) {
            self.client.outbox().enqueue(push.clone());
        }
    }

    /// Switches to live. `finish` gets the publications buffered while pending
    /// and returns the messages to queue first (the reply, then any pushes);
    /// an error closes the connection instead.
    pub fn activate(
        &self,
        finish: impl FnOnce(Vec<Publication>) -> Result<Vec<Bytes>, Disconnect>,
    ) {
        let mut state = self.lock();
        let buffered = match std::mem::replace(&mut *state, State::Live) {
            State::Pending(buffer) => buffer,
            State::Live => Vec::new(),
        };
        match finish(buffered) {
            Ok(messages) => {
                self.client.outbox().enqueue_all(messages);
            }
            Err(disconnect) => self.client.outbox().close(disconnect),
        }
    }
}

/// What a subscribe reply carries once buffered live publications are merged in.
#[derive(Debug, PartialEq)]
pub struct Merged {
    /// Publications for the reply (recovery) in offset order.
    pub in_reply: Vec<Publication>,
    /// Publications to push after the reply, in offset order.
    pub after_reply: Vec<Publication>,
}

/// Merges what history returned with what arrived live meanwhile.
///
/// `from` is the last offset the client will have seen before the reply's
/// publications (its recovery offset, or the stream top for a plain
/// subscribe). With `recovering`, everything after `from` goes in the reply
/// (the protocol emits recovered publications right after `subscribed`);
/// otherwise the live ones past `from` are pushed after the reply. A hole in
/// the offsets means a publication went missing: the client must reconnect and
/// recover (3010).
pub fn merge(
    from: u64,
    recovered: Vec<Publication>,
    buffered: Vec<Publication>,
    recovering: bool,
) -> Result<Merged, Disconnect> {
    let mut all: Vec<Publication> = recovered
        .into_iter()
        .chain(buffered)
        .filter(|p| p.offset == 0 || p.offset > from)
        .collect();
    all.sort_by_key(|p| p.offset);
    all.dedup_by(|a, b| a.offset != 0 && a.offset == b.offset);
    let positioned = all.iter().filter(|p| p.offset != 0);
    if positioned
        .zip(from + 1..)
        .any(|(p, expected)| p.offset != expected)
    {
        return Err(Disconnect::INSUFFICIENT_STATE);
    }
    Ok(if recovering {
        Merged {
            in_reply: all,
            after_reply: Vec::new(),
        }
    } else {
        Merged {
            in_reply: Vec::new(),
            after_reply: all,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Json;

    fn p(offset: u64) -> Publication {
        Publication {
            data: Json::from_value(&offset).unwrap(),
            info: None,
            offset,
            tags: None,
        }
    }
    fn offsets(v: &[Publication]) -> Vec<u64> {
        v.iter().map(|p| p.offset).collect()
    }

    #[test]
    fn merge_dedupes_and_orders() {
        let m = merge(3, vec![p(4), p(5), p(6)], vec![p(6), p(7), p(5)], true).unwrap();
        assert_eq!(offsets(&m.in_reply), vec![4, 5, 6, 7]);
        assert!(m.after_reply.is_empty());
    }

    #[test]
    fn plain_subscribe_pushes_newer_live_publications_after_the_reply() {
        let m = merge(10, vec![], vec![p(10), p(11), p(12)], false).unwrap();
        assert!(m.in_reply.is_empty());
        assert_eq!(offsets(&m.after_reply), vec![11, 12]);
    }

    #[test]
    fn a_hole_asks_the_client_to_recover() {
        assert_eq!(
            merge(3, vec![p(4)], vec![p(6)], true),
            Err(Disconnect::INSUFFICIENT_STATE)
        );
    }
}
