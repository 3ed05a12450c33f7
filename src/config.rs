//! Configuration: command-line flags, each with a `TANDEM_…` environment
//! variable (SPEC §5). [`Config::validate`] turns flags into [`Settings`] and
//! fails at start with a message naming the setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::auth::jwt::VerifierConfig;
use crate::auth::Secret;
use crate::engine::EngineConfig;

/// `tandem` command line.
#[derive(Debug, Parser)]
#[command(
    name = "tandem",
    version,
    about = "Real-time collaboration server (Centrifugo client protocol)"
)]
pub struct Cli {
    /// Server settings (also read by `token`).
    #[command(flatten)]
    pub config: Config,
    /// What to do; defaults to `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Print a connection token signed with TANDEM_JWT_HS256_SECRET.
    Token(TokenArgs),
    /// Ask the node listening on TANDEM_LISTEN for /healthz (exit 0 on 200,
    /// 1 otherwise): the container health check.
    Health(HealthArgs),
}

/// `tandem health` arguments.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Path to ask for (`/readyz` also requires the engine and no draining).
    #[arg(long, default_value = "/healthz")]
    pub path: String,
    /// How long to wait for the answer. Defaults to 3s.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// `tandem token` arguments.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// User id (`sub` claim).
    #[arg(long)]
    pub user: String,
    /// Lifetime of the token. Defaults to 1h.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub ttl: Duration,
    /// JSON object shown to others as the connection's `conn_info`.
    #[arg(long)]
    pub info: Option<String>,
}

/// Which engine holds history and presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// Embedded, single node, not durable.
    Memory,
    /// Redis: state, history, presence and fan-out shared by several nodes.
    Redis,
}

