//! Who may do what on which channel: the one policy function (SPEC §4.5).
//!
//! Channel names are `<namespace>:<id>`. Today:
//! - `session:<id>`: only the session's collaborators may subscribe, read
//!   history and presence; nobody publishes directly (every change is a domain
//!   operation through RPC or REST, so the stream stays the session's event
//!   log); history, recovery, presence and join/leave are on.
//! - `user:<id>`: only that user; history and recovery on; no client publishes.
//! - anything else: permission denied.

use crate::channels::{self, Channel, ChannelError};
use crate::protocol::ProtocolError;
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

fn refusal(error: ChannelError) -> ProtocolError {
    match error {
        ChannelError::Unknown => ProtocolError::permission_denied(),
        other => ProtocolError::bad_request(other.to_string()),
    }
}

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

    /// Decides whether `user` may do `action` on `channel`, and how the channel behaves.
    pub async fn authorize(
        &self,
        user: &str,
        channel: &str,
        action: Action,
    ) -> Result<ChannelOptions, ProtocolError> {
        match channels::parse(channel).map_err(refusal)? {
            Channel::Session(id) => {
                if action == Action::Publish {
                    return Err(ProtocolError::permission_denied());
                }
                match self.sessions.role_of(user, id).await {
                    Ok(Some(_)) => Ok(ChannelOptions {
                        history: true,
                        presence: true,
                        join_leave: true,
                    }),
                    Ok(None) => Err(ProtocolError::permission_denied()),
                    Err(err) => Err(crate::sessions::rpc::protocol_error(err)),
                }
            }
            Channel::User(owner) => {
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
    use std::sync::Arc;

    use super::*;
    use crate::engine::memory::MemoryEngine;
    use crate::engine::{EngineConfig, EngineEvents};
    use crate::protocol::reply::{ClientInfo, Publication};
    use crate::sessions::service::CreateSession;
    use crate::sessions::DomainLimits;

    struct Nobody;
    impl EngineEvents for Nobody {
        fn publication(&self, _: &str, _: &Publication) {}
        fn join(&self, _: &str, _: &ClientInfo) {}
        fn leave(&self, _: &str, _: &ClientInfo) {}
        fn unsubscribe_user(&self, _: &str, _: &str) {}
        fn insufficient_state(&self, _: &str) {}
    }

    fn policy() -> (Policy, SessionService) {
        let config = EngineConfig {
            history_size: 10,
            history_ttl: std::time::Duration::from_secs(60),
            presence_ttl: std::time::Duration::from_secs(60),
        };
        let engine = Arc::new(MemoryEngine::new(config, Arc::new(Nobody)));
        let sessions = SessionService::new(engine, DomainLimits::default());
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
        assert_eq!(denied.unwrap_err().code, 103);
        let publish = p.authorize("alice", "user:alice", Action::Publish).await;
        assert_eq!(publish.unwrap_err().code, 103);
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
            p.authorize("bob", &channel, Action::Subscribe)
                .await
                .unwrap_err()
                .code,
            103
        );
        assert_eq!(
            p.authorize("alice", &channel, Action::Publish)
                .await
                .unwrap_err()
                .code,
            103
        );
        assert_eq!(
            p.authorize("bob", "session:not-a-uuid", Action::Subscribe)
                .await
                .unwrap_err()
                .code,
            103
        );
        assert_eq!(
            p.authorize("bob", "chat:lobby", Action::Subscribe)
                .await
                .unwrap_err()
                .code,
            103
        );
        let long = "x".repeat(300);
        assert_eq!(
            p.authorize("bob", &long, Action::Subscribe)
                .await
                .unwrap_err()
                .code,
            107
        );
        let upper = channel.to_uppercase().replacen("SESSION", "session", 1);
        let refused = p.authorize("alice", &upper, Action::Subscribe).await;
        assert_eq!(refused.unwrap_err().code, 107, "another spelling of the id");
    }
}
