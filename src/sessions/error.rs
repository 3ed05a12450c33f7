//! Domain errors, mapped once to HTTP responses (`api::error`) and to RPC
//! error codes (`crate::errors`).

use crate::engine::EngineError;

use super::model::SessionStatus;

/// Why a domain operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The thing does not exist, or the caller may not see it (ids leak nothing).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may see it but not do this (e.g. a viewer writing).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The status machine refuses the transition.
    #[error("cannot change a session from {} to {}", from.as_str(), to.as_str())]
    IllegalTransition {
        /// Current status.
        from: SessionStatus,
        /// Requested status.
        to: SessionStatus,
    },
    /// Archived sessions are read-only until restored.
    #[error("the session is archived: restore it first")]
    Archived,
    /// The edit was based on an old revision.
    #[error("stale base revision: the mission is at revision {current}")]
    StaleRevision {
        /// The mission's current revision.
        current: u64,
    },
    /// Input is malformed or violates a rule.
    #[error("{0}")]
    Invalid(String),
    /// Input is larger than a configured limit.
    #[error("{what} exceeds the limit of {limit} ({setting})")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit, with its unit.
        limit: String,
        /// The setting that sets the limit.
        setting: &'static str,
    },
    /// Too many concurrent writers kept conflicting; retry later.
    #[error("too much contention on this session, retry")]
    Contention,
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl DomainError {
    /// A stable machine-readable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::NotFound(_) => "not_found",
            DomainError::Forbidden(_) => "forbidden",
            DomainError::IllegalTransition { .. } => "illegal_transition",
            DomainError::Archived => "archived",
            DomainError::StaleRevision { .. } => "stale_revision",
            DomainError::Invalid(_) => "invalid",
            DomainError::TooLarge { .. } => "too_large",
            DomainError::Contention => "contention",
            DomainError::Engine(EngineError::Unavailable(_)) => "unavailable",
            DomainError::Engine(EngineError::Corrupt(_)) => "corrupt",
            DomainError::Engine(_) => "internal",
        }
    }
}
