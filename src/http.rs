//! Serving HTTP (SPEC §6a): the accept loop, with the limits that keep
//! half-open and idle connections from exhausting the process.
//!
//! - **Connection cap**: at most `max_connections` client sockets are open at
//!   once (HTTP and upgraded WebSockets alike: the permit lives in the socket
//!   wrapper, so it is released when the socket closes). At the cap the loop
//!   stops accepting and new clients wait in the listen backlog.
//! - **Header timeout**: a client has `header_timeout` to send a request's
//!   headers, and a keep-alive connection may idle that long between
//!   requests; then the connection is closed (slowloris).
//! - Body timeouts are a layer on the router (`app.rs`).
//!
//! On shutdown the loop stops accepting and asks every HTTP connection to
//! finish its request and close; upgraded WebSockets are ended by their own
//! tasks (3001), which watch the same token.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Open files kept free for everything that is not a client socket (Redis
/// connections, the listener, logs, the frontend's files).
pub const RESERVED_FILES: usize = 256;

/// Limits of the HTTP server.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Time to send a request's headers, and the idle time of keep-alive connections.
    pub header_timeout: Duration,
    /// Most open client connections.
    pub max_connections: usize,
}

/// Raises the soft open-file limit to the hard one and returns the resulting
/// soft limit (`None` when the platform does not say).
pub fn raise_open_file_limit() -> Option<usize> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(usize::try_from(limit).unwrap_or(usize::MAX)),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read or raise the open-file limit");
            None
        }
    }
}

/// The connection cap for a configured value (0 = from the open-file limit).
pub fn connection_cap(configured: usize, open_files: Option<usize>) -> usize {
    match (configured, open_files) {
        (0, Some(files)) => files.saturating_sub(RESERVED_FILES).max(16),
        (0, None) => 10_000,
        (n, _) => n,
    }
}

/// Serves `router` on `listener` until `stop` is cancelled, then lets open
/// HTTP connections finish, bounded by `drain`. Connection tasks run on
/// `tracker`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    stop: CancellationToken,
    tracker: TaskTracker,
    drain: Duration,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Some(limits.header_timeout))
        .keep_alive(true);
    let builder = builder.http1_only();
    let mut warned_full = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                warned_full = false;
                permit
            }
            Err(_) => {
                if !warned_full {
                    tracing::warn!(
                        max = limits.max_connections,
                        "TANDEM_MAX_CONNECTIONS reached: new clients wait until one closes"
                    );
                    warned_full = true;
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        let tcp = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
        };
        // Real-time pushes are small: send them at once (no Nagle).
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        let io = TokioIo::new(Counted {
            io: tcp,
            _permit: permit,
        });
        let service = TowerToHyperService::new(router.clone());
        let conn = builder.serve_connection_with_upgrades(io, service);
        let conn = graceful.watch(conn.into_owned());
        tracker.spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(error = %err, "http connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(?drain, "some HTTP connections did not finish in time");
    }
}

/// An accept error: per-connection errors are skipped; running out of file
/// descriptors (or memory) pauses accepting briefly instead of spinning.
async fn accept_failed(err: &io::Error) {
    use io::ErrorKind::*;
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %err, "accept failed; pausing for 100ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A client socket holding its connection permit until it is dropped.
struct Counted {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_follows_the_open_file_limit() {
        assert_eq!(connection_cap(500, Some(20_000)), 500);
        assert_eq!(connection_cap(0, Some(20_000)), 20_000 - RESERVED_FILES);
        assert_eq!(connection_cap(0, Some(100)), 16);
        assert_eq!(connection_cap(0, None), 10_000);
    }
}
