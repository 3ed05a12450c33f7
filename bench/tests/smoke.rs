//! Smoke runs of the generator (issue 13, point 6): a few hundred messages
//! through the real wire protocol of a Tandem started here on port 0 (memory
//! engine) and of the floor, checked for 0 lost and 0 duplicated. No timing
//! is asserted: performance is measured by `bench/run.sh`, not by tests.

use std::net::SocketAddr;

use clap::Parser;
use tandem_bench::cli::Cli;
use tandem_bench::report::Outcome;
use tokio::sync::oneshot;

const SECRET: &str = "tandem-bench-smoke-secret-0123456789abcdef";

/// A Tandem on 127.0.0.1:0; dropping the sender stops it.
async fn tandem() -> (SocketAddr, oneshot::Sender<()>) {
    let cli = tandem::config::Cli::try_parse_from([
        "tandem",
        "--listen",
        "127.0.0.1:0",
        "--jwt-hs256-secret",
        SECRET,
        "--max-commands-per-second",
        "0",
    ])
    .expect("flags parse");
    let settings = cli.config.validate().expect("settings are valid");
    let app = tandem::App::build(settings).await.expect("app builds");
    let addr = app.local_addr().expect("bound");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// A floor on 127.0.0.1:0.
async fn floor() -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let config = tandem_bench::floor::FloorConfig::parse_from(["bench-floor"]);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(tandem_bench::floor::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Runs `tandem-bench <args>` against `addr` on a thread of its own.
async fn bench(addr: SocketAddr, args: &[&str]) -> Outcome {
    let url = format!("http://{addr}");
    let mut argv = vec!["tandem-bench", "--url", &url, "--secret", SECRET];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("bench flags parse");
    tokio::task::spawn_blocking(move || tandem_bench::run_local(cli.run()))
        .await
        .expect("generator thread")
        .expect("runtime")
        .expect("scenario runs")
        .expect("a scenario outcome")
}

fn assert_lossless(o: &Outcome, messages: u64, receivers: u64) {
    let step = &o.steps[0];
    let c = &step.counters;
    assert!(o.errors.is_empty(), "{}", o.human());
    assert_eq!(c.sent, messages, "{}", o.human());
    assert_eq!(c.acked, messages, "{}", o.human());
    assert_eq!(step.expected, messages * receivers, "{}", o.human());
    assert_eq!(step.lost, 0, "{}", o.human());
    assert_eq!(o.figures["lost_final"], 0.0, "{}", o.human());
    assert_eq!(c.duplicates, 0, "{}", o.human());
    assert_eq!(c.deliveries, messages * receivers, "{}", o.human());
    assert_eq!(step.latency.count, messages * receivers, "{}", o.human());
}

// 2 sessions × 5 connections; one of each publishes 100 chat.send at 100/s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tandem_ws_rpc_publishers_lose_and_repeat_nothing() {
    let (addr, _stop) = tandem().await;
    let o = bench(
        addr,
        &[
            "load",
            "--sessions",
            "2",
            "--per-session",
            "5",
            "--publisher",
            "ws-rpc",
            "--publisher-subscribes",
            "--rate",
            "100",
            "--duration",
            "1s",
            "--drain",
            "20s",
        ],
    )
    .await;
    assert_lossless(&o, 200, 5);
    assert_eq!(o.steps[0].acks.count, 200);
}

// The same load on both variants: lossless on each, and the bytes per
// delivery reported for both (Protobuf carries the same payload in fewer bytes:
// no quoting of the channel and field names, binary offsets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_codec_is_lossless_and_reports_bytes_per_delivery() {
    let (addr, _stop) = tandem().await;
    let mut per_delivery = Vec::new();
    for codec in ["json", "protobuf"] {
        let o = bench(
            addr,
            &[
                "--codec",
                codec,
                "load",
                "--sessions",
                "1",
                "--per-session",
                "4",
                "--publisher",
                "ws-rpc",
                "--publisher-subscribes",
                "--rate",
                "50",
                "--duration",
                "1s",
                "--drain",
                "20s",
            ],
        )
        .await;
        assert_lossless(&o, 50, 4);
        per_delivery.push(o.figures["bytes_per_delivery"]);
    }
    let (json, protobuf) = (per_delivery[0], per_delivery[1]);
    assert!(json > 100.0 && protobuf > 100.0, "{per_delivery:?}");
    assert!(protobuf < json, "{per_delivery:?}");
}

// 1 session × 20 subscribers; 100 REST publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tandem_rest_publisher_loses_and_repeats_nothing() {
    let (addr, _stop) = tandem().await;
    let o = bench(
        addr,
        &[
            "load",
            "--sessions",
            "1",
            "--per-session",
            "20",
            "--publisher",
            "rest",
            "--rate",
            "100",
            "--duration",
            "1s",
            "--drain",
            "20s",
        ],
    )
    .await;
    assert_lossless(&o, 100, 20);
}

// 4 sessions × 10 subscribers drop at once while 4 publishers go on:
// everyone recovers, nothing lost or repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tandem_storm_recovers_everything_once() {
    let (addr, _stop) = tandem().await;
    let o = bench(
        addr,
        &[
            "storm",
            "--sessions",
            "4",
            "--per-session",
            "10",
            "--rate",
            "30",
            "--duration",
            "3s",
            "--drop-after",
            "1s",
            "--recovery-timeout",
            "30s",
            "--drain",
            "20s",
        ],
    )
    .await;
    assert!(o.errors.is_empty(), "{}", o.human());
    assert_eq!(o.figures["recovered"], 40.0, "{}", o.human());
    assert_eq!(o.figures["recover_failed"], 0.0, "{}", o.human());
    assert_eq!(o.figures["lost"], 0.0, "{}", o.human());
    assert_eq!(o.figures["duplicates"], 0.0, "{}", o.human());
    assert!(o.figures["published"] >= 300.0, "{}", o.human());
    assert_eq!(o.steps[0].pass, Some(true), "{}", o.human());
}

// The floor in plain mode: 2 rooms × 10 connections, 100 frames per room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_plain_mode_loses_and_repeats_nothing() {
    let (addr, _stop) = floor().await;
    let o = bench(
        addr,
        &[
            "--target",
            "floor",
            "load",
            "--sessions",
            "2",
            "--per-session",
            "10",
            "--publisher",
            "ws-rpc",
            "--publisher-subscribes",
            "--rate",
            "100",
            "--duration",
            "1s",
            "--drain",
            "20s",
        ],
    )
    .await;
    assert_lossless(&o, 200, 10);
}
