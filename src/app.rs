//! Building and running the server: settings → engine, hub, node → router →
//! listener. Tests build an `App` on port 0 and run it with their own
//! shutdown future; `main` runs it until SIGINT/SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::auth::jwt::TokenVerifier;
use crate::auth::TokenMinter;
use crate::config::{EngineKind, Settings};
use crate::engine::memory::MemoryEngine;
use crate::engine::redis::RedisEngine;
use crate::engine::Engine;
use crate::hub::Hub;
use crate::node::{ClientLimits, Node, NodeParts};
use crate::protocol::Codec;
use crate::rpc::{RpcRouter, ServerInfo};
use crate::sessions::SessionService;
use crate::shutdown::Shutdown;
use crate::sweeper::Sweeper;
use crate::{api, ops, web, ws};

/// What HTTP handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The node.
    pub node: Node,
    /// Shutdown root (connections are tracked on it).
    pub shutdown: Shutdown,
    /// Allowed WebSocket origins.
    pub allowed_origins: Arc<Vec<String>>,
    /// Largest inbound message.
    pub max_frame_bytes: usize,
    /// WebSocket read buffer size.
    pub read_buffer: usize,
    /// Token minter for the demo login (dev mode only).
    pub minter: Option<Arc<TokenMinter>>,
}

/// A built server, bound but not yet serving.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    settings: Settings,
    sweeper: Sweeper,
}

impl App {
    /// Binds the listener and assembles the node.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let config = &settings.config;
        let shutdown = Shutdown::new();
        let hub = Hub::new(Codec::Json, config.max_queue);
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
                if let Err(err) = redis.ping().await {
                    tracing::warn!(error = %err, "Redis is not reachable yet; the node reports not ready until it is");
                }
                Arc::new(redis)
            }
        };
        let verifier = TokenVerifier::new(&settings.verifier())?;
        let node_id = uuid::Uuid::new_v4().to_string();
        let sessions = SessionService::new(engine.clone(), settings.domain());
        let sweeper = Sweeper::new(sessions.clone(), engine.clone(), settings.sweeper());
        shutdown
            .tracker()
            .spawn(sweeper.clone().run(shutdown.token()));
        let mut rpc = RpcRouter::new();
        rpc.register("server.info", ServerInfo::new(&node_id, engine.name())?);
        crate::sessions::rpc::register(&mut rpc, &sessions);
        let limits = ClientLimits {
            max_queue: config.max_queue,
            max_channels: config.max_channels,
            max_commands_per_second: config.max_commands_per_second,
            history_cap: config.history_size,
            ping_interval: config.ping_interval,
            pong_timeout: config.pong_timeout(),
            connect_timeout: config.connect_timeout,
            expiry_grace: config.expiry_grace,
            presence_refresh: config.presence_ttl / 3,
        };
        let node = Node::new(NodeParts {
            id: node_id,
            hub,
            engine,
            sessions,
            verifier,
            rpc,
            limits,
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
        };
        let router = router(state.clone(), &config.frontend_dir);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("TANDEM_LISTEN: cannot listen on {}", config.listen))?;
        Ok(Self {
            listener,
            router,
            state,
            settings,
            sweeper,
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

    /// This node's sweeper (tests call [`Sweeper::sweep_once`] on it).
    pub fn sweeper(&self) -> &Sweeper {
        &self.sweeper
    }

    /// Serves until `signal` resolves, then shuts down gracefully: stop
    /// accepting, tell every client to reconnect elsewhere (3001), wait for
    /// connections to finish, bounded by the shutdown timeout.
    pub async fn run(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shutdown = self.state.shutdown.clone();
        let token = shutdown.token();
        let stop = token.clone();
        // Real-time pushes are small: send them at once instead of waiting for
        // the peer's acknowledgement (Nagle).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "could not set TCP_NODELAY");
            }
        });
        let server = axum::serve(listener, self.router).with_graceful_shutdown(async move {
            tokio::select! {
                _ = signal => {},
                _ = stop.cancelled() => {},
            }
            stop.cancel();
        });
        let served = server.await;
        shutdown.begin();
        tracing::info!(
            clients = self.state.node.hub().client_count(),
            "shutting down"
        );
        let tracker = shutdown.tracker();
        tracker.close();
        let timeout = self.settings.config.shutdown_timeout;
        if tokio::time::timeout(timeout, tracker.wait()).await.is_err() {
            tracing::warn!(?timeout, "some connections did not finish in time");
        }
        served.context("http server failed")
    }
}

fn router(state: AppState, frontend_dir: &std::path::Path) -> Router {
    let mut router = Router::new()
        .route("/connection/websocket", get(ws::upgrade::handler))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .merge(api::routes());
    if state.minter.is_some() {
        router = router.route("/api/dev/token", post(api::dev::token));
    }
    // Last: the frontend answers only what no route above matched.
    let router = web::mount(router, frontend_dir);
    router.layer(TraceLayer::new_for_http()).with_state(state)
}
