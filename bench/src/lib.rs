//! Tandem's benchmark tool (issue 13): a load generator that drives Tandem
//! through its real wire protocol, and the floor it is compared with.
//!
//! - [`floor`]: `bench-floor`, a minimal axum / tokio-tungstenite broadcast
//!   server (rooms, one pre-serialised frame shared per broadcast; no
//!   protocol, auth or history): what the same stack costs with nothing on top.
//! - [`scenario`]: the scenarios (`load`, `fanout`, `many`, `idle`, `storm`,
//!   `acks`, `sweep`), each a function from its settings to a [`report::Outcome`].
//! - [`conn`]: one generator connection (subscriber and/or WebSocket
//!   publisher); [`publisher`]: publisher kinds and the REST publisher;
//!   [`wire`]: the client codec (JSON today) and the fast classification of
//!   received lines; [`target`]: what is driven (Tandem or the floor) and its
//!   set-up (tokens, sessions); [`net`]: sockets from several 127.0.0.x
//!   source addresses.
//! - [`stats`]: latency histograms and the per-connection offset tracker that
//!   counts losses, duplicates and gaps; [`procstat`]: CPU and RSS of a
//!   process from `/proc`; [`report`]: machine-readable results and the
//!   Markdown of docs/benchmarks.md.
//!
//! The generator runs on one thread (`current_thread` runtime and a
//! `LocalSet`), so `bench/run.sh` can pin it to one core and the server to
//! the other; its own CPU use is reported with every result so a run the
//! generator could not keep up with is visible as such.

pub mod cli;
pub mod conn;
pub mod floor;
pub mod net;
pub mod procstat;
pub mod publisher;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod target;
pub mod token;
pub mod wire;

/// Runs `future` the way the generator runs: on one thread, with a
/// `LocalSet` (its tasks share state through `Rc`).
pub fn run_local<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(tokio::task::LocalSet::new().block_on(&runtime, future))
}
