//! The writer task: the only owner of a connection's sink.
//!
//! It drains the connection's bounded queue, joins whatever is waiting into one
//! frame (the protocol allows many messages per frame; text for JSON, binary
//! for Protobuf), and on close sends the
//! close frame with the disconnect code. It never blocks anyone but itself: a
//! write that stalls only fills this connection's queue, which the hub then
//! closes as slow.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::SinkExt;

use crate::hub::{Outbox, OutboxReceiver};
use crate::protocol::{Codec, Disconnect};

/// Most messages joined into one frame.
const MAX_BATCH: usize = 64;
/// How long the close frame may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Writes queued messages until the outbox closes, then sends the close frame.
pub async fn run(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: OutboxReceiver,
    outbox: Outbox,
    codec: Codec,
) {
    // Grows on first use (an idle connection holds no batch buffer).
    let mut batch: Vec<Bytes> = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = outbox.closed() => break,
            next = rx.recv() => {
                let Some(first) = next else { break };
                batch.clear();
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(message) => batch.push(message),
                        Err(_) => break,
                    }
                }
                let Some(message) = frame(codec, codec.join_frame(&batch)) else {
                    tracing::error!("outgoing frame is not UTF-8");
                    outbox.close(Disconnect::INTERNAL);
                    break;
                };
                tokio::select! {
                    biased;
                    _ = outbox.closed() => break,
                    sent = sink.send(message) => {
                        if let Err(err) = sent {
                            tracing::debug!(error = %err, "write failed");
                            outbox.close(Disconnect::WRITE_ERROR);
                            break;
                        }
                    }
                }
            }
        }
    }
    if let Some(disconnect) = outbox
        .disconnect()
        .filter(|d| *d != Disconnect::WRITE_ERROR)
    {
        tracing::debug!(
            code = disconnect.code,
            reason = disconnect.reason,
            "closing"
        );
        let frame = CloseFrame {
            code: disconnect.code,
            reason: Utf8Bytes::from_static(disconnect.reason),
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
}

/// The WebSocket message for a frame: binary for Protobuf, text for JSON
/// (`None` if JSON bytes are not UTF-8, which would be a bug).
fn frame(codec: Codec, bytes: Bytes) -> Option<Message> {
    if codec.is_binary() {
        return Some(Message::Binary(bytes));
    }
    Utf8Bytes::try_from(bytes).ok().map(Message::Text)
}
