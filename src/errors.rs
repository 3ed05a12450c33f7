//! Errors at the edge: every domain, node and engine error mapped, once, to
//! the HTTP status the REST API answers and the protocol error a WebSocket
//! reply carries. REST (`api::error`) and RPC (`rpc`) both use these
//! functions, so the two can never disagree: a domain error's RPC code is the
//! HTTP status REST gives it.

use crate::engine::EngineError;
use crate::node::NodeError;
use crate::protocol::ProtocolError;
use crate::sessions::DomainError;

/// The HTTP status that stands for a domain error (also its RPC error code).
pub fn http_status(error: &DomainError) -> u16 {
    match error {
        DomainError::NotFound(_) => 404,
        DomainError::Forbidden(_) => 403,
        DomainError::IllegalTransition { .. }
        | DomainError::Archived
        | DomainError::StaleRevision { .. } => 409,
        DomainError::Invalid(_) => 422,
        DomainError::TooLarge { .. } => 413,
        DomainError::Contention | DomainError::Engine(EngineError::Unavailable(_)) => 503,
        DomainError::Engine(_) => 500,
    }
}

/// The RPC error of a domain error: an application code equal to its HTTP
/// status; 5xx causes are logged and hidden.
pub fn domain(error: DomainError) -> ProtocolError {
    let code = http_status(&error);
    if code >= 500 {
        tracing::warn!(error = %error, "rpc failed");
        let message = if code == 503 {
            "service unavailable, retry"
        } else {
            "internal error"
        };
        return ProtocolError::application(u32::from(code), message, true);
    }
    ProtocolError::application(u32::from(code), error.to_string(), false)
}

/// The reply error of an engine error (details are logged, not sent).
pub fn engine(error: EngineError) -> ProtocolError {
    match error {
        EngineError::UnrecoverablePosition => ProtocolError::unrecoverable_position(),
        EngineError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "engine unavailable");
            ProtocolError::internal()
        }
        EngineError::Internal(detail) | EngineError::Corrupt(detail) => {
            tracing::error!(error = %detail, "engine error");
            ProtocolError::internal()
        }
    }
}

/// The reply error of a node error.
pub fn node(error: NodeError) -> ProtocolError {
    match error {
        NodeError::PermissionDenied => ProtocolError::permission_denied(),
        NodeError::Channel(err) => ProtocolError::bad_request(err.to_string()),
        NodeError::AlreadySubscribed => ProtocolError::already_subscribed(),
        NodeError::NotAvailable => ProtocolError::not_available(),
        NodeError::ConnectionLimit(_) => ProtocolError::limit_exceeded(),
        NodeError::Timeout => {
            tracing::warn!("node operation timed out");
            ProtocolError::internal()
        }
        NodeError::InsufficientState => ProtocolError::internal(),
        NodeError::Unrecoverable => ProtocolError::unrecoverable_position(),
        NodeError::Engine(err) => engine(err),
        NodeError::Domain(err) => domain(err),
    }
}
