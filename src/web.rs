//! The browser frontend (SPEC §5: "served by the server at `/`").
//!
//! The built app (`frontend/dist`, `TANDEM_FRONTEND_DIR`) is served as static
//! files; any other path that no route matched gets `index.html`, so the app's
//! own client-side paths survive a reload. The frontend is optional: when the
//! directory is missing the server still runs and `/` says how to build it.

use std::path::Path;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

/// Shown at `/` when the frontend has not been built.
pub const NOT_BUILT: &str = "Tandem is running, but its browser frontend has not been built.\n\n\
Build it with:\n\n    cd frontend && npm ci && npm run build\n\n\
(./scripts/run.sh does this for you), or point TANDEM_FRONTEND_DIR / --frontend-dir \
at a built frontend.\nThe REST API is under /api (GET /api/openapi.json), the WebSocket \
at /connection/websocket.\n";

/// Adds the frontend to `router` as its fallback, so every route already on
/// it (`/api`, `/connection`, `/healthz`, `/readyz`) keeps priority.
pub fn mount<S: Clone + Send + Sync + 'static>(router: Router<S>, dir: &Path) -> Router<S> {
    let index = dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(
            dir = %dir.display(),
            "TANDEM_FRONTEND_DIR: no built frontend here (no index.html); `/` explains how to build it \
             (cd frontend && npm ci && npm run build)"
        );
        return router.route("/", get(not_built));
    }
    tracing::info!(dir = %dir.display(), "serving the frontend at /");
    router.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
}

async fn not_built() -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        NOT_BUILT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    fn app(dir: &Path) -> Router {
        mount(Router::new().route("/healthz", get(|| async { "ok" })), dir)
    }

    async fn get_text(router: Router, path: &str) -> (StatusCode, String) {
        let res = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn serves_files_with_spa_fallback_and_routes_keep_priority() {
        let dir = std::env::temp_dir().join(format!("tandem-web-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<html>app</html>").unwrap();
        std::fs::write(dir.join("assets/app.js"), "console.log(1)").unwrap();
        let (status, body) = get_text(app(&dir), "/").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "<html>app</html>")
        );
        let (_, body) = get_text(app(&dir), "/assets/app.js").await;
        assert_eq!(body, "console.log(1)");
        let (status, body) = get_text(app(&dir), "/sessions/123").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "<html>app</html>")
        );
        let (_, body) = get_text(app(&dir), "/healthz").await;
        assert_eq!(body, "ok");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_missing_frontend_explains_how_to_build_it() {
        let dir = std::env::temp_dir().join(format!("tandem-web-missing-{}", uuid::Uuid::new_v4()));
        let (status, body) = get_text(app(&dir), "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("npm run build"), "{body}");
        let (_, body) = get_text(app(&dir), "/healthz").await;
        assert_eq!(body, "ok");
    }
}
