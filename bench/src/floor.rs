//! `bench-floor`: the smallest broadcast server on Tandem's stack (axum's
//! WebSocket on tokio-tungstenite, tokio), the floor every Tandem figure is
//! compared with. Rooms instead of sessions; no protocol, auth, history or
//! presence.
//!
//! - `GET /ws?room=R`: joins room R; every text frame the connection sends is
//!   broadcast to the room (itself included).
//! - `GET /ws?publish=R`: publishes text frames to room R without receiving.
//! - `POST /rooms/{R}/publish`: broadcasts the body to room R; answers with
//!   the number of receivers (the REST publisher's counterpart).
//!
//! A broadcast is one `Utf8Bytes` shared by every receiver (a reference-count
//! increment each). Each connection has one task and a bounded queue
//! (`--queue` messages, allocated as it fills, like Tandem's); a receiver
//! whose queue is full is closed with 3008, like Tandem's slow consumers.
//! The read buffer is as small as Tandem's default (`--read-buffer`); queued
//! messages are written with one system call per batch (`--write-buffer`).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Parser;
use futures_util::SinkExt;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The floor's settings.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench-floor",
    about = "Minimal broadcast server: the benchmark floor"
)]
pub struct FloorConfig {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8100")]
    pub listen: SocketAddr,
    /// WebSocket read buffer per connection, bytes (Tandem's default).
    #[arg(long, default_value_t = 4096)]
    pub read_buffer: usize,
    /// Bytes a connection's writer may gather before writing to the socket:
    /// queued messages are written in one system call (0: one per message).
    #[arg(long, default_value_t = 65536)]
    pub write_buffer: usize,
    /// Outbound messages queued per connection before it is closed as slow.
    #[arg(long, default_value_t = 1024)]
    pub queue: usize,
    /// Largest inbound message, bytes.
    #[arg(long, default_value_t = 65536)]
    pub max_frame: usize,
}

type Queue = mpsc::Sender<Utf8Bytes>;

#[derive(Default)]
struct Rooms {
    next_id: u64,
    rooms: HashMap<String, Vec<(u64, Queue)>>,
}

#[derive(Clone)]
struct Floor {
    config: Arc<FloorConfig>,
    rooms: Arc<Mutex<Rooms>>,
}

impl Floor {
    fn join(&self, room: &str) -> (u64, mpsc::Receiver<Utf8Bytes>) {
        let (tx, rx) = mpsc::channel(self.config.queue.max(1));
        let mut rooms = self.lock();
        rooms.next_id += 1;
        let id = rooms.next_id;
        rooms
            .rooms
            .entry(room.to_owned())
            .or_default()
            .push((id, tx));
        (id, rx)
    }

    fn leave(&self, room: &str, id: u64) {
        let mut rooms = self.lock();
        if let Some(members) = rooms.rooms.get_mut(room) {
            members.retain(|(m, _)| *m != id);
            if members.is_empty() {
                rooms.rooms.remove(room);
            }
        }
    }

    /// Sends `frame` to every member of `room`; members whose queue is full
    /// are dropped (their task closes the socket with 3008). Returns how many
    /// received it.
    fn broadcast(&self, room: &str, frame: Utf8Bytes) -> usize {
        let mut rooms = self.lock();
        let Some(members) = rooms.rooms.get_mut(room) else {
            return 0;
        };
        let mut sent = 0;
        members.retain(|(_, tx)| match tx.try_send(frame.clone()) {
            Ok(()) => {
                sent += 1;
                true
            }
            Err(_) => false,
        });
        sent
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rooms> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Deserialize)]
struct WsQuery {
    room: Option<String>,
    publish: Option<String>,
}

async fn upgrade(
    State(floor): State<Floor>,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let max = floor.config.max_frame;
    ws.read_buffer_size(floor.config.read_buffer)
        .write_buffer_size(floor.config.write_buffer)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| connection(socket, floor, q))
}

async fn connection(mut socket: WebSocket, floor: Floor, q: WsQuery) {
    let (room, listen) = match (q.room, q.publish) {
        (Some(room), _) => (room, true),
        (None, Some(room)) => (room, false),
        (None, None) => return,
    };
    let mut member = listen.then(|| floor.join(&room));
    loop {
        let queued = async {
            match member.as_mut() {
                Some((_, rx)) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    floor.broadcast(&room, text);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            item = queued => match item {
                Some(text) => {
                    if write_batch(&mut socket, text, member.as_mut().map(|(_, rx)| rx)).await.is_err() {
                        break;
                    }
                }
                None => {
                    let close = CloseFrame { code: 3008, reason: "slow".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    member = None;
                    break;
                }
            },
        }
    }
    if let Some((id, _)) = member {
        floor.leave(&room, id);
    }
}

/// Writes `first` and whatever else is queued (up to 256 messages), then
/// flushes once.
async fn write_batch(
    socket: &mut WebSocket,
    first: Utf8Bytes,
    rx: Option<&mut mpsc::Receiver<Utf8Bytes>>,
) -> Result<(), axum::Error> {
    socket.feed(Message::Text(first)).await?;
    if let Some(rx) = rx {
        for _ in 0..255 {
            match rx.try_recv() {
                Ok(more) => socket.feed(Message::Text(more)).await?,
                Err(_) => break,
            }
        }
    }
    socket.flush().await
}

async fn publish(
    State(floor): State<Floor>,
    Path(room): Path<String>,
    body: String,
) -> impl IntoResponse {
    floor.broadcast(&room, Utf8Bytes::from(body)).to_string()
}

/// The floor's routes.
pub fn router(config: FloorConfig) -> Router {
    let floor = Floor {
        config: Arc::new(config),
        rooms: Arc::default(),
    };
    Router::new()
        .route("/ws", get(upgrade))
        .route("/rooms/{room}/publish", post(publish))
        .with_state(floor)
}

/// Serves the floor on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: FloorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}