/// Server settings. Every flag has a `TANDEM_…` environment variable.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on. Defaults to 127.0.0.1:8000.
    #[arg(long, env = "TANDEM_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Development mode: generates a random JWT secret when none is set and
    /// enables the demo login. Never use in production. Defaults to off.
    /// (`--dev` alone turns it on; values: 1/0, true/false, yes/no, on/off.)
    #[arg(
        long,
        env = "TANDEM_DEV",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    pub dev: bool,

    /// Dev mode only: file that keeps the generated JWT secret, so tokens stay
    /// valid across restarts (created with mode 0600 when missing, reused
    /// after). Ignored when a secret or public key is set. Defaults to none
    /// (a new secret every start).
    #[arg(long, env = "TANDEM_DEV_SECRET_FILE")]
    pub dev_secret_file: Option<PathBuf>,

    /// HS256 secret for connection tokens (at least 32 bytes). No default.
    #[arg(long, env = "TANDEM_JWT_HS256_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub jwt_hs256_secret: Option<Secret>,

    /// PEM file with an RSA (RS256) or EC P-256 (ES256) public key. No default.
    /// Earlier HS256 secrets, comma-separated, still accepted when verifying
    /// tokens (never used to sign): a rotation keeps the tokens signed with
    /// the previous secret valid until they expire. Each at least 32 bytes.
    #[arg(
        long,
        env = "TANDEM_JWT_HS256_PREVIOUS_SECRETS",
        hide_env_values = true,
        value_delimiter = ',',
        value_parser = parse_secret
    )]
    pub jwt_hs256_previous_secrets: Vec<Secret>,

    #[arg(long, env = "TANDEM_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// Required `iss` claim. Defaults to not checked.
    #[arg(long, env = "TANDEM_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim. Defaults to not checked.
    #[arg(long, env = "TANDEM_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Clock skew allowed on `exp`/`nbf`. Defaults to 5s.
    #[arg(long, env = "TANDEM_JWT_LEEWAY", default_value = "5s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,

    /// Engine. Defaults to memory.
    #[arg(long, env = "TANDEM_ENGINE", value_enum, default_value_t = EngineKind::Memory)]
    pub engine: EngineKind,

    /// Redis server URL (`redis://[user:password@]host:port[/db]`),
    /// used with `--engine redis`. Defaults to redis://127.0.0.1:6379.
    #[arg(
        long,
        env = "TANDEM_REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        value_parser = parse_redis_url,
        hide_env_values = true
    )]
    pub redis_url: RedisUrl,

    /// Prefix of every Redis key and channel (letters, digits, `_`, `-`, `.`, `:`),
    /// so several deployments can share one Redis. Defaults to tandem.
    #[arg(long, env = "TANDEM_REDIS_PREFIX", default_value = "tandem")]
    pub redis_prefix: String,

    /// Give every stream a new epoch at its first use after Redis restarted,
    /// because Redis may have come back without its last writes (AOF with
    /// `appendfsync everysec`, a replica promoted): clients then reload
    /// instead of recovering offsets that were given out again. Turn off only
    /// with `appendfsync always` and no failover. Defaults to true.
    #[arg(
        long,
        env = "TANDEM_REDIS_NEW_EPOCH_ON_RESTART",
        default_value_t = true,
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    pub redis_new_epoch_on_restart: bool,

    /// Seed nodes of a Redis Cluster, comma-separated (`host:port` or
    /// `redis://…` URLs); set, it replaces TANDEM_REDIS_URL (a
    /// `redis+cluster://host:port,host:port` URL does the same). Needs
    /// Redis 7 or later (sharded pub/sub). Defaults to none (one Redis).
    #[arg(
        long,
        env = "TANDEM_REDIS_CLUSTER_NODES",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub redis_cluster_nodes: Vec<String>,

    /// On a Redis Cluster, how often index updates left pending (a node that
    /// died between a session's write and its index update) are replayed: a
    /// session may be missing from a user's list or the sweeper's index at
    /// most this long. Defaults to 30s.
    #[arg(
        long,
        env = "TANDEM_REDIS_REPAIR_INTERVAL",
        default_value = "30s",
        value_parser = parse_duration
    )]
    pub redis_repair_interval: Duration,

    /// After a session write or a publication kept in history, wait until
    /// this many replicas acknowledged it (Redis `WAIT`) before answering,
    /// so a failover (Sentinel or Cluster) does not lose it. Defaults to 0
    /// (do not wait).
    #[arg(long, env = "TANDEM_REDIS_WAIT_REPLICAS", default_value_t = 0)]
    pub redis_wait_replicas: u32,

    /// Test-only fault injection: on a Redis Cluster, skip the index update
    /// after a session's atomic write, as if the node crashed in between.
    #[arg(
        long,
        env = "TANDEM_TEST_FAULT_SKIP_INDEX_UPDATE",
        hide = true,
        default_value_t = false,
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    pub test_fault_skip_index_update: bool,

    /// Publications kept per channel for history and recovery. Defaults to 1000.
    #[arg(long, env = "TANDEM_HISTORY_SIZE", default_value_t = 1000)]
    pub history_size: usize,

    /// How long publications stay in history. Defaults to 24h.
    #[arg(long, env = "TANDEM_HISTORY_TTL", default_value = "24h", value_parser = parse_duration)]
    pub history_ttl: Duration,

    /// Largest inbound WebSocket message in bytes. Defaults to 65536.
    #[arg(long, env = "TANDEM_MAX_FRAME_BYTES", default_value_t = 65536)]
    pub max_frame_bytes: usize,

    /// Outbound messages queued per connection before it is dropped as slow (3008). Defaults to 1024.
    #[arg(long, env = "TANDEM_MAX_QUEUE", default_value_t = 1024)]
    pub max_queue: usize,

    /// Outbound bytes queued per connection before it is dropped as slow
    /// (3008); one message always fits into an empty queue. At least 1024.
    /// Defaults to 1048576 (1 MiB).
    #[arg(long, env = "TANDEM_MAX_QUEUE_BYTES", default_value_t = 1_048_576)]
    pub max_queue_bytes: usize,

    /// Channels one connection may subscribe to. Defaults to 128.
    #[arg(long, env = "TANDEM_MAX_CHANNELS", default_value_t = 128)]
    pub max_channels: usize,

    /// Commands per second one connection may send (burst of the same size); 0 = no limit. Defaults to 100.
    #[arg(long, env = "TANDEM_MAX_COMMANDS_PER_SECOND", default_value_t = 100)]
    pub max_commands_per_second: u32,

    /// Origins allowed to open WebSockets, comma-separated (`*` = any). Defaults to
    /// none besides same-host requests and clients that send no Origin.
    #[arg(long, env = "TANDEM_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Interval between server pings. Defaults to 25s.
    #[arg(long, env = "TANDEM_PING_INTERVAL", default_value = "25s", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// How long a client has to answer a ping before it is closed (3012). Defaults to
    /// 10s, or half the ping interval when that is shorter.
    #[arg(long, env = "TANDEM_PONG_TIMEOUT", value_parser = parse_duration)]
    pub pong_timeout: Option<Duration>,

    /// How long a new connection has to send `connect` (3502). Defaults to 10s.
    #[arg(long, env = "TANDEM_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// How long after its token expires a connection may still send `refresh`. Defaults to 25s.
    #[arg(long, env = "TANDEM_EXPIRY_GRACE", default_value = "25s", value_parser = parse_duration)]
    pub expiry_grace: Duration,

    /// How long a presence entry lives without a refresh. Defaults to 30s.
    #[arg(long, env = "TANDEM_PRESENCE_TTL", default_value = "30s", value_parser = parse_duration)]
    pub presence_ttl: Duration,

    /// How long a node given SIGTERM (or SIGINT) stays up draining before it
    /// disconnects its clients: `/readyz` answers 503 `draining` and new
    /// WebSocket clients are refused, so a load balancer that checks `/readyz`
    /// takes it out of rotation first. At most 10m. Defaults to 0s.
    #[arg(long, env = "TANDEM_DRAIN_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub drain_delay: Duration,

    /// How long shutdown waits for connections to close. Defaults to 10s.
    #[arg(long, env = "TANDEM_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// Longest session name or mission title, in characters. Defaults to 200.
    #[arg(long, env = "TANDEM_MAX_NAME_CHARS", default_value_t = 200)]
    pub max_name_chars: usize,

    /// Largest chat message, in bytes. Defaults to 16384.
    #[arg(long, env = "TANDEM_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024)]
    pub max_message_bytes: usize,

    /// Largest metadata object, in bytes of JSON. Defaults to 8192.
    #[arg(long, env = "TANDEM_MAX_METADATA_BYTES", default_value_t = 8 * 1024)]
    pub max_metadata_bytes: usize,

    /// Most JSON Patch operations per mission edit. Defaults to 100.
    #[arg(long, env = "TANDEM_MAX_PATCH_OPS", default_value_t = 100)]
    pub max_patch_ops: usize,

    /// Most collaborators per session, the owner included. Defaults to 50.
    #[arg(long, env = "TANDEM_MAX_COLLABORATORS", default_value_t = 50)]
    pub max_collaborators: usize,

    /// Largest inline asset content, in bytes. Defaults to 32768.
    #[arg(long, env = "TANDEM_MAX_ASSET_BYTES", default_value_t = 32 * 1024)]
    pub max_asset_bytes: usize,

    /// Largest mission document, in bytes of JSON. Defaults to 262144.
    #[arg(long, env = "TANDEM_MAX_MISSION_BYTES", default_value_t = 256 * 1024)]
    pub max_mission_bytes: usize,

    /// Most assets per session. Defaults to 100.
    #[arg(long, env = "TANDEM_MAX_ASSETS", default_value_t = 100)]
    pub max_assets: usize,

    /// Deepest nesting of any stored JSON document (metadata, a mission, a
    /// patch value), counted from its root. Defaults to 32 (at most 112).
    #[arg(long, env = "TANDEM_MAX_JSON_DEPTH", default_value_t = 32)]
    pub max_json_depth: usize,

    /// Bytes one request may make the JSON Patch engine copy, compare or
    /// remove (all operations of a patch; every patch of an import). Defaults to 16777216.
    #[arg(long, env = "TANDEM_MAX_PATCH_WORK_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_patch_work_bytes: usize,

    /// Most sessions one user may own. Defaults to 10000.
    #[arg(long, env = "TANDEM_MAX_SESSIONS_PER_USER", default_value_t = 10_000)]
    pub max_sessions_per_user: usize,

    /// Most WebSocket connections one user may hold on one node (0 = no
    /// limit). Defaults to 100.
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS_PER_USER", default_value_t = 100)]
    pub max_connections_per_user: usize,

    /// Largest REST request body in bytes (413 above). Defaults to 1048576.
    #[arg(long, env = "TANDEM_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest body of `POST /api/sessions/import` in bytes (413 above). Defaults to 16777216.
    #[arg(long, env = "TANDEM_MAX_IMPORT_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_import_bytes: usize,

    /// Time a client has to send a request's headers (also the idle time of a
    /// keep-alive connection); the connection is closed after it. Defaults to 10s.
    #[arg(long, env = "TANDEM_HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub http_header_timeout: Duration,

    /// Time a client has to send a request's body (408 after it). Defaults to 30s.
    #[arg(long, env = "TANDEM_HTTP_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub http_body_timeout: Duration,

    /// Most open client connections (HTTP and WebSocket); further clients wait
    /// in the listen backlog. 0 = the process's open-file limit minus a
    /// reserve. Defaults to 0.
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,

    /// Longest a `subscribe` may take before it fails with a temporary error
    /// the SDKs retry. Defaults to 5s.
    #[arg(long, env = "TANDEM_SUBSCRIBE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub subscribe_timeout: Duration,

    /// Activity pings closer together than this are not stored again. Defaults to 10s.
    #[arg(long, env = "TANDEM_ACTIVITY_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub activity_interval: Duration,

    /// At most one `session.activity` notice per session on collaborators'
    /// feeds this often (the latest state always goes out). Defaults to 1s.
    #[arg(long, env = "TANDEM_ACTIVITY_NOTICE_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub activity_notice_interval: Duration,

    /// A session with no write, no activity ping and nobody connected for this
    /// long becomes `abandoned` (the sweeper). Defaults to 24h.
    #[arg(long, env = "TANDEM_ABANDON_AFTER", default_value = "24h", value_parser = parse_duration)]
    pub abandon_after: Duration,

    /// An abandoned session becomes `archived` this long after it was
    /// abandoned. Defaults to 7d.
    #[arg(long, env = "TANDEM_ARCHIVE_AFTER", default_value = "7d", value_parser = parse_duration)]
    pub archive_after: Duration,

    /// How often each node's sweeper runs. Defaults to 60s.
    #[arg(long, env = "TANDEM_SWEEP_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub sweep_interval: Duration,

    /// Due sessions one sweep handles at the same time (their engine round
    /// trips overlap). 1 to 256. Defaults to 16.
    #[arg(long, env = "TANDEM_SWEEP_CONCURRENCY", default_value_t = 16)]
    pub sweep_concurrency: usize,

    /// When set, archived sessions are deleted (with their farewell event)
    /// this long after they were archived. Defaults to off (kept forever).
    #[arg(long, env = "TANDEM_DELETE_ARCHIVED_AFTER", value_parser = parse_duration)]
    pub delete_archived_after: Option<Duration>,

    /// WebSocket read buffer per connection in bytes (memory per idle connection). Defaults to 4096.
    #[arg(long, env = "TANDEM_WS_READ_BUFFER", default_value_t = 4096)]
    pub ws_read_buffer: usize,

    /// Serve Prometheus metrics (connections, commands, deliveries, engine
    /// latency, HTTP requests…) at `TANDEM_METRICS_PATH`. Defaults to true.
    #[arg(
        long,
        env = "TANDEM_METRICS",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    pub metrics: bool,

    /// Path of the Prometheus text endpoint (outside `/api`). Defaults to /metrics.
    #[arg(long, env = "TANDEM_METRICS_PATH", default_value = "/metrics")]
    pub metrics_path: String,

    /// API keys of the server API (`/api/server`, for application backends
    /// and agents), comma-separated so a key can be rotated (old and new both
    /// valid for a while). Each at least 16 bytes. Defaults to none: the
    /// server API is off and answers 404.
    #[arg(long, env = "TANDEM_SERVER_API_KEY", hide_env_values = true, value_parser = parse_api_keys)]
    pub server_api_key: Option<ApiKeys>,

    /// Most calls in one server API batch. Defaults to 100.
    #[arg(long, env = "TANDEM_SERVER_API_MAX_BATCH", default_value_t = 100)]
    pub server_api_max_batch: usize,

    /// Directory of the built browser frontend, served at `/` (`npm run build` in
    /// `frontend/`). A missing directory is not fatal: `/` then says how to build it.
    /// Defaults to frontend/dist.
    #[arg(long, env = "TANDEM_FRONTEND_DIR", default_value = "frontend/dist")]
    pub frontend_dir: PathBuf,
}

