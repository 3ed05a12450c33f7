//! The sessions domain (SPEC §2): sessions, chat, missions, assets,
//! collaborators and their event stream.
//!
//! One service, [`SessionService`], used by both the REST API and the RPC
//! methods so the two can never disagree. Every write follows the same path:
//! load the record → check the caller's role → validate → build the new
//! record and the event(s) → commit (a compare-and-set in the engine that
//! stores the events and publishes them on `session:<id>` at their offsets) →
//! acknowledge. On a conflicting concurrent write the whole step is retried on
//! the fresh record.

pub mod error;
pub mod events;
mod feed;
mod gates;
pub mod limits;
pub mod model;
pub mod patch;
pub mod replay;
pub mod service;
pub mod signals;
pub mod status;
pub mod store;
mod touch;
pub mod validate;

pub mod assets;
pub mod chat;
pub mod mission;
pub mod stats;
pub mod transfer;

mod collaborators;
mod import;
mod lifecycle;

pub use error::DomainError;
pub use limits::DomainLimits;
pub use service::SessionService;
