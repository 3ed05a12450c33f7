//! Logging setup: `tracing` to stderr, filtered by `RUST_LOG` (default `info`).
//!
//! Tokens never reach the log, whatever `RUST_LOG` asks for: the WebSocket
//! library logs every frame (a `connect` carries the token) at trace level,
//! so its targets are capped at `debug`; request spans carry the path, never
//! the query string (`app.rs`). Colours only when stderr is a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Targets that would log message contents below `debug`.
const TOKEN_BEARING_TARGETS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// The filter for a `RUST_LOG` value: the user's directives, minus any that
/// would open the token-bearing targets, plus the caps on them.
pub fn filter(spec: &str) -> EnvFilter {
    let kept: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| {
            let target = d.split(['=', '[']).next().unwrap_or_default();
            !TOKEN_BEARING_TARGETS
                .iter()
                .any(|t| target == *t || target.starts_with(&format!("{t}::")))
        })
        .collect();
    let mut directives = if kept.is_empty() {
        vec!["info".to_owned()]
    } else {
        kept.into_iter().map(str::to_owned).collect()
    };
    directives.extend(TOKEN_BEARING_TARGETS.iter().map(|t| format!("{t}=debug")));
    EnvFilter::try_new(directives.join(","))
        .unwrap_or_else(|_| EnvFilter::new(caps_only_with("info")))
}

fn caps_only_with(default: &str) -> String {
    let mut all = vec![default.to_owned()];
    all.extend(TOKEN_BEARING_TARGETS.iter().map(|t| format!("{t}=debug")));
    all.join(",")
}

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(&spec))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged_with(spec: &str) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(spec))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "tungstenite::protocol", "frame with token eyJsecret");
            tracing::trace!(target: "tokio_tungstenite::compat", "also eyJsecret");
            tracing::trace!(target: "tandem::client", "own trace line");
            tracing::debug!(target: "tungstenite::handshake", "handshake done");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn websocket_frames_never_reach_the_log() {
        for spec in [
            "trace",
            "tungstenite=trace,trace",
            "tungstenite::protocol=trace",
            "info,tokio_tungstenite=trace",
        ] {
            let text = logged_with(spec);
            assert!(!text.contains("eyJsecret"), "{spec}: {text}");
        }
        let text = logged_with("trace");
        assert!(text.contains("own trace line"), "{text}");
        assert!(text.contains("handshake done"), "{text}");
        assert!(!logged_with("info").contains("own trace line"));
    }
}
