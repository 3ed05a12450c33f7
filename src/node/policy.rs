//! Who may do what on which channel: the one policy function (SPEC §4.5).
//!
//! Channel names are `<namespace>:<id>`. Today:
//! - `session:<id>`: only the session's collaborators may subscribe, read
//!   history and presence; nobody publishes directly (every change is a domain
//!   operation through RPC or REST, so the stream stays the session's event
//!   log); history, recovery, presence and join/leave are on.
//! - `user:<id>`: only that user; history and recovery on; no client publishes.
//! - anything else: permission denied.

use super::error::NodeError;
use crate::channels::{self, Channel, ChannelError};
use crate::sessions::SessionService;

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

fn refusal(error: ChannelError) -> NodeError {
    match error {
        ChannelError::Unknown => NodeError::PermissionDenied,
        other => NodeError::Channel(other),
    }
}

/// `session:<id>`: history, recovery, presence and join/leave on.
const SESSION: ChannelOptions = ChannelOptions {
    history: true,
    presence: true,
    join_leave: true,
};

/// `user:<id>`: history and recovery on.
const USER: ChannelOptions = ChannelOptions {
    history: true,
    presence: false,
    join_leave: false,
};

/// The channel policy.
#[derive(Clone)]
pub struct Policy {
    sessions: SessionService,
}

impl Policy {
    /// A policy that asks `sessions` who collaborates on what.
    pub fn new(sessions: SessionService) -> Self {
        Self { sessions }
    }

    /// How `channel` behaves, whoever asks (for operators and backends).
    pub fn options_of(&self, channel: &str) -> Result<ChannelOptions, NodeError> {
        Ok(match channels::parse(channel).map_err(refusal)? {
            Channel::Session(_) => SESSION,
            Channel::User(_) => USER,
        })
    }

    /// Decides whether `user` may do `action` on `channel`, and how the channel behaves.
    pub async fn authorize(
        &self,
        user: &str,
        channel: &str,
        action: Action,
    ) -> Result<ChannelOptions, NodeError> {
        match channels::parse(channel).map_err(refusal)? {
            Channel::Session(id) => {
                if action == Action::Publish {
                    return Err(NodeError::PermissionDenied);
                }
                match self.sessions.role_of(user, id).await {
                    Ok(Some(_)) => Ok(SESSION),
                    Ok(None) => Err(NodeError::PermissionDenied),
                    Err(err) => Err(NodeError::Domain(err)),
                }
            }
            Channel::User(owner) => {
                if owner != user || action == Action::Publish {
                    return Err(NodeError::PermissionDenied);
                }
                Ok(USER)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::memory::MemoryEngine;
    use crate::engine::{ClientInfo, Publication};
    use crate::engine::{EngineConfig, EngineEvents};
    use crate::sessions::service::CreateSession;
    use crate::sessions::DomainLimits;

    struct Nobody;
    impl EngineEvents for Nobody {
        fn publication(&self, _: &str, _: &Publication) {}
        fn join(&self, _: &str, _: &ClientInfo) {}
        fn leave(&self, _: &str, _: &ClientInfo) {}
        fn unsubscribe_user(&self, _: &str, _: &str) {}
        fn disconnect_user(&self, _: &str, _: bool) {}
        fn insufficient_state(&self, _: &str) {}
    }

    fn code(result: Result<ChannelOptions, NodeError>) -> u32 {
        crate::errors::node(result.unwrap_err()).code
    }

    fn policy() -> (Policy, SessionService) {
        let config = EngineConfig {
            history_size: 10,
            history_ttl: std::time::Duration::from_secs(60),
            presence_ttl: std::time::Duration::from_secs(60),
        };
        let engine = Arc::new(MemoryEngine::new(config, Arc::new(Nobody)));
        let sessions = SessionService::new(engine.clone(), engine, DomainLimits::default());
        (Policy::new(sessions.clone()), sessions)
    }

    #[tokio::test]
    async fn user_channels_are_private() {
        let (p, _) = policy();
        assert!(p
            .authorize("alice", "user:alice", Action::Subscribe)
            .await
            .is_ok());
        let denied = p.authorize("bob", "user:alice", Action::Subscribe).await;
        assert_eq!(code(denied), 103);
        let publish = p.authorize("alice", "user:alice", Action::Publish).await;
        assert_eq!(code(publish), 103);
    }

    #[tokio::test]
    async fn session_channels_are_for_collaborators_and_never_published_to() {
        let (p, sessions) = policy();
        let input = CreateSession {
            name: "plan".into(),
            ..Default::default()
        };
        let session = sessions.create("alice", input).await.unwrap();
        let channel = format!("session:{}", session.id);
        let o = p
            .authorize("alice", &channel, Action::Subscribe)
            .await
            .unwrap();
        assert!(o.history && o.presence && o.join_leave);
        assert_eq!(
            code(p.authorize("bob", &channel, Action::Subscribe).await),
            103
        );
        assert_eq!(
            code(p.authorize("alice", &channel, Action::Publish).await),
            103
        );
        assert_eq!(
            code(
                p.authorize("bob", "session:not-a-uuid", Action::Subscribe)
                    .await
            ),
            103
        );
        assert_eq!(
            code(p.authorize("bob", "chat:lobby", Action::Subscribe).await),
            103
        );
        let long = "x".repeat(300);
        assert_eq!(
            code(p.authorize("bob", &long, Action::Subscribe).await),
            107
        );
        let upper = channel.to_uppercase().replacen("SESSION", "session", 1);
        let refused = p.authorize("alice", &upper, Action::Subscribe).await;
        assert_eq!(code(refused), 107, "another spelling of the id");
    }
}
