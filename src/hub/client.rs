//! The hub's side of one connection: its bounded outbound queue and its close switch.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::engine::ClientInfo;
use crate::protocol::{Codec, Disconnect};

/// Where a connection's outgoing messages go: a bounded queue drained by the
/// connection's writer task, plus the one switch that closes the connection.
///
/// Nothing that sends to a client ever waits: [`Outbox::enqueue`] uses
/// `try_send`, and a full queue closes the connection with 3008 (slow), so a
/// client that cannot keep up never delays the publisher or anyone else. The
/// queue is bounded twice: in messages, and in bytes (the bytes of the frames
/// waiting, shared frames counted in full, since a slow client keeps them
/// alive after everyone else has sent them). A message always fits into an
/// empty queue, so one large reply never closes a client that keeps up.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<OutboxInner>,
}

/// Orders from the hub that the connection itself must carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// End the subscription to `channel`: tell the client why, then leave the channel.
    Unsubscribe {
        /// The channel.
        channel: String,
        /// Why.
        reason: Unsubscribed,
    },
}

/// Why the server ends a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribed {
    /// Access was revoked (or the channel deleted): stay unsubscribed.
    Revoked,
    /// The node may have missed publications: resubscribe and recover.
    InsufficientState,
}

/// Most control orders waiting per connection.
const CONTROL_QUEUE: usize = 64;

struct OutboxInner {
    tx: mpsc::Sender<Bytes>,
    control: Arc<ControlInner>,
    closed: CancellationToken,
    /// Set once, by whoever closes first; the writer sends it as the close frame.
    disconnect: OnceLock<Disconnect>,
    /// Messages dropped because the connection was already closing.
    dropped: AtomicU64,
    /// Bytes of the messages waiting in `tx`.
    queued_bytes: AtomicUsize,
    /// Most bytes waiting before the connection counts as slow.
    max_bytes: usize,
}

/// The writer's end of an outbox: messages in order, their bytes released
/// from the budget as they are taken.
pub struct OutboxReceiver {
    rx: mpsc::Receiver<Bytes>,
    outbox: Arc<OutboxInner>,
}

impl OutboxReceiver {
    /// The next message, waiting for one; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Bytes> {
        let message = self.rx.recv().await?;
        self.taken(&message);
        Some(message)
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Result<Bytes, mpsc::error::TryRecvError> {
        let message = self.rx.try_recv()?;
        self.taken(&message);
        Ok(message)
    }

    fn taken(&self, message: &Bytes) {
        self.outbox
            .queued_bytes
            .fetch_sub(message.len(), Ordering::AcqRel);
    }
}

/// The connection's end of its control queue: orders are rare, so it is a
/// plain queue and a wake-up (allocated on first use), not a channel whose
/// first block every idle connection would carry.
pub struct ControlQueue {
    inner: Arc<ControlInner>,
}

#[derive(Default)]
struct ControlInner {
    queue: Mutex<VecDeque<Control>>,
    ready: Notify,
}

impl ControlInner {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Control>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ControlQueue {
    /// The next order, waiting for one (always `Some`: the outbox outlives it).
    pub async fn recv(&mut self) -> Option<Control> {
        loop {
            if let Some(order) = self.try_recv() {
                return Some(order);
            }
            self.inner.ready.notified().await;
        }
    }

    /// The next order, if one is waiting.
    pub fn try_recv(&mut self) -> Option<Control> {
        self.inner.queue().pop_front()
    }
}

impl Outbox {
    /// A new outbox with room for `capacity` messages of at most `max_bytes`
    /// bytes in all; returns the writer's end and the connection's end of
    /// the control queue.
    pub fn new(capacity: usize, max_bytes: usize) -> (Self, OutboxReceiver, ControlQueue) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let control = Arc::new(ControlInner::default());
        let control_rx = ControlQueue {
            inner: control.clone(),
        };
        let outbox = Self {
            inner: Arc::new(OutboxInner {
                tx,
                control,
                closed: CancellationToken::new(),
                disconnect: OnceLock::new(),
                dropped: AtomicU64::new(0),
                queued_bytes: AtomicUsize::new(0),
                max_bytes,
            }),
        };
        let rx = OutboxReceiver {
            rx,
            outbox: outbox.inner.clone(),
        };
        (outbox, rx, control_rx)
    }

    /// Hands an order to the connection. A connection that cannot take it is
    /// closed with 3010 (it reconnects and its state is rebuilt from scratch).
    pub fn control(&self, order: Control) {
        {
            let mut queue = self.inner.control.queue();
            if queue.len() >= CONTROL_QUEUE {
                drop(queue);
                self.close(Disconnect::INSUFFICIENT_STATE);
                return;
            }
            queue.push_back(order);
        }
        self.inner.control.ready.notify_one();
    }

