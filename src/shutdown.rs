//! Who owns background work: a root cancellation token and a task tracker.
//!
//! Every long-lived task (connections, engine housekeeping) is tracked here and
//! watches the token; on shutdown the token is cancelled, each connection sends
//! its clients a reconnect-advice disconnect (3001), and the app waits for the
//! tracker to drain, bounded by `TANDEM_SHUTDOWN_TIMEOUT`.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The root of the shutdown tree. Cheap to clone.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
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

    /// Starts shutting down.
    pub fn begin(&self) {
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