/// A Redis URL. It may carry a password, so `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisUrl(<redacted>)")
    }
}

fn parse_redis_url(text: &str) -> Result<RedisUrl, String> {
    Ok(RedisUrl(text.to_owned()))
}

/// The server API's keys. They never show in `Debug` output or logs.
#[derive(Clone)]
pub struct ApiKeys(Vec<Secret>);

impl ApiKeys {
    /// The keys, for comparison only.
    pub fn keys(&self) -> &[Secret] {
        &self.0
    }
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys, redacted)", self.0.len())
    }
}

/// Shortest accepted server API key, in bytes.
pub const MIN_API_KEY_BYTES: usize = 16;

/// Splits the keys; they are checked by [`Config::validate`], because a
/// parser error would echo the value (a secret).
fn parse_api_keys(text: &str) -> Result<ApiKeys, String> {
    Ok(ApiKeys(
        text.split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(Secret::new)
            .collect(),
    ))
}

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    /// The environment variable of the setting.
    pub setting: &'static str,
    /// What is wrong.
    pub problem: String,
}

fn bad(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

/// Validated settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The flags as given.
    pub config: Config,
    /// The HS256 secret in force (given, or generated in dev mode).
    pub hs256_secret: Option<Secret>,
    /// Whether the secret was generated for this run (dev mode without
    /// `TANDEM_DEV_SECRET_FILE`: tokens die with the process).
    pub secret_generated: bool,
    /// Dev mode with `TANDEM_DEV_SECRET_FILE`: whether the secret in that
    /// file was reused or created.
    pub dev_secret: Option<crate::auth::dev_secret::Origin>,
}

