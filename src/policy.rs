//! Who may do what on which channel: the one policy function (SPEC §4.5).
//!
//! Channel names are `<namespace>:<id>`. Today:
//! - `session:<id>`: any authenticated user may subscribe, read history and
//!   presence, and publish (the sessions issue narrows this to collaborators and
//!   editors); history, recovery, presence and join/leave are on.
//! - `user:<id>`: only that user; history and recovery on; no client publishes.
//! - anything else: permission denied.

use crate::protocol::ProtocolError;

/// Longest channel name accepted.
pub const MAX_CHANNEL_LEN: usize = 255;

/// What a client wants to do on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Subscribe (and so read live publications).
    Subscribe,
    /// Publish from the client.
    Publish,
    /// Read history.
    History,
    /// Read presence.
    Presence,
}

/// How a channel behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelOptions {
    /// Publications are kept in history with offsets; subscriptions are
    /// positioned and recoverable whether or not the client asked.
    pub history: bool,
    /// Subscribers are tracked in presence.
    pub presence: bool,
    /// Join/leave pushes go to every subscriber.
    pub join_leave: bool,
}

/// The channel namespaces Tandem knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Namespace<'a> {
    Session(&'a str),
    User(&'a str),
}

fn parse(channel: &str) -> Result<Namespace<'_>, ProtocolError> {
    if channel.is_empty() || channel.len() > MAX_CHANNEL_LEN {
        return Err(ProtocolError::bad_request(format!(
            "channel name must be 1 to {MAX_CHANNEL_LEN} bytes"
        )));
    }
    match channel.split_once(':') {
        Some(("session", id)) if !id.is_empty() => Ok(Namespace::Session(id)),
        Some(("user", id)) if !id.is_empty() => Ok(Namespace::User(id)),
        _ => Err(ProtocolError::permission_denied()),
    }
}

/// The channel policy.
#[derive(Debug, Clone, Default)]
pub struct Policy;

impl Policy {
    /// Decides whether `user` may do `action` on `channel`, and how the channel behaves.
    pub async fn authorize(
        &self,
        user: &str,
        channel: &str,
        action: Action,
    ) -> Result<ChannelOptions, ProtocolError> {
        match parse(channel)? {
            Namespace::Session(_) => Ok(ChannelOptions {
                history: true,
                presence: true,
                join_leave: true,
            }),
            Namespace::User(owner) => {
                if owner != user || action == Action::Publish {
                    return Err(ProtocolError::permission_denied());
                }
                Ok(ChannelOptions {
                    history: true,
                    presence: false,
                    join_leave: false,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn user_channels_are_private() {
        let p = Policy;
        assert!(p
            .authorize("alice", "user:alice", Action::Subscribe)
            .await
            .is_ok());
        assert_eq!(
            p.authorize("bob", "user:alice", Action::Subscribe)
                .await
                .unwrap_err()
                .code,
            103
        );
        assert_eq!(
            p.authorize("alice", "user:alice", Action::Publish)
                .await
                .unwrap_err()
                .code,
            103
        );
    }

    #[tokio::test]
    async fn sessions_are_open_and_others_refused() {
        let p = Policy;
        let o = p
            .authorize("bob", "session:abc", Action::Publish)
            .await
            .unwrap();
        assert!(o.history && o.presence && o.join_leave);
        assert_eq!(
            p.authorize("bob", "chat:lobby", Action::Subscribe)
                .await
                .unwrap_err()
                .code,
            103
        );
        assert_eq!(
            p.authorize("bob", "session:", Action::Subscribe)
                .await
                .unwrap_err()
                .code,
            103
        );
        assert_eq!(
            p.authorize("bob", &"x".repeat(300), Action::Subscribe)
                .await
                .unwrap_err()
                .code,
            107
        );
    }
}
