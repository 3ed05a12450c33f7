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

use super::broadcast::Broadcast;
use super::client::ClientHandle;
use crate::engine::Publication;
use crate::protocol::Disconnect;

enum State {
    Pending(Vec<Publication>),
    /// Delivering live; `last` is the newest offset the client has been given.
    Live {
        last: u64,
    },
}

/// What became of one publication for one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued (or buffered while pending).
    Queued,
    /// Not for this subscriber (already had it, or it is being replaced).
    Skipped,
    /// It skips offsets this subscriber never got: it must recover.
    Gap,
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

    /// Delivers a publication whose push is already encoded. Returns
    /// [`Delivery::Gap`] (and delivers nothing more) when the publication is
    /// not the next one this subscriber needs: it must resubscribe and recover.
    pub(super) fn deliver(&self, broadcast: &Broadcast<'_>) -> Delivery {
        let Some(publication) = broadcast.publication() else {
            return Delivery::Skipped;
        };
        if self.stale.load(Ordering::Acquire) {
            return Delivery::Skipped;
        }
        let mut state = self.lock();
        match &mut *state {
            State::Live { last } => {
                if publication.offset != 0 {
                    // With a remote engine a live publication can arrive after the
                    // history read already handed it over: never give it twice.
                    if publication.offset <= *last {
                        return Delivery::Skipped;
                    }
                    // Never jump over a publication the client has not had.
                    if publication.offset > *last + 1 {
                        self.mark_stale();
                        return Delivery::Gap;
                    }
                    *last = publication.offset;
                }
                if let Some(frame) = broadcast.frame(self.client.codec()) {
                    self.client.outbox().enqueue(frame);
                }
                Delivery::Queued
            }
            State::Pending(buffer) => {
                if buffer.len() >= self.buffer_limit {
                    self.client.outbox().close(Disconnect::SLOW);
                } else {
                    buffer.push(publication.clone());
                }
                Delivery::Queued
            }
        }
    }

    /// Delivers a push that is only meaningful live (join/leave).
    pub(super) fn deliver_live(&self, broadcast: &Broadcast<'_>) {
        if matches!(*self.lock(), State::Live { .. }) {
            if let Some(frame) = broadcast.frame(self.client.codec()) {
                self.client.outbox().enqueue(frame);
            }
        }
    }

    /// Switches to live. `finish` gets the publications buffered while pending
    /// and returns the messages to queue first (the reply, then any pushes)
    /// with the newest offset they give the client; later publications at or
    /// below that offset are dropped as duplicates. An error closes the
    /// connection instead.
    pub fn activate(
        &self,
        finish: impl FnOnce(Vec<Publication>) -> Result<(Vec<Bytes>, u64), Disconnect>,
    ) {
        let mut state = self.lock();
        let buffered = match std::mem::replace(&mut *state, State::Live { last: 0 }) {
            State::Pending(buffer) => buffer,
            State::Live { .. } => Vec::new(),
        };
        match finish(buffered) {
            Ok((messages, last)) => {
                *state = State::Live { last };
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

impl Merged {
    /// The newest offset the client has once it got the reply and the pushes,
    /// starting from `from`.
    pub fn last_offset(&self, from: u64) -> u64 {
        self.in_reply
            .iter()
            .chain(&self.after_reply)
            .map(|p| p.offset)
            .fold(from, u64::max)
    }
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
    use crate::engine::{ClientInfo, Payload};
    use crate::hub::broadcast::Item;
    use crate::hub::client::Outbox;
    use crate::protocol::Codec;

    fn p(offset: u64) -> Publication {
        Publication {
            offset,
            ..Publication::of(Payload::from_json(&offset).unwrap())
        }
    }
    fn offsets(v: &[Publication]) -> Vec<u64> {
        v.iter().map(|p| p.offset).collect()
    }

    fn subscriber() -> (Subscriber, crate::hub::OutboxReceiver) {
        let (outbox, rx, _control) = Outbox::new(16, usize::MAX);
        let info = ClientInfo {
            user: "u".into(),
            client: "c".into(),
            conn_info: None,
            chan_info: None,
        };
        let client = ClientHandle::new(info, outbox, Codec::Json);
        (Subscriber::new(client, false, 16), rx)
    }

    fn deliver(sub: &Subscriber, offset: u64) -> Delivery {
        let publication = p(offset);
        sub.deliver(&Broadcast::new("ch", Item::Publication(&publication)))
    }

    /// The offsets of the pushes queued, and the other messages as text.
    fn received(rx: &mut crate::hub::OutboxReceiver) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|b| {
                let v: serde_json::Value = serde_json::from_slice(&b)
                    .unwrap_or_else(|_| serde_json::json!(String::from_utf8_lossy(&b)));
                match v["push"]["pub"]["offset"].as_u64() {
                    Some(offset) => offset.to_string(),
                    None => v.as_str().unwrap_or_default().to_owned(),
                }
            })
            .collect()
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
    fn live_publications_already_handed_over_are_not_delivered_again() {
        let (sub, mut rx) = subscriber();
        // The reply recovered up to offset 98.
        sub.activate(|_| Ok((vec![Bytes::from_static(b"reply")], 98)));
        // A remote engine's fan-out delivers 98 late, then 99.
        assert_eq!(deliver(&sub, 98), Delivery::Skipped);
        assert_eq!(deliver(&sub, 99), Delivery::Queued);
        assert_eq!(received(&mut rx), vec!["reply", "99"]);
    }

    #[test]
    fn a_live_publication_past_a_hole_is_a_gap_and_stops_deliveries() {
        let (sub, mut rx) = subscriber();
        sub.activate(|_| Ok((Vec::new(), 10)));
        assert_eq!(deliver(&sub, 11), Delivery::Queued);
        assert_eq!(deliver(&sub, 13), Delivery::Gap);
        assert_eq!(deliver(&sub, 12), Delivery::Skipped);
        assert_eq!(received(&mut rx), vec!["11"]);
    }

    #[test]
    fn a_hole_asks_the_client_to_recover() {
        assert_eq!(
            merge(3, vec![p(4)], vec![p(6)], true),
            Err(Disconnect::INSUFFICIENT_STATE)
        );
    }
}
