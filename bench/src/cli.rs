//! The `tandem-bench` command line: global options (the server, how to reach
//! it, where results go) and one subcommand per scenario, plus `report`.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::net::{Server, Sources};
use crate::report::{self, Outcome};
use crate::scenario::fanout::{fanout, FanoutSettings};
use crate::scenario::idle::{idle, IdleSettings};
use crate::scenario::load::{load, ConnectArgs, LoadSettings, PublishArgs};
use crate::scenario::storm::{storm, StormSettings};
use crate::scenario::sweep::{sweep, SweepSettings};
use crate::scenario::Common;
use crate::target::{Target, TargetKind};
use crate::wire::Codec;

/// Load generator for Tandem and the floor (docs/benchmarks.md).
#[derive(Debug, Parser)]
#[command(name = "tandem-bench", version)]
pub struct Cli {
    /// What is driven: Tandem (Centrifugo protocol) or bench-floor (plain mode).
    #[arg(long, value_enum, default_value = "tandem", global = true)]
    pub target: TargetKind,
    /// The server (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8000", global = true)]
    pub url: String,
    /// Tandem's HS256 secret (tokens are minted with it).
    #[arg(
        long,
        env = "TANDEM_JWT_HS256_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub secret: Option<String>,
    /// The server's pid: its CPU and RSS are read from /proc.
    #[arg(long, global = true)]
    pub server_pid: Option<i32>,
    /// Source addresses 127.0.0.1 … 127.0.0.N (more connections than one
    /// address has ephemeral ports, ~28k).
    #[arg(long, default_value_t = 1, global = true)]
    pub sources: u8,
    /// Wire protocol variant.
    #[arg(long, value_enum, default_value = "json", global = true)]
    pub codec: Codec,
    /// Label of the results (e.g. `memory`, `redis`, `floor`).
    #[arg(long, global = true)]
    pub label: Option<String>,
    /// First connects in progress at once.
    #[arg(long, default_value_t = 256, global = true)]
    pub connect_concurrency: usize,
    /// Print the result as one JSON line on stdout (the summary goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Append the result as one JSON line to this file.
    #[arg(long, global = true)]
    pub out: Option<PathBuf>,
    /// The scenario.
    #[command(subcommand)]
    pub command: Command,
}

/// Scenarios.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// N subscribers in R sessions, P publishers per session at a rate.
    Load(LoadArgs),
    /// One session × many subscribers, one publisher: publish-rate sweep.
    Fanout(FanoutArgs),
    /// 10,000 connections in 1,000 sessions of 10, one publisher each at 10/s.
    Many(ManyArgs),
    /// Idle subscribed connections: server RSS per connection.
    Idle(IdleArgs),
    /// Every subscriber drops at once while publishing continues.
    Storm(StormArgs),
    /// Acknowledged writes (`chat.send`) at a rate: ack latency.
    Acks(AcksArgs),
    /// The sweeper over many sessions of which a few are due (Tandem).
    Sweep(SweepArgs),
    /// Writes docs/benchmarks.md (Markdown, stdout) from result lines.
    Report(ReportArgs),
}

fn secs(s: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(s)
}

/// `load` options.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Sessions (floor: rooms).
    #[arg(long, default_value_t = 10)]
    pub sessions: usize,
    /// Subscribed connections per session.
    #[arg(long, default_value_t = 10)]
    pub per_session: usize,
    /// Publishers per session.
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// A WebSocket publisher is one of the session's subscribers.
    #[arg(long)]
    pub publisher_subscribes: bool,
    /// Messages per second per publisher (0: as fast as acknowledged).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Publishing time.
    #[arg(long, default_value = "10s", value_parser = secs)]
    pub duration: Duration,
    /// Longest wait for outstanding deliveries.
    #[arg(long, default_value = "5s", value_parser = secs)]
    pub drain: Duration,
    #[command(flatten)]
    pub publish: PublishArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

impl LoadArgs {
    fn settings(&self) -> LoadSettings {
        LoadSettings {
            sessions: self.sessions,
            per_session: self.per_session,
            publishers: self.publishers,
            publisher_subscribes: self.publisher_subscribes,
            rate: self.rate,
            duration: self.duration,
            drain: self.drain,
            reconnect: false,
            publish: self.publish.clone(),
            connect: self.connect.clone(),
        }
    }
}

