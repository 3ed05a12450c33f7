//! Channel names, built and parsed in one place.
//!
//! `session:<id>` carries one session's events; `<id>` is the session's UUID
//! in its one canonical spelling (lowercase, hyphenated), so that a session
//! has exactly one channel. `user:<id>` is one user's own feed.

use uuid::Uuid;

/// Prefix of session channels.
pub const SESSION_PREFIX: &str = "session:";
/// Prefix of personal channels.
pub const USER_PREFIX: &str = "user:";
/// Longest channel name accepted.
pub const MAX_CHANNEL_LEN: usize = 255;

/// `session:<id>`: every event of one session.
pub fn session(id: Uuid) -> String {
    format!("{SESSION_PREFIX}{id}")
}

/// `user:<id>`: one user's own feed.
pub fn user(user_id: &str) -> String {
    format!("{USER_PREFIX}{user_id}")
}

/// A channel name Tandem knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel<'a> {
    /// `session:<id>`.
    Session(Uuid),
    /// `user:<id>`.
    User(&'a str),
}

/// Why a channel name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Empty or longer than [`MAX_CHANNEL_LEN`].
    #[error("channel names are 1 to {MAX_CHANNEL_LEN} bytes")]
    Length,
    /// A session channel whose id is a UUID spelled another way.
    #[error("session channels name the session id in lowercase hyphenated form: {0}")]
    NotCanonical(String),
    /// No namespace Tandem knows, or an id that is not one.
    #[error("unknown channel")]
    Unknown,
}

/// Parses a channel name.
pub fn parse(channel: &str) -> Result<Channel<'_>, ChannelError> {
    if channel.is_empty() || channel.len() > MAX_CHANNEL_LEN {
        return Err(ChannelError::Length);
    }
    if let Some(id) = channel.strip_prefix(SESSION_PREFIX) {
        let uuid = Uuid::try_parse(id).map_err(|_| ChannelError::Unknown)?;
        if uuid.hyphenated().to_string() != id {
            return Err(ChannelError::NotCanonical(session(uuid)));
        }
        return Ok(Channel::Session(uuid));
    }
    match channel.strip_prefix(USER_PREFIX) {
        Some(user) if !user.is_empty() => Ok(Channel::User(user)),
        _ => Err(ChannelError::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_session() {
        let id = Uuid::now_v7();
        assert_eq!(parse(&session(id)), Ok(Channel::Session(id)));
        for other in [
            id.hyphenated().to_string().to_uppercase(),
            id.simple().to_string(),
            id.braced().to_string(),
            id.urn().to_string(),
        ] {
            assert_eq!(
                parse(&format!("session:{other}")),
                Err(ChannelError::NotCanonical(session(id))),
                "{other}"
            );
        }
        assert_eq!(parse("session:nope"), Err(ChannelError::Unknown));
    }

    #[test]
    fn users_and_unknown_namespaces() {
        assert_eq!(parse("user:alice"), Ok(Channel::User("alice")));
        assert_eq!(parse("user:"), Err(ChannelError::Unknown));
        assert_eq!(parse("chat:lobby"), Err(ChannelError::Unknown));
        assert_eq!(parse(""), Err(ChannelError::Length));
        assert_eq!(parse(&"x".repeat(256)), Err(ChannelError::Length));
    }
}