    /// Queues one message. Returns false (and closes the connection as slow)
    /// when the queue is full, or false when the connection is already closing.
    pub fn enqueue(&self, message: Bytes) -> bool {
        if self.is_closed() {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let len = message.len();
        let before = self.inner.queued_bytes.fetch_add(len, Ordering::AcqRel);
        if before > 0 && before + len > self.inner.max_bytes {
            self.inner.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            self.close(Disconnect::SLOW);
            return false;
        }
        match self.inner.tx.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.inner.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                self.close(Disconnect::SLOW);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.inner.queued_bytes.fetch_sub(len, Ordering::AcqRel);
                self.close(Disconnect::WRITE_ERROR);
                false
            }
        }
    }

    /// Queues several messages, all or (when the queue fills) none further.
    pub fn enqueue_all(&self, messages: impl IntoIterator<Item = Bytes>) -> bool {
        messages.into_iter().all(|m| self.enqueue(m))
    }

    /// Closes the connection with `disconnect`; the first reason given wins.
    pub fn close(&self, disconnect: Disconnect) {
        let _ = self.inner.disconnect.set(disconnect);
        self.inner.closed.cancel();
    }

    /// Marks the connection as closing without a reason (the peer went away).
    pub fn close_quietly(&self) {
        self.inner.closed.cancel();
    }

    /// Whether the connection is closing.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Resolves once the connection is closing.
    pub fn closed(&self) -> WaitForCancellationFuture<'_> {
        self.inner.closed.cancelled()
    }

    /// Why the connection was closed, if it was.
    pub fn disconnect(&self) -> Option<Disconnect> {
        self.inner.disconnect.get().copied()
    }
}

/// A connected, authenticated client as the hub sees it. Cheap to clone.
#[derive(Clone)]
pub struct ClientHandle {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    info: ClientInfo,
    outbox: Outbox,
    codec: Codec,
}

impl ClientHandle {
    /// A handle for the client `info` speaking `codec`, writing to `outbox`.
    pub fn new(info: ClientInfo, outbox: Outbox, codec: Codec) -> Self {
        Self {
            inner: Arc::new(ClientInner {
                info,
                outbox,
                codec,
            }),
        }
    }

    /// The codec the client speaks.
    pub fn codec(&self) -> Codec {
        self.inner.codec
    }

    /// Connection id.
    pub fn id(&self) -> &str {
        &self.inner.info.client
    }

    /// User id.
    pub fn user(&self) -> &str {
        &self.inner.info.user
    }

    /// The client's info as shown in presence and publications.
    pub fn info(&self) -> &ClientInfo {
        &self.inner.info
    }

    /// The client's outbound queue.
    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_over_its_byte_budget_closes_as_slow() {
        let (outbox, mut rx, _control) = Outbox::new(100, 10);
        // One message larger than the budget fits into an empty queue.
        assert!(outbox.enqueue(Bytes::from_static(b"0123456789abc")));
        assert_eq!(rx.try_recv().ok().map(|m| m.len()), Some(13));
        assert!(outbox.enqueue(Bytes::from_static(b"12345")));
        assert!(outbox.enqueue(Bytes::from_static(b"12345")));
        // Taking one frees its bytes.
        assert!(rx.try_recv().is_ok());
        assert!(outbox.enqueue(Bytes::from_static(b"12345")));
        assert!(!outbox.is_closed());
        // 10 bytes wait: one more byte is over the budget.
        assert!(!outbox.enqueue(Bytes::from_static(b"x")));
        assert_eq!(outbox.disconnect(), Some(Disconnect::SLOW));
    }

    #[test]
    fn a_full_queue_closes_as_slow() {
        let (outbox, _rx, _control) = Outbox::new(2, usize::MAX);
        assert!(outbox.enqueue(Bytes::from_static(b"1")));
        assert!(outbox.enqueue(Bytes::from_static(b"2")));
        assert!(!outbox.enqueue(Bytes::from_static(b"3")));
        assert!(outbox.is_closed());
        assert_eq!(outbox.disconnect(), Some(Disconnect::SLOW));
        // The first reason stays.
        outbox.close(Disconnect::SHUTDOWN);
        assert_eq!(outbox.disconnect(), Some(Disconnect::SLOW));
    }

    fn order(n: usize) -> Control {
        Control::Unsubscribe {
            channel: format!("c{n}"),
            reason: Unsubscribed::Revoked,
        }
    }

    #[tokio::test]
    async fn control_orders_arrive_in_order_and_wake_the_connection() {
        let (outbox, _rx, mut control) = Outbox::new(2, usize::MAX);
        let waiter = tokio::spawn(async move {
            let first = control.recv().await;
            let second = control.recv().await;
            (first, second)
        });
        tokio::task::yield_now().await;
        outbox.control(order(1));
        outbox.control(order(2));
        let (first, second) = waiter.await.unwrap_or((None, None));
        assert_eq!(first, Some(order(1)));
        assert_eq!(second, Some(order(2)));
    }

    #[test]
    fn a_connection_that_takes_no_orders_is_closed() {
        let (outbox, _rx, _control) = Outbox::new(2, usize::MAX);
        for n in 0..CONTROL_QUEUE {
            outbox.control(order(n));
        }
        assert!(!outbox.is_closed());
        outbox.control(order(CONTROL_QUEUE));
        assert_eq!(outbox.disconnect(), Some(Disconnect::INSUFFICIENT_STATE));
    }
}
