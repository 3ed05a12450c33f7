//! `GET /connection/websocket`: draining check, origin check, subprotocol,
//! limits, and the hand-over of the upgraded socket to a tracked connection task.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::protocol::Codec;
use crate::state::AppState;
use crate::ws::connection;

/// Query parameters the SDKs may send.
#[derive(Debug, Default, Deserialize)]
pub struct WsQuery {
    /// `protobuf` selects the binary protocol (not supported yet).
    format: Option<String>,
    /// Same as `format`.
    cf_protocol: Option<String>,
}

/// The upgrade handler.
pub async fn handler(
    State(state): State<AppState>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if state.shutdown.is_draining() {
        // The SDKs retry with backoff; a load balancer that retries on 503
        // sends them to another node at once.
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "this node is draining; connect to another node",
        )
            .into_response();
    }
    if !origin_allowed(&headers, &state.allowed_origins) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let wants_protobuf = [query.format.as_deref(), query.cf_protocol.as_deref()]
        .contains(&Some("protobuf"))
        || headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|p| p.trim() == "centrifuge-protobuf"));
    if wants_protobuf {
        return (
            StatusCode::BAD_REQUEST,
            "the Protobuf protocol is not supported yet; use JSON",
        )
            .into_response();
    }
    let node = state.node.clone();
    let shutdown = state.shutdown.token();
    let tracker = state.shutdown.tracker();
    let max = state.max_frame_bytes;
    ws.protocols(["centrifuge-json"])
        .read_buffer_size(state.read_buffer)
        .write_buffer_size(0)
        .max_message_size(max)
        .max_frame_size(max)
        .on_failed_upgrade(|err| tracing::debug!(error = %err, "websocket upgrade failed"))
        .on_upgrade(move |socket| {
            tracker.track_future(connection::run(socket, node, Codec::Json, shutdown))
        })
}

/// Same-host requests, requests without an Origin (non-browser clients) and
/// configured origins pass.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn origins() {
        assert!(origin_allowed(&headers(None, "a:1"), &[]));
        assert!(origin_allowed(&headers(Some("http://a:1"), "a:1"), &[]));
        assert!(!origin_allowed(&headers(Some("http://evil"), "a:1"), &[]));
        assert!(origin_allowed(
            &headers(Some("http://ok"), "a:1"),
            &["http://ok".into()]
        ));
        assert!(origin_allowed(
            &headers(Some("http://any"), "a:1"),
            &["*".into()]
        ));
    }
}
