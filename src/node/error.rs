//! What a node operation can fail with, in the node's own terms; the
//! transports map it to their codes in one place (`errors.rs`).

use crate::channels::ChannelError;
use crate::engine::EngineError;
use crate::hub::TooManyConnections;
use crate::sessions::DomainError;

/// Why a node operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The channel policy refused it.
    #[error("permission denied")]
    PermissionDenied,
    /// The channel name is not one Tandem knows how to spell.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The connection is already subscribed to the channel.
    #[error("already subscribed")]
    AlreadySubscribed,
    /// The feature (history, presence) is off on this channel.
    #[error("not available on this channel")]
    NotAvailable,
    /// The user already holds as many connections as allowed.
    #[error(transparent)]
    ConnectionLimit(#[from] TooManyConnections),
    /// The operation did not finish within its time bound; retry.
    #[error("timed out")]
    Timeout,
    /// The client asked to recover, and to be refused rather than given
    /// `recovered:false`, and its position cannot be recovered.
    #[error("unrecoverable position")]
    Unrecoverable,
    /// Merging history and live publications found a hole: reconnect and recover.
    #[error("insufficient state")]
    InsufficientState,
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The sessions domain failed (deciding who may see a session channel).
    #[error(transparent)]
    Domain(#[from] DomainError),
}
