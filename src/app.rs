//! Building and running the server: settings → engine, hub, node → router →
//! listener. Tests build an `App` on port 0 and run it with their own
//! shutdown future; `main` runs it until SIGINT/SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{MatchedPath, Request};
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::auth::jwt::TokenVerifier;
use crate::auth::TokenMinter;
use crate::config::{EngineKind, Settings};
use crate::engine::memory::MemoryEngine;
use crate::engine::redis::RedisEngine;
use crate::engine::{Broker, Engine};
use crate::http::{self, HttpLimits};
use crate::hub::Hub;
use crate::node::{ClientLimits, Node, NodeParts};
use crate::observe::engine::MeteredEngine;
use crate::observe::Metrics;
use crate::rpc::{RpcRouter, ServerInfo};
use crate::sessions::store::SessionStore;
use crate::sessions::SessionService;
use crate::shutdown::Shutdown;
pub use crate::state::AppState;
use crate::state::ServerApiSettings;
use crate::sweeper::Sweeper;
use crate::{api, observe, ops, web, ws};

/// How long a node waits at start for its engine to be ready before it
/// accepts clients anyway (and reports not ready).
const STARTUP_READY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A built server, bound but not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    settings: Settings,
    sweeper: Sweeper,
    engine: Arc<dyn Engine>,
    /// Most open client connections (`TANDEM_MAX_CONNECTIONS`, resolved).
    max_connections: usize,
}

