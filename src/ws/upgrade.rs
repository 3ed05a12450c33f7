//! `GET /connection/websocket`: draining check, origin check, codec (by
//! subprotocol or query), limits, and the hand-over of the upgraded socket to
//! a tracked connection task.

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
    /// `protobuf` selects the binary protocol.
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
    let codec = codec_of(&query, ws.requested_protocols());
    let node = state.node.clone();
    let shutdown = state.shutdown.token();
    let tracker = state.shutdown.tracker();
    let max = state.max_frame_bytes;
    ws.protocols([codec.subprotocol()])
        .read_buffer_size(state.read_buffer)
        .write_buffer_size(0)
        .max_message_size(max)
        .max_frame_size(max)
        .on_failed_upgrade(|err| tracing::debug!(error = %err, "websocket upgrade failed"))
        .on_upgrade(move |socket| {
            tracker.track_future(connection::run(socket, node, codec, max, shutdown))
        })
}

/// Protobuf when the client offers the `centrifuge-protobuf` subprotocol or
/// asks with `?format=protobuf` / `?cf_protocol=protobuf`; JSON otherwise.
/// The chosen codec's subprotocol is echoed when the client offered it.
fn codec_of<'a>(
    query: &WsQuery,
    mut offered: impl Iterator<Item = &'a axum::http::HeaderValue>,
) -> Codec {
    let by_query =
        [query.format.as_deref(), query.cf_protocol.as_deref()].contains(&Some("protobuf"));
    let by_subprotocol = offered.any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|p| p.trim() == Codec::Protobuf.subprotocol())
        })
    });
    if by_query || by_subprotocol {
        Codec::Protobuf
    } else {
        Codec::Json
    }
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
    fn codec_by_subprotocol_or_query() {
        let none = WsQuery::default();
        let offered = |v: &'static str| [HeaderValue::from_static(v)];
        assert_eq!(codec_of(&none, [].iter()), Codec::Json);
        assert_eq!(
            codec_of(&none, offered("centrifuge-json").iter()),
            Codec::Json
        );
        assert_eq!(
            codec_of(&none, offered("centrifuge-protobuf").iter()),
            Codec::Protobuf
        );
        assert_eq!(
            codec_of(&none, offered("x, centrifuge-protobuf").iter()),
            Codec::Protobuf
        );
        for query in [
            WsQuery {
                format: Some("protobuf".into()),
                cf_protocol: None,
            },
            WsQuery {
                format: None,
                cf_protocol: Some("protobuf".into()),
            },
        ] {
            assert_eq!(codec_of(&query, [].iter()), Codec::Protobuf);
        }
        let other = WsQuery {
            format: Some("json".into()),
            cf_protocol: None,
        };
        assert_eq!(codec_of(&other, [].iter()), Codec::Json);
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
