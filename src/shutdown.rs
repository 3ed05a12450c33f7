//! Who owns background work: a root cancellation token and a task tracker,
//! plus the `draining` state that comes first.
//!
//! Shutdown has two steps. **Draining** (on SIGTERM/SIGINT): `/readyz`
//! answers 503 `draining` so load balancers take the node out of rotation,
//! and new WebSocket clients are refused (503) while the ones connected keep
//! working, for `TANDEM_DRAIN_DELAY`. **Stopping**: the token is cancelled,
//! the listener closes, each connection sends its clients a reconnect-advice
//! disconnect (3001) and the app waits for the tracker to drain, bounded by
//! `TANDEM_SHUTDOWN_TIMEOUT`.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The root of the shutdown tree. Cheap to clone.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    draining: CancellationToken,
    tracker: TaskTracker,
}

impl Shutdown {
    /// A fresh root.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token tasks watch.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The tracker tasks are spawned on.
    pub fn tracker(&self) -> TaskTracker {
        self.tracker.clone()
    }

    /// Starts draining: the node reports `draining` and refuses new
    /// WebSocket clients; connected ones keep working until [`Shutdown::begin`].
    pub fn drain(&self) {
        self.draining.cancel();
    }

    /// Whether the node is draining (or already stopping).
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled() || self.token.is_cancelled()
    }

    /// Starts shutting down (draining included).
    pub fn begin(&self) {
        self.draining.cancel();
        self.token.cancel();
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draining_comes_before_stopping_and_stopping_implies_it() {
        let a = Shutdown::new();
        assert!(!a.is_draining());
        a.drain();
        assert!(a.is_draining());
        assert!(!a.token().is_cancelled());
        let b = Shutdown::new();
        b.begin();
        assert!(b.is_draining() && b.token().is_cancelled());
    }
}