impl Settings {
    /// Token verification settings.
    pub fn verifier(&self) -> VerifierConfig {
        VerifierConfig {
            hs256_secret: self.hs256_secret.clone(),
            hs256_previous: self.config.jwt_hs256_previous_secrets.clone(),
            public_key_file: self.config.jwt_public_key_file.clone(),
            issuer: self.config.jwt_issuer.clone(),
            audience: self.config.jwt_audience.clone(),
            leeway: self.config.jwt_leeway,
        }
    }

    /// Domain validation limits.
    pub fn domain(&self) -> crate::sessions::DomainLimits {
        let c = &self.config;
        crate::sessions::DomainLimits {
            max_name_chars: c.max_name_chars,
            max_message_bytes: c.max_message_bytes,
            max_metadata_bytes: c.max_metadata_bytes,
            max_patch_ops: c.max_patch_ops,
            max_collaborators: c.max_collaborators,
            max_asset_bytes: c.max_asset_bytes,
            max_mission_bytes: c.max_mission_bytes,
            max_assets: c.max_assets,
            max_json_depth: c.max_json_depth,
            max_patch_work_bytes: c.max_patch_work_bytes,
            max_sessions_per_user: c.max_sessions_per_user,
            activity_interval: c.activity_interval,
            activity_notice_interval: c.activity_notice_interval,
        }
    }

    /// Redis engine settings.
    pub fn redis(&self) -> crate::engine::redis::RedisConfig {
        crate::engine::redis::RedisConfig {
            url: self.config.redis_url.as_str().to_owned(),
            prefix: self.config.redis_prefix.clone(),
            new_epoch_on_restart: self.config.redis_new_epoch_on_restart,
            cluster_nodes: self
                .config
                .redis_cluster_nodes
                .iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect(),
            repair_interval: self.config.redis_repair_interval,
            wait_replicas: self.config.redis_wait_replicas,
            fault_skip_index_update: self.config.test_fault_skip_index_update,
        }
    }

    /// Sweeper settings.
    pub fn sweeper(&self) -> crate::sweeper::SweeperConfig {
        crate::sweeper::SweeperConfig {
            abandon_after: self.config.abandon_after,
            archive_after: self.config.archive_after,
            interval: self.config.sweep_interval,
            delete_archived_after: self.config.delete_archived_after,
            concurrency: self.config.sweep_concurrency,
            ..Default::default()
        }
    }

