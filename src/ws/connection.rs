//! One WebSocket connection: reads frames, feeds the protocol state machine,
//! runs its timers, and tears everything down when it ends.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::client::ClientState;
use crate::hub::Outbox;
use crate::node::Node;
use crate::protocol::codec::DecodeError;
use crate::protocol::command::Command;
use crate::protocol::{Codec, Disconnect};
use crate::ws::writer;

/// How long the writer may take to flush the close frame after the loop ends.
const WRITER_DRAIN: Duration = Duration::from_secs(2);

/// Serves one upgraded connection until it closes or `shutdown` is cancelled.
/// `max_message` bounds the length a Protobuf message may declare.
///
/// The handlers of commands, timers and orders are boxed: an idle connection
/// then holds only the small loop future, not room for the largest handler's
/// state (which the compiler would otherwise reserve inside it for as long as
/// the connection lives).
pub async fn run(
    socket: WebSocket,
    node: Node,
    codec: Codec,
    max_message: usize,
    shutdown: CancellationToken,
) {
    let (outbox, rx, mut control) =
        Outbox::new(node.limits().max_queue, node.limits().max_queue_bytes);
    let mut state = ClientState::new(node, codec, outbox.clone());
    let span =
        tracing::info_span!("conn", client = %state.client_id(), user = tracing::field::Empty);
    async move {
        let (sink, mut stream) = socket.split();
        let mut writer =
            tokio::spawn(writer::run(sink, rx, outbox.clone(), codec).in_current_span());
        loop {
            let deadline = state.next_deadline();
            let outcome: Result<(), Option<Disconnect>> = tokio::select! {
                biased;
                _ = outbox.closed() => Err(None),
                _ = shutdown.cancelled() => Err(Some(Disconnect::SHUTDOWN)),
                _ = tokio::time::sleep_until(deadline) => Box::pin(state.on_timer()).await.map_err(Some),
                Some(order) = control.recv() => {
                    Box::pin(state.on_control(order)).await;
                    Ok(())
                }
                frame = stream.next() => match frame {
                    None | Some(Ok(Message::Close(_))) => Err(None),
                    Some(Ok(Message::Text(text))) => {
                        handle(&mut state, codec.decode_text(&text)).await
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        handle(&mut state, codec.decode_binary(&bytes, max_message)).await
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                    Some(Err(err)) => Err(read_error(err)),
                },
            };
            match outcome {
                Ok(()) => {}
                Err(Some(disconnect)) => {
                    outbox.close(disconnect);
                    break;
                }
                Err(None) => break,
            }
        }
        Box::pin(state.close()).await;
        outbox.close_quietly();
        if tokio::time::timeout(WRITER_DRAIN, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        tracing::debug!(disconnect = ?outbox.disconnect(), "connection ended");
    }
    .instrument(span)
    .await;
}

/// Runs a decoded frame's commands; a frame that did not decode closes the
/// connection with 3501 (only this connection: the others never see it).
async fn handle(
    state: &mut ClientState,
    decoded: Result<Vec<Command>, DecodeError>,
) -> Result<(), Option<Disconnect>> {
    match decoded {
        Ok(commands) => Box::pin(state.handle_commands(commands))
            .await
            .map_err(Some),
        Err(err) => {
            tracing::debug!(error = %err, "bad frame");
            Err(Some(Disconnect::BAD_REQUEST))
        }
    }
}

/// A read error: an oversized frame gets 1009, invalid UTF-8 1007, any other
/// RFC 6455 violation 1002; a connection that just broke gets nothing.
fn read_error(err: axum::Error) -> Option<Disconnect> {
    use tokio_tungstenite::tungstenite::Error;
    let inner = err.into_inner();
    let disconnect = match inner.downcast_ref::<Error>() {
        Some(Error::Capacity(_)) => Disconnect::MESSAGE_TOO_BIG,
        Some(Error::Utf8(_)) => Disconnect::INVALID_PAYLOAD,
        Some(Error::Protocol(_)) => Disconnect::PROTOCOL_ERROR,
        _ => {
            tracing::debug!(error = %inner, "read failed");
            return None;
        }
    };
    tracing::info!(error = %inner, code = disconnect.code, "closing a connection that broke the protocol");
    Some(disconnect)
}
