//! Channel names, built in one place.

use uuid::Uuid;

/// Prefix of session channels.
pub const SESSION_PREFIX: &str = "session:";
/// Prefix of personal channels.
pub const USER_PREFIX: &str = "user:";

/// `session:<id>`: every event of one session.
pub fn session(id: Uuid) -> String {
    format!("{SESSION_PREFIX}{id}")
}

/// `user:<id>`: one user's own feed.
pub fn user(user_id: &str) -> String {
    format!("{USER_PREFIX}{user_id}")
}