    /// Engine settings.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            history_size: self.config.history_size,
            history_ttl: self.config.history_ttl,
            presence_ttl: self.config.presence_ttl,
        }
    }
}

/// Shortest accepted HS256 secret.
pub const MIN_SECRET_BYTES: usize = 32;

impl Config {
    /// The pong timeout in force.
    pub fn pong_timeout(&self) -> Duration {
        self.pong_timeout
            .unwrap_or_else(|| Duration::from_secs(10).min(self.ping_interval / 2))
    }

    /// Checks every setting and picks the JWT secret.
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let mut secret_generated = false;
        let mut dev_secret = None;
        let hs256_secret = match (&self.jwt_hs256_secret, &self.jwt_public_key_file, self.dev) {
            (Some(s), _, _) if s.expose().len() < MIN_SECRET_BYTES => {
                return Err(bad(
                    "TANDEM_JWT_HS256_SECRET",
                    format!("must be at least {MIN_SECRET_BYTES} bytes long"),
                ))
            }
            (Some(s), _, _) => Some(s.clone()),
            (None, None, true) => match &self.dev_secret_file {
                Some(path) => {
                    let (secret, origin) =
                        crate::auth::dev_secret::load_or_create(path, MIN_SECRET_BYTES)
                            .map_err(|problem| bad("TANDEM_DEV_SECRET_FILE", problem))?;
                    dev_secret = Some(origin);
                    Some(secret)
                }
                None => {
                    secret_generated = true;
                    Some(crate::auth::dev_secret::generate())
                }
            },
            (None, None, false) => {
                return Err(bad(
                    "TANDEM_JWT_HS256_SECRET",
                    "no token key configured: set TANDEM_JWT_HS256_SECRET or TANDEM_JWT_PUBLIC_KEY_FILE \
                     (or run with --dev for a throw-away secret)",
                ))
            }
            (None, Some(_), _) => None,
        };
        if !self.jwt_hs256_previous_secrets.is_empty() {
            if self.jwt_hs256_secret.is_none() {
                return Err(bad(
                    "TANDEM_JWT_HS256_PREVIOUS_SECRETS",
                    "needs TANDEM_JWT_HS256_SECRET (the current secret)",
                ));
            }
            if self
                .jwt_hs256_previous_secrets
                .iter()
                .any(|s| s.expose().len() < MIN_SECRET_BYTES)
            {
                return Err(bad(
                    "TANDEM_JWT_HS256_PREVIOUS_SECRETS",
                    format!("each secret must be at least {MIN_SECRET_BYTES} bytes long"),
                ));
            }
        }
        if self.engine == EngineKind::Redis {
            let nodes: Vec<String> = self
                .redis_cluster_nodes
                .iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect();
            let (setting, urls) = match crate::engine::redis::Topology::from_settings(
                self.redis_url.as_str(),
                &nodes,
            ) {
                Ok(crate::engine::redis::Topology::Single(url)) => ("TANDEM_REDIS_URL", vec![url]),
                Ok(crate::engine::redis::Topology::Cluster(seeds)) if nodes.is_empty() => {
                    ("TANDEM_REDIS_URL", seeds)
                }
                Ok(crate::engine::redis::Topology::Cluster(seeds)) => {
                    ("TANDEM_REDIS_CLUSTER_NODES", seeds)
                }
                Err(problem) => return Err(bad("TANDEM_REDIS_URL", problem)),
            };
            for url in urls {
                if let Err(err) = ::redis::Client::open(url.as_str()) {
                    return Err(bad(setting, format!("not a usable Redis URL: {err}")));
                }
            }
            if self.redis_repair_interval < Duration::from_millis(100) {
                return Err(bad(
                    "TANDEM_REDIS_REPAIR_INTERVAL",
                    "must be at least 100ms",
                ));
            }
            crate::engine::redis::validate_prefix(&self.redis_prefix)
                .map_err(|problem| bad("TANDEM_REDIS_PREFIX", problem))?;
        }
        if self.history_size == 0 {
            return Err(bad("TANDEM_HISTORY_SIZE", "must be at least 1"));
        }
        if self.history_ttl.is_zero() {
            return Err(bad("TANDEM_HISTORY_TTL", "must be longer than 0"));
        }
        if self.max_frame_bytes < 1024 {
            return Err(bad("TANDEM_MAX_FRAME_BYTES", "must be at least 1024"));
        }
        if self.max_queue == 0 {
            return Err(bad("TANDEM_MAX_QUEUE", "must be at least 1"));
        }
        if self.max_queue_bytes < 1024 {
            return Err(bad("TANDEM_MAX_QUEUE_BYTES", "must be at least 1024"));
        }
        if self.max_channels == 0 {
            return Err(bad("TANDEM_MAX_CHANNELS", "must be at least 1"));
        }
        if self.ping_interval < Duration::from_secs(1) {
            return Err(bad("TANDEM_PING_INTERVAL", "must be at least 1s"));
        }
        let pong_timeout = self.pong_timeout();
        if pong_timeout.is_zero() || pong_timeout >= self.ping_interval {
            return Err(bad(
                "TANDEM_PONG_TIMEOUT",
                "must be longer than 0 and shorter than TANDEM_PING_INTERVAL",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(bad("TANDEM_CONNECT_TIMEOUT", "must be longer than 0"));
        }
        if self.presence_ttl < Duration::from_secs(1) {
            return Err(bad("TANDEM_PRESENCE_TTL", "must be at least 1s"));
        }
        for (setting, value) in [
            ("TANDEM_MAX_NAME_CHARS", self.max_name_chars),
            ("TANDEM_MAX_MESSAGE_BYTES", self.max_message_bytes),
            ("TANDEM_MAX_METADATA_BYTES", self.max_metadata_bytes),
            ("TANDEM_MAX_PATCH_OPS", self.max_patch_ops),
            ("TANDEM_MAX_ASSET_BYTES", self.max_asset_bytes),
            ("TANDEM_MAX_MISSION_BYTES", self.max_mission_bytes),
            ("TANDEM_MAX_ASSETS", self.max_assets),
            ("TANDEM_MAX_PATCH_WORK_BYTES", self.max_patch_work_bytes),
            ("TANDEM_MAX_SESSIONS_PER_USER", self.max_sessions_per_user),
            ("TANDEM_MAX_BODY_BYTES", self.max_body_bytes),
            ("TANDEM_MAX_IMPORT_BYTES", self.max_import_bytes),
        ] {
            if value == 0 {
                return Err(bad(setting, "must be at least 1"));
            }
        }
        if !(4..=crate::sessions::limits::MAX_JSON_DEPTH_SETTING).contains(&self.max_json_depth) {
            return Err(bad(
                "TANDEM_MAX_JSON_DEPTH",
                format!(
                    "must be between 4 and {} (stored records add levels above it and must stay readable)",
                    crate::sessions::limits::MAX_JSON_DEPTH_SETTING
                ),
            ));
        }
        for (setting, value) in [
            ("TANDEM_HTTP_HEADER_TIMEOUT", self.http_header_timeout),
            ("TANDEM_HTTP_BODY_TIMEOUT", self.http_body_timeout),
            ("TANDEM_SUBSCRIBE_TIMEOUT", self.subscribe_timeout),
            (
                "TANDEM_ACTIVITY_NOTICE_INTERVAL",
                self.activity_notice_interval,
            ),
        ] {
            if value < Duration::from_millis(100) {
                return Err(bad(setting, "must be at least 100ms"));
            }
        }
        if self.max_collaborators < 1 {
            return Err(bad(
                "TANDEM_MAX_COLLABORATORS",
                "must be at least 1 (the owner)",
            ));
        }
        const HUNDRED_YEARS: Duration = Duration::from_secs(100 * 365 * 86_400);
        for (setting, value) in [
            ("TANDEM_ABANDON_AFTER", Some(self.abandon_after)),
            ("TANDEM_ARCHIVE_AFTER", Some(self.archive_after)),
            ("TANDEM_DELETE_ARCHIVED_AFTER", self.delete_archived_after),
        ] {
            match value {
                Some(v) if v < Duration::from_millis(1) => {
                    return Err(bad(setting, "must be at least 1ms"))
                }
                Some(v) if v > HUNDRED_YEARS => {
                    return Err(bad(setting, "must be at most 100 years"))
                }
                _ => {}
            }
        }
        if !(1..=256).contains(&self.sweep_concurrency) {
            return Err(bad("TANDEM_SWEEP_CONCURRENCY", "must be between 1 and 256"));
        }
        if self.sweep_interval < Duration::from_millis(10) || self.sweep_interval > HUNDRED_YEARS {
            return Err(bad(
                "TANDEM_SWEEP_INTERVAL",
                "must be between 10ms and 100 years",
            ));
        }
        if self.drain_delay > Duration::from_secs(600) {
            return Err(bad("TANDEM_DRAIN_DELAY", "must be at most 10m"));
        }
        if self.ws_read_buffer < 256 {
            return Err(bad("TANDEM_WS_READ_BUFFER", "must be at least 256"));
        }
        if !self.metrics_path.starts_with('/')
            || ["/", "/api", "/healthz", "/readyz"].contains(&self.metrics_path.as_str())
            || self.metrics_path.starts_with("/api/")
            || self.metrics_path.starts_with("/connection/")
            || self.metrics_path.contains(['{', '}', '*', '?', '#'])
        {
            return Err(bad(
                "TANDEM_METRICS_PATH",
                "must be a plain path like /metrics, outside /api and /connection",
            ));
        }
        if let Some(keys) = &self.server_api_key {
            if keys.keys().is_empty() {
                return Err(bad(
                    "TANDEM_SERVER_API_KEY",
                    "give at least one key (comma-separated), or leave it unset",
                ));
            }
            if keys
                .keys()
                .iter()
                .any(|k| k.expose().len() < MIN_API_KEY_BYTES)
            {
                return Err(bad(
                    "TANDEM_SERVER_API_KEY",
                    format!("every key must be at least {MIN_API_KEY_BYTES} bytes long"),
                ));
            }
        }
        if !(1..=10_000).contains(&self.server_api_max_batch) {
            return Err(bad(
                "TANDEM_SERVER_API_MAX_BATCH",
                "must be between 1 and 10000",
            ));
        }
        for origin in &self.allowed_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(bad(
                    "TANDEM_ALLOWED_ORIGINS",
                    format!("{origin:?} is not `*` or an http(s) origin"),
                ));
            }
        }
        Ok(Settings {
            config: self,
            hs256_secret,
            secret_generated,
            dev_secret,
        })
    }
}

