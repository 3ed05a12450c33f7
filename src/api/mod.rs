//! The HTTP API under `/api` (SPEC §5): a thin adapter over
//! [`SessionService`](crate::sessions::SessionService), the same service the
//! RPC methods call, so REST and RPC cannot disagree.
//!
//! - [`extract`]: the caller (`Authorization: Bearer <JWT>`) and JSON bodies.
//! - [`error`]: one error type, `{"error": {"code", "message"}}`, mapped once.
//! - a file per resource: [`sessions`], [`lifecycle`], [`collaborators`],
//!   [`chat`], [`missions`], [`assets`], [`events`], [`transfer`].
//! - [`server`]: the server API for application backends (`/api/server`, API key).
//! - [`openapi`]: the OpenAPI 3 document at `GET /api/openapi.json`.
//! - [`dev`]: the demo login of dev mode (routed by `app`).
//!
//! Human documentation: `docs/api.md`.

use axum::extract::DefaultBodyLimit;
use axum::routing::any;
use axum::Router;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub mod assets;
pub mod chat;
pub mod collaborators;
pub mod dev;
pub mod error;
pub mod events;
pub mod extract;
pub mod info;
pub mod lifecycle;
pub mod missions;
pub mod openapi;
pub mod server;
pub mod sessions;
pub mod timeout;
pub mod transfer;

pub use error::ApiError;
pub use extract::{ApiJson, AuthUser};

/// Body size limits of the REST API (`TANDEM_MAX_BODY_BYTES`,
/// `TANDEM_MAX_IMPORT_BYTES`; 413 above).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Every endpoint but import.
    pub body: usize,
    /// `POST /api/sessions/import` (a whole export document).
    pub import: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            body: 1024 * 1024,
            import: 16 * 1024 * 1024,
        }
    }
}

/// The REST routes, merged into the app's router.
pub fn routes(limits: BodyLimits) -> Router<AppState> {
    let (router, _) = api_router(limits).split_for_parts();
    router
}

/// The routes together with their OpenAPI description.
pub(crate) fn api_router(limits: BodyLimits) -> OpenApiRouter<AppState> {
    let import = OpenApiRouter::new()
        .routes(routes!(transfer::import))
        .layer(DefaultBodyLimit::max(limits.import));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(sessions::create, sessions::list))
        .routes(routes!(sessions::active))
        .routes(routes!(sessions::get, sessions::update, sessions::delete))
        .routes(routes!(lifecycle::complete))
        .routes(routes!(lifecycle::archive))
        .routes(routes!(lifecycle::restore))
        .routes(routes!(lifecycle::reopen))
        .routes(routes!(lifecycle::activity))
        .routes(routes!(collaborators::list))
        .routes(routes!(collaborators::share, collaborators::revoke))
        .routes(routes!(chat::history, chat::send))
        .routes(routes!(missions::create))
        .routes(routes!(missions::get, missions::patch))
        .routes(routes!(missions::link))
        .routes(routes!(
            missions::session_mission,
            missions::patch_session_mission
        ))
        .routes(routes!(assets::list, assets::add))
        .routes(routes!(assets::remove))
        .routes(routes!(events::list))
        .routes(routes!(transfer::export))
        .routes(routes!(transfer::fork))
        .routes(routes!(transfer::stats))
        .routes(routes!(server::ops::post_message))
        .routes(routes!(server::ops::patch_step))
        .routes(routes!(server::ops::post_event))
        .routes(routes!(server::ops::post_disconnect))
        .routes(routes!(server::ops::get_presence))
        .routes(routes!(server::ops::get_channel_stats))
        .routes(routes!(server::ops::get_node_stats))
        .routes(routes!(server::batch::batch))
        .layer(DefaultBodyLimit::max(limits.body))
        .merge(import)
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(info::info))
        .route("/api/{*rest}", any(error::no_route))
}