impl App {
    /// Binds the listener and assembles the node.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let config = &settings.config;
        let shutdown = Shutdown::new();
        let metrics = if config.metrics {
            Metrics::new()
        } else {
            Metrics::disabled()
        };
        shutdown
            .tracker()
            .spawn(metrics.clone().run_upkeep(shutdown.token()));
        let hub = Hub::new(
            config.max_queue,
            config.max_connections_per_user,
            metrics.clone(),
        );
        let engine: Arc<dyn Engine> = match config.engine {
            EngineKind::Memory => {
                let memory = MemoryEngine::new(settings.engine(), Arc::new(hub.clone()));
                shutdown
                    .tracker()
                    .spawn(memory.clone().run_cleanup(shutdown.token()));
                Arc::new(memory)
            }
            EngineKind::Redis => {
                let redis =
                    RedisEngine::new(&settings.redis(), settings.engine(), Arc::new(hub.clone()))
                        .context("TANDEM_REDIS_URL: cannot set up the Redis engine")?;
                shutdown
                    .tracker()
                    .spawn(redis.clone().run(shutdown.token()));
                // On a cluster: replays index updates a crashed node left pending.
                shutdown
                    .tracker()
                    .spawn(redis.clone().run_repair(shutdown.token()));
                // Clients are accepted once the pub/sub connection is up
                // (bounded: a Redis that is down does not keep the node from
                // starting; it reports not ready until Redis answers).
                if !redis.wait_ready(STARTUP_READY_WAIT).await {
                    tracing::warn!(
                        "Redis is not reachable yet; the node reports not ready until it is"
                    );
                }
                Arc::new(redis)
            }
        };
        // Every engine call of the node, the service and the sweeper is measured here.
        let engine = MeteredEngine::wrap(engine, metrics.clone());
        let verifier = TokenVerifier::new(&settings.verifier())?;
        let node_id = uuid::Uuid::new_v4().to_string();
        let sessions = SessionService::new(
            engine.clone() as Arc<dyn SessionStore>,
            engine.clone() as Arc<dyn Broker>,
            settings.domain(),
        );
        shutdown
            .tracker()
            .spawn(sessions.clone().run_activity_feed(shutdown.token()));
        let sweeper = Sweeper::new(
            sessions.clone(),
            engine.clone(),
            settings.sweeper(),
            metrics.clone(),
        );
        shutdown
            .tracker()
            .spawn(sweeper.clone().run(shutdown.token()));
        let mut rpc = RpcRouter::new();
        rpc.register("server.info", ServerInfo::new(&node_id, engine.name())?);
        crate::rpc::sessions::register(&mut rpc, &sessions);
        let limits = ClientLimits {
            max_queue: config.max_queue,
            max_queue_bytes: config.max_queue_bytes,
            max_channels: config.max_channels,
            max_commands_per_second: config.max_commands_per_second,
            history_cap: config.history_size,
            ping_interval: config.ping_interval,
            pong_timeout: config.pong_timeout(),
            connect_timeout: config.connect_timeout,
            expiry_grace: config.expiry_grace,
            presence_refresh: config.presence_ttl / 3,
            subscribe_timeout: config.subscribe_timeout,
        };
        let node = Node::new(NodeParts {
            id: node_id,
            hub,
            broker: engine.clone() as Arc<dyn Broker>,
            sessions,
            verifier,
            rpc,
            limits,
            metrics,
        });
        let minter = match (&settings.hs256_secret, config.dev) {
            (Some(secret), true) => Some(Arc::new(TokenMinter::new(secret))),
            _ => None,
        };
        let state = AppState {
            node,
            shutdown,
            allowed_origins: Arc::new(config.allowed_origins.clone()),
            max_frame_bytes: config.max_frame_bytes,
            read_buffer: config.ws_read_buffer,
            minter,
            server_api: config.server_api_key.clone().map(|keys| {
                Arc::new(ServerApiSettings {
                    keys,
                    max_batch: config.server_api_max_batch,
                })
            }),
        };
        let router = router(state.clone(), config);
        let max_connections =
            http::connection_cap(config.max_connections, http::raise_open_file_limit());
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("TANDEM_LISTEN: cannot listen on {}", config.listen))?;
        Ok(Self {
            listener,
            router,
            state,
            settings,
            sweeper,
            engine,
            max_connections,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The node (for tests and embedding).
    pub fn node(&self) -> &Node {
        &self.state.node
    }

    /// The engine (for tests and embedding: transports go through the node).
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// This node's sweeper (tests call [`Sweeper::sweep_once`] on it).
    pub fn sweeper(&self) -> &Sweeper {
        &self.sweeper
    }

    /// Serves until `signal` resolves, then shuts down gracefully: drain for
    /// `TANDEM_DRAIN_DELAY` (`/readyz` 503 `draining`, new WebSocket clients
    /// refused), stop accepting, tell every client to reconnect elsewhere
    /// (3001), wait for connections to finish, bounded by the shutdown timeout.
    pub async fn run(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shutdown = self.state.shutdown.clone();
        let stop = shutdown.token();
        let config = &self.settings.config;
        let watch = shutdown.clone();
        let drain_delay = config.drain_delay;
        let clients = self.state.node.clone();
        tokio::spawn(async move {
            let token = watch.token();
            tokio::select! {
                _ = signal => {}
                _ = token.cancelled() => return,
            }
            // Draining: out of rotation (`/readyz` 503), no new clients, the
            // connected ones keep working until the delay is over.
            watch.drain();
            tracing::info!(
                ?drain_delay,
                clients = clients.stats().clients,
                "draining: /readyz reports draining and new clients are refused"
            );
            tokio::select! {
                _ = tokio::time::sleep(drain_delay) => {}
                _ = token.cancelled() => {}
            }
            watch.begin();
        });
        let limits = HttpLimits {
            header_timeout: config.http_header_timeout,
            max_connections: self.max_connections,
        };
        http::serve(
            self.listener,
            self.router,
            limits,
            stop,
            shutdown.tracker(),
            config.shutdown_timeout,
        )
        .await;
        shutdown.begin();
        tracing::info!(clients = self.state.node.stats().clients, "shutting down");
        let tracker = shutdown.tracker();
        tracker.close();
        let timeout = config.shutdown_timeout;
        if tokio::time::timeout(timeout, tracker.wait()).await.is_err() {
            tracing::warn!(?timeout, "some connections did not finish in time");
        }
        Ok(())
    }
}

fn router(state: AppState, config: &crate::config::Config) -> Router {
    let body_limits = api::BodyLimits {
        body: config.max_body_bytes,
        import: config.max_import_bytes,
    };
    let mut router = Router::new()
        .route("/connection/websocket", get(ws::upgrade::handler))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .merge(api::routes(body_limits));
    if state.minter.is_some() {
        router = router.route("/api/dev/token", post(api::dev::token));
    }
    // Mounted even when off, so a scrape gets a 404, not the frontend's page.
    router = router.route(&config.metrics_path, get(ops::metrics));
    let metrics = state.node.metrics().clone();
    // Last: the frontend answers only what no route above matched.
    let mut router = web::mount(router, &config.frontend_dir)
        .method_not_allowed_fallback(api::error::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            config.http_body_timeout,
            api::timeout::limit,
        ));
    if metrics.is_enabled() {
        router = router.layer(middleware::from_fn_with_state(
            metrics,
            observe::http::track,
        ));
    }
    router
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of one request: method and path, never the query string (it may
/// carry a token).
fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        route,
    )
}