fn parse_secret(text: &str) -> Result<Secret, String> {
    Ok(Secret::new(text))
}

/// Parses `90s`, `15m`, `24h`, `7d`, `250ms` (humantime).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like 90s, 15m, 24h or 7d: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, ConfigError> {
        let mut all = vec!["tandem"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap().config.validate()
    }

    #[test]
    fn no_secret_is_an_error_unless_dev() {
        let err = parse(&[]).unwrap_err();
        assert_eq!(err.setting, "TANDEM_JWT_HS256_SECRET");
        let s = "0123456789abcdef0123456789abcdef";
        let ok = parse(&[
            "--jwt-hs256-secret",
            s,
            "--jwt-hs256-previous-secrets",
            "previous-secret-number-one-xxxxx,previous-secret-number-two-xxxxx",
        ])
        .unwrap();
        assert_eq!(ok.verifier().hs256_previous.len(), 2);
        assert_eq!(
            parse(&[
                "--jwt-hs256-secret",
                s,
                "--jwt-hs256-previous-secrets",
                "short"
            ])
            .unwrap_err()
            .setting,
            "TANDEM_JWT_HS256_PREVIOUS_SECRETS"
        );
        let dev = parse(&["--dev"]).unwrap();
        assert!(dev.secret_generated);
    }

    #[test]
    fn short_secret_and_bad_limits_name_the_setting() {
        assert_eq!(
            parse(&["--jwt-hs256-secret", "short"]).unwrap_err().setting,
            "TANDEM_JWT_HS256_SECRET"
        );
        let s = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse(&["--jwt-hs256-secret", s, "--max-queue", "0"])
                .unwrap_err()
                .setting,
            "TANDEM_MAX_QUEUE"
        );
        assert_eq!(
            parse(&["--jwt-hs256-secret", s, "--pong-timeout", "30s"])
                .unwrap_err()
                .setting,
            "TANDEM_PONG_TIMEOUT"
        );
        assert_eq!(
            parse(&["--jwt-hs256-secret", s, "--allowed-origins", "example.com"])
                .unwrap_err()
                .setting,
            "TANDEM_ALLOWED_ORIGINS"
        );
    }

    #[test]
    fn dev_secret_file_keeps_the_secret_across_starts() {
        let dir = std::env::temp_dir().join(format!("tandem-cfg-{}", uuid::Uuid::new_v4()));
        let file = dir.join("dev-secret");
        let file_arg = file.to_string_lossy().into_owned();
        let first = parse(&["--dev", "--dev-secret-file", &file_arg]).unwrap();
        assert!(!first.secret_generated);
        assert_eq!(
            first.dev_secret,
            Some(crate::auth::dev_secret::Origin::Created)
        );
        let second = parse(&["--dev", "--dev-secret-file", &file_arg]).unwrap();
        assert_eq!(
            second.dev_secret,
            Some(crate::auth::dev_secret::Origin::Reused)
        );
        let (a, b) = (first.hs256_secret.unwrap(), second.hs256_secret.unwrap());
        assert_eq!(a.expose(), b.expose());
        // A configured secret wins; the file is not used.
        let s = "0123456789abcdef0123456789abcdef";
        let given = parse(&[
            "--dev",
            "--dev-secret-file",
            &file_arg,
            "--jwt-hs256-secret",
            s,
        ])
        .unwrap();
        assert_eq!(given.hs256_secret.unwrap().expose(), s.as_bytes());
        assert_eq!(given.dev_secret, None);
        std::fs::write(&file, "short").unwrap();
        assert_eq!(
            parse(&["--dev", "--dev-secret-file", &file_arg])
                .unwrap_err()
                .setting,
            "TANDEM_DEV_SECRET_FILE"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn drain_delay_defaults_to_zero_and_is_bounded() {
        let s = "0123456789abcdef0123456789abcdef";
        let settings = parse(&["--jwt-hs256-secret", s]).unwrap();
        assert_eq!(settings.config.drain_delay, Duration::ZERO);
        let settings = parse(&["--jwt-hs256-secret", s, "--drain-delay", "5s"]).unwrap();
        assert_eq!(settings.config.drain_delay, Duration::from_secs(5));
        assert_eq!(
            parse(&["--jwt-hs256-secret", s, "--drain-delay", "11m"])
                .unwrap_err()
                .setting,
            "TANDEM_DRAIN_DELAY"
        );
    }

    #[test]
    fn pong_timeout_follows_a_short_ping_interval() {
        let s = "0123456789abcdef0123456789abcdef";
        let settings = parse(&["--jwt-hs256-secret", s, "--ping-interval", "5s"]).unwrap();
        assert_eq!(settings.config.pong_timeout(), Duration::from_millis(2500));
        let settings = parse(&["--jwt-hs256-secret", s]).unwrap();
        assert_eq!(settings.config.pong_timeout(), Duration::from_secs(10));
    }

    #[test]
    fn cluster_settings_are_parsed_and_checked() {
        let s = "0123456789abcdef0123456789abcdef";
        let base = ["--jwt-hs256-secret", s, "--engine", "redis"];
        let settings = parse(&base).unwrap();
        let redis = settings.redis();
        assert!(redis.cluster_nodes.is_empty(), "one Redis by default");
        assert_eq!(redis.repair_interval, Duration::from_secs(30));
        assert_eq!(redis.wait_replicas, 0);
        assert!(!redis.fault_skip_index_update);
        let mut nodes = base.to_vec();
        nodes.extend([
            "--redis-cluster-nodes",
            "127.0.0.1:7000, 127.0.0.1:7001",
            "--redis-repair-interval",
            "2s",
            "--redis-wait-replicas",
            "1",
        ]);
        let redis = parse(&nodes).unwrap().redis();
        assert_eq!(redis.cluster_nodes, ["127.0.0.1:7000", "127.0.0.1:7001"]);
        assert_eq!(redis.repair_interval, Duration::from_secs(2));
        assert_eq!(redis.wait_replicas, 1);
        let mut url = base.to_vec();
        url.extend(["--redis-url", "redis+cluster://a:7000,b:7001"]);
        assert!(parse(&url).is_ok());
        let mut empty = base.to_vec();
        empty.extend(["--redis-url", "redis+cluster://"]);
        assert_eq!(parse(&empty).unwrap_err().setting, "TANDEM_REDIS_URL");
        let mut bad_node = base.to_vec();
        bad_node.extend(["--redis-cluster-nodes", "http://x:1"]);
        assert_eq!(
            parse(&bad_node).unwrap_err().setting,
            "TANDEM_REDIS_CLUSTER_NODES"
        );
        let mut short = base.to_vec();
        short.extend(["--redis-repair-interval", "10ms"]);
        assert_eq!(
            parse(&short).unwrap_err().setting,
            "TANDEM_REDIS_REPAIR_INTERVAL"
        );
    }

    #[test]
    fn redis_settings_are_checked_only_for_the_redis_engine() {
        let s = "0123456789abcdef0123456789abcdef";
        let bad_url = ["--jwt-hs256-secret", s, "--redis-url", "http://nope"];
        assert!(parse(&bad_url).is_ok());
        let mut redis = bad_url.to_vec();
        redis.extend(["--engine", "redis"]);
        assert_eq!(parse(&redis).unwrap_err().setting, "TANDEM_REDIS_URL");
        let prefix = [
            "--jwt-hs256-secret",
            s,
            "--engine",
            "redis",
            "--redis-prefix",
            "a{b}",
        ];
        assert_eq!(parse(&prefix).unwrap_err().setting, "TANDEM_REDIS_PREFIX");
        let ok = ["--jwt-hs256-secret", s, "--engine", "redis"];
        let settings = parse(&ok).unwrap();
        assert_eq!(settings.config.redis_url.as_str(), "redis://127.0.0.1:6379");
        let with_password = [
            "--jwt-hs256-secret",
            s,
            "--redis-url",
            "redis://:hunter2@db:6379",
        ];
        let settings = parse(&with_password).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
        assert_eq!(settings.config.redis_prefix, "tandem");
    }

    #[test]
    fn metrics_and_server_api_settings_are_checked() {
        let s = "0123456789abcdef0123456789abcdef";
        let settings = parse(&["--jwt-hs256-secret", s]).unwrap();
        assert!(settings.config.metrics);
        assert_eq!(settings.config.metrics_path, "/metrics");
        assert!(settings.config.server_api_key.is_none());
        assert_eq!(settings.config.server_api_max_batch, 100);
        for path in ["metrics", "/", "/api", "/api/metrics", "/readyz", "/m/{x}"] {
            assert_eq!(
                parse(&["--jwt-hs256-secret", s, "--metrics-path", path])
                    .unwrap_err()
                    .setting,
                "TANDEM_METRICS_PATH",
                "{path}"
            );
        }
        assert_eq!(
            parse(&["--jwt-hs256-secret", s, "--server-api-max-batch", "0"])
                .unwrap_err()
                .setting,
            "TANDEM_SERVER_API_MAX_BATCH"
        );
        let keys = "first-key-0123456789,second-key-0123456789";
        let settings = parse(&["--jwt-hs256-secret", s, "--server-api-key", keys]).unwrap();
        let parsed = settings.config.server_api_key.clone().unwrap();
        assert_eq!(parsed.keys().len(), 2);
        assert!(!format!("{settings:?}").contains("key-0123456789"));
        // Short or empty keys are refused, and the refusal does not echo them.
        for bad in ["short", "first-key-0123456789,tiny", " , "] {
            let err = parse(&["--jwt-hs256-secret", s, "--server-api-key", bad]).unwrap_err();
            assert_eq!(err.setting, "TANDEM_SERVER_API_KEY");
            let text = err.to_string();
            assert!(!text.contains("tiny") && !text.contains("short"), "{text}");
        }
    }

    #[test]
    fn durations_accept_human_forms() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert!(parse_duration("soon").is_err());
        assert!(Cli::try_parse_from(["tandem", "--history-ttl", "soon"]).is_err());
    }
}