/// `fanout` options.
#[derive(Debug, Args)]
pub struct FanoutArgs {
    /// Subscribers of the one session.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Rates to try (messages/s), comma-separated, increasing.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "50,100,150,200,250,300,400,500,750,1000,1500"
    )]
    pub rates: Vec<f64>,
    /// Seconds per rate.
    #[arg(long, default_value = "10s", value_parser = secs)]
    pub step: Duration,
    /// Longest wait for outstanding deliveries after each step.
    #[arg(long, default_value = "5s", value_parser = secs)]
    pub drain: Duration,
    /// The rate whose latency is reported on its own.
    #[arg(long, default_value_t = 200.0)]
    pub latency_at: f64,
    /// A step passes only with p99 below this (ms).
    #[arg(long, default_value_t = 50.0)]
    pub p99_limit_ms: f64,
    /// Go on after the first failing rate.
    #[arg(long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub publish: PublishArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `many` options.
#[derive(Debug, Args)]
pub struct ManyArgs {
    /// Sessions.
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Connections per session (one of them publishes).
    #[arg(long, default_value_t = 10)]
    pub per_session: usize,
    /// Messages per second of each session's publisher.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Publishing time.
    #[arg(long, default_value = "20s", value_parser = secs)]
    pub duration: Duration,
    /// Longest wait for outstanding deliveries.
    #[arg(long, default_value = "10s", value_parser = secs)]
    pub drain: Duration,
    /// Publisher kind (a `ws-rpc` publisher is one of the session's connections).
    #[arg(long, value_enum, default_value = "ws-rpc")]
    pub publisher: crate::publisher::PublisherKind,
    /// Chat message content, bytes.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `idle` options.
#[derive(Debug, Args)]
pub struct IdleArgs {
    /// Connections (the server may hold at most its open-file limit, 20,000 here).
    #[arg(long, default_value_t = 19_500)]
    pub connections: usize,
    /// Connections per session.
    #[arg(long, default_value_t = 10)]
    pub per_session: usize,
    /// Connect only, do not subscribe (floor: do not join a room).
    #[arg(long)]
    pub no_subscribe: bool,
    /// Wait after the last connection before measuring.
    #[arg(long, default_value = "5s", value_parser = secs)]
    pub settle: Duration,
    /// Hold time over which the server's idle CPU is measured.
    #[arg(long, default_value = "10s", value_parser = secs)]
    pub hold: Duration,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `storm` options.
#[derive(Debug, Args)]
pub struct StormArgs {
    /// Sessions.
    #[arg(long, default_value_t = 100)]
    pub sessions: usize,
    /// Subscribers per session (5,000 in all by default).
    #[arg(long, default_value_t = 50)]
    pub per_session: usize,
    /// Messages per second of each session's publisher.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Publishing time (the drop happens inside it).
    #[arg(long, default_value = "30s", value_parser = secs)]
    pub duration: Duration,
    /// Drop everyone this long after publishing starts.
    #[arg(long, default_value = "5s", value_parser = secs)]
    pub drop_after: Duration,
    /// Longest wait for everyone to be back.
    #[arg(long, default_value = "60s", value_parser = secs)]
    pub recovery_timeout: Duration,
    /// Longest wait for outstanding deliveries at the end.
    #[arg(long, default_value = "10s", value_parser = secs)]
    pub drain: Duration,
    #[command(flatten)]
    pub publish: PublishArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `acks` options.
#[derive(Debug, Args)]
pub struct AcksArgs {
    /// Writes per second in all.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Sessions written to (one publisher each, at rate / sessions).
    #[arg(long, default_value_t = 10)]
    pub sessions: usize,
    /// Subscribers per session.
    #[arg(long, default_value_t = 0)]
    pub per_session: usize,
    /// Publishing time.
    #[arg(long, default_value = "10s", value_parser = secs)]
    pub duration: Duration,
    /// Publisher kind.
    #[arg(long, value_enum, default_value = "ws-rpc")]
    pub publisher: crate::publisher::PublisherKind,
    /// Chat message content, bytes.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Unacknowledged writes a publisher may have in flight.
    #[arg(long, default_value_t = 1000)]
    pub in_flight: usize,
}

/// `sweep` options.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Sessions in all.
    #[arg(long, default_value_t = 100_000)]
    pub sessions: usize,
    /// Sessions due.
    #[arg(long, default_value_t = 100)]
    pub due: usize,
    /// The server's TANDEM_ABANDON_AFTER.
    #[arg(long, value_parser = secs)]
    pub abandon_after: Duration,
    /// Wait between the due sessions and the others (more than the server's TANDEM_SWEEP_INTERVAL).
    #[arg(long, default_value = "3s", value_parser = secs)]
    pub gap: Duration,
    /// Concurrent creation requests.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// The server's log file (stderr, with RUST_LOG=warn,tandem::sweeper=debug).
    #[arg(long)]
    pub server_log: PathBuf,
}

/// `report` options.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Result lines (JSON), as written with --out.
    pub results: PathBuf,
    /// Machine description (Markdown) to include.
    #[arg(long)]
    pub machine: Option<PathBuf>,
    /// Commands run (Markdown) to include.
    #[arg(long)]
    pub commands: Option<PathBuf>,
}

fn publish_args(
    publisher: crate::publisher::PublisherKind,
    payload: usize,
    in_flight: usize,
) -> PublishArgs {
    PublishArgs {
        publisher,
        payload,
        in_flight,
        floor_frame_bytes: 0,
    }
}

impl Cli {
    /// Runs the command; the outcome of a scenario (`None` for `report`).
    pub async fn run(&self) -> anyhow::Result<Option<Outcome>> {
        if let Command::Report(args) = &self.command {
            let results = std::fs::read_to_string(&args.results)?;
            let read =
                |p: &Option<PathBuf>| p.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
            let machine = report::Machine {
                description: read(&args.machine).unwrap_or_default(),
                commands: read(&args.commands).unwrap_or_default(),
            };
            print!("{}", report::markdown(&results, &machine)?);
            return Ok(None);
        }
        let server = Server::parse(&self.url)?;
        let target = Target::new(self.target, server, self.codec, self.secret.as_deref())?;
        let common = Common {
            target: Rc::new(target),
            sources: Rc::new(Sources::new(self.sources)?),
            server_pid: self.server_pid,
            connect_concurrency: self.connect_concurrency,
            label: self.label.clone().unwrap_or_else(|| match self.target {
                TargetKind::Tandem => "tandem".into(),
                TargetKind::Floor => "floor".into(),
            }),
        };
        let outcome = match &self.command {
            Command::Report(_) => return Ok(None),
            Command::Load(a) => load(&common, "load", &a.settings()).await?,
            Command::Many(a) => {
                let s = LoadSettings {
                    sessions: a.sessions,
                    per_session: a.per_session,
                    publishers: 1,
                    publisher_subscribes: true,
                    rate: a.rate,
                    duration: a.duration,
                    drain: a.drain,
                    reconnect: false,
                    publish: publish_args(a.publisher, a.payload, 1000),
                    connect: a.connect.clone(),
                };
                load(&common, "many", &s).await?
            }
            Command::Acks(a) => {
                let sessions = a.sessions.max(1);
                let s = LoadSettings {
                    sessions,
                    per_session: a.per_session,
                    publishers: 1,
                    publisher_subscribes: false,
                    rate: a.rate / sessions as f64,
                    duration: a.duration,
                    drain: Duration::from_secs(5),
                    reconnect: false,
                    publish: publish_args(a.publisher, a.payload, a.in_flight),
                    connect: ConnectArgs {
                        connect_rate: 0.0,
                        users_per_session: 40,
                    },
                };
                load(&common, "acks", &s).await?
            }
            Command::Fanout(a) => {
                let s = FanoutSettings {
                    load: LoadSettings {
                        sessions: 1,
                        per_session: a.subscribers,
                        publishers: 1,
                        publisher_subscribes: false,
                        rate: 0.0,
                        duration: a.step,
                        drain: a.drain,
                        reconnect: false,
                        publish: a.publish.clone(),
                        connect: a.connect.clone(),
                    },
                    rates: a.rates.clone(),
                    latency_at: a.latency_at,
                    p99_limit_ms: a.p99_limit_ms,
                    keep_going: a.keep_going,
                };
                fanout(&common, &s).await?
            }
            Command::Idle(a) => {
                let s = IdleSettings {
                    connections: a.connections,
                    per_session: a.per_session,
                    subscribe: !a.no_subscribe,
                    settle: a.settle,
                    hold: a.hold,
                    connect: a.connect.clone(),
                };
                idle(&common, &s).await?
            }
            Command::Storm(a) => {
                let s = StormSettings {
                    load: LoadSettings {
                        sessions: a.sessions,
                        per_session: a.per_session,
                        publishers: 1,
                        publisher_subscribes: false,
                        rate: a.rate,
                        duration: a.duration,
                        drain: a.drain,
                        reconnect: true,
                        publish: a.publish.clone(),
                        connect: a.connect.clone(),
                    },
                    drop_after: a.drop_after,
                    recovery_timeout: a.recovery_timeout,
                };
                storm(&common, &s).await?
            }
            Command::Sweep(a) => {
                let s = SweepSettings {
                    sessions: a.sessions,
                    due: a.due,
                    abandon_after: a.abandon_after,
                    gap: a.gap,
                    concurrency: a.concurrency,
                    log: a.server_log.clone(),
                };
                sweep(&common, &s).await?
            }
        };
        Ok(Some(outcome))
    }
}
