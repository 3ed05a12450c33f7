//! What a run drives: Tandem (tokens, sessions over REST, the Centrifugo
//! protocol) or the floor (rooms, plain frames), and the set-up each needs.

use std::cell::RefCell;
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::net::Server;
use crate::token::Minter;
use crate::wire::Codec;

/// The server kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Tandem: the Centrifugo protocol, tokens, sessions.
    Tandem,
    /// `bench-floor`: rooms and plain frames (the "plain mode").
    Floor,
}

/// The owner of every session the tool creates.
pub const OWNER: &str = "bench-owner";

/// A session (Tandem) or a room (floor) that a group of connections shares.
#[derive(Debug, Clone)]
pub struct Group {
    /// Session id, or room name.
    pub id: String,
    /// The users who may connect to it (collaborators), reused round-robin.
    pub users: Vec<String>,
}

impl Group {
    /// The user of the `i`-th connection of this group.
    pub fn user(&self, i: usize) -> &str {
        self.users
            .get(i % self.users.len().max(1))
            .map_or(OWNER, String::as_str)
    }
}

/// The server being driven.
pub struct Target {
    /// Tandem or the floor.
    pub kind: TargetKind,
    /// Where it listens.
    pub server: Server,
    /// The protocol variant (Tandem).
    pub codec: Codec,
    minter: Option<RefCell<Minter>>,
    /// HTTP client for the REST API (and the floor's publish endpoint).
    pub http: reqwest::Client,
}

impl Target {
    /// A target; Tandem needs the JWT secret.
    pub fn new(
        kind: TargetKind,
        server: Server,
        codec: Codec,
        secret: Option<&str>,
    ) -> anyhow::Result<Self> {
        let minter = match kind {
            TargetKind::Tandem => {
                let secret = secret.context(
                    "Tandem needs --secret (or TANDEM_JWT_HS256_SECRET): the server's HS256 secret",
                )?;
                Some(RefCell::new(Minter::new(
                    secret,
                    Duration::from_secs(12 * 3600),
                )?))
            }
            TargetKind::Floor => None,
        };
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            kind,
            server,
            codec,
            minter,
            http,
        })
    }

    /// A token for `user` (Tandem).
    pub fn token(&self, user: &str) -> anyhow::Result<String> {
        let minter = self.minter.as_ref().context("the floor has no tokens")?;
        minter.borrow_mut().token(user)
    }

    /// The WebSocket URL a connection of `group` opens (`listen`: whether
    /// it receives the group's broadcasts; only the floor distinguishes).
    pub fn ws_url(&self, group: &Group, listen: bool) -> String {
        match self.kind {
            TargetKind::Tandem => self.server.ws_url("/connection/websocket"),
            TargetKind::Floor if listen => self.server.ws_url(&format!("/ws?room={}", group.id)),
            TargetKind::Floor => self.server.ws_url(&format!("/ws?publish={}", group.id)),
        }
    }

    /// The channel a Tandem connection of `group` subscribes to.
    pub fn channel(&self, group: &Group) -> String {
        format!("session:{}", group.id)
    }

    /// Creates `count` groups of `users` collaborators each: Tandem sessions
    /// over REST (`concurrency` requests at a time), or floor room names.
    pub async fn create_groups(
        &self,
        count: usize,
        users: usize,
        concurrency: usize,
    ) -> anyhow::Result<Vec<Group>> {
        let names: Vec<String> = (0..users).map(|u| format!("bench-u{u}")).collect();
        match self.kind {
            TargetKind::Floor => Ok((0..count)
                .map(|i| Group {
                    id: format!("r{i}"),
                    users: names.clone(),
                })
                .collect()),
            TargetKind::Tandem => {
                let token = self.token(OWNER)?;
                let results: Vec<anyhow::Result<Group>> = futures_util::stream::iter(0..count)
                    .map(|i| self.create_session(&token, i, &names))
                    .buffer_unordered(concurrency.max(1))
                    .collect()
                    .await;
                results.into_iter().collect()
            }
        }
    }

    async fn create_session(
        &self,
        token: &str,
        i: usize,
        users: &[String],
    ) -> anyhow::Result<Group> {
        let collaborators: Vec<serde_json::Value> = users
            .iter()
            .map(|u| serde_json::json!({"user_id": u, "role": "editor"}))
            .collect();
        let body =
            serde_json::json!({"name": format!("bench {i}"), "collaborators": collaborators});
        let response = self
            .http
            .post(format!("{}/api/sessions", self.server.http))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .context("POST /api/sessions")?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(
            status.is_success(),
            "POST /api/sessions: {status}: {text} (more than 49 users per session needs TANDEM_MAX_COLLABORATORS raised; more sessions than TANDEM_MAX_SESSIONS_PER_USER needs that raised)"
        );
        let value: serde_json::Value = serde_json::from_str(&text)?;
        let id = value["id"]
            .as_str()
            .context("POST /api/sessions: no id in the reply")?
            .to_owned();
        Ok(Group {
            id,
            users: users.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_reused_round_robin() {
        let g = Group {
            id: "r0".into(),
            users: vec!["a".into(), "b".into()],
        };
        assert_eq!([g.user(0), g.user(1), g.user(2)], ["a", "b", "a"]);
        let t = Target::new(
            TargetKind::Floor,
            Server::parse("http://127.0.0.1:9").unwrap(),
            Codec::Json,
            None,
        )
        .unwrap();
        assert_eq!(t.ws_url(&g, true), "ws://127.0.0.1:9/ws?room=r0");
        assert_eq!(t.ws_url(&g, false), "ws://127.0.0.1:9/ws?publish=r0");
        assert!(t.token("a").is_err());
    }
}
