//! `connect` and `refresh`: authenticating the connection and extending it.

use std::time::Duration;

use tokio::time::Instant;

use super::{ClientState, Connected, Failure, Handled};
use crate::auth::mint::now_secs;
use crate::auth::{AuthError, Claims};
use crate::engine::{ClientInfo, Payload};
use crate::protocol::command::{ConnectRequest, RefreshRequest};
use crate::protocol::reply::{ConnectResult, ReplyBody};
use crate::protocol::{Disconnect, ProtocolError};

/// Seconds left before `exp`, at least 1.
fn ttl_of(exp: u64) -> u32 {
    u32::try_from(exp.saturating_sub(now_secs()).max(1)).unwrap_or(u32::MAX)
}

/// When a token expiring at `exp` runs out, as an instant. Capped at ten
/// years, so no signed value can overflow the clock.
fn expires_at(exp: u64) -> Instant {
    const CAP: Duration = Duration::from_secs(10 * 365 * 86_400);
    let left = Duration::from_secs(exp.saturating_sub(now_secs())).min(CAP);
    let now = Instant::now();
    now.checked_add(left).unwrap_or(now)
}

impl ClientState {
    pub(super) async fn connect(&mut self, req: ConnectRequest) -> Handled {
        if self.connected.is_some() {
            return Err(Disconnect::BAD_REQUEST.into());
        }
        let claims = match self.node.verifier().verify(&req.token) {
            Ok(claims) => claims,
            Err(AuthError::Expired) => return Err(ProtocolError::token_expired().into()),
            Err(AuthError::Invalid(why)) => {
                tracing::info!(reason = %why, "connect refused: invalid token");
                return Err(Disconnect::INVALID_TOKEN.into());
            }
        };
        let conn_info = match &claims.info {
            Some(info) => Some(
                Payload::from_json(info).map_err(|_| Failure::Close(Disconnect::INVALID_TOKEN))?,
            ),
            None => None,
        };
        let info = ClientInfo {
            user: claims.sub.clone(),
            client: self.client_id.clone(),
            conn_info,
            chan_info: None,
        };
        let handle = self
            .node
            .register(info, self.outbox.clone(), self.codec)
            .inspect_err(|err| tracing::info!(error = %err, "connect refused"))?;
        tracing::Span::current().record("user", claims.sub.as_str());
        tracing::debug!(sdk = %req.name, sdk_version = %req.version, "connected");
        self.connected = Some(Connected {
            handle,
            expires_at: Some(expires_at(claims.exp)),
        });
        let limits = self.node.limits();
        Ok(Some(ReplyBody::Connect(ConnectResult {
            client: self.client_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            expires: true,
            ttl: ttl_of(claims.exp),
            ping: u32::try_from(limits.ping_interval.as_secs()).unwrap_or(u32::MAX),
            pong: true,
            data: None,
        })))
    }

    pub(super) async fn refresh(&mut self, req: RefreshRequest) -> Handled {
        let claims: Claims = match self.node.verifier().verify(&req.token) {
            Ok(claims) => claims,
            Err(AuthError::Expired) => return Err(Disconnect::EXPIRED.into()),
            Err(AuthError::Invalid(why)) => {
                tracing::info!(reason = %why, "refresh refused: invalid token");
                return Err(Disconnect::INVALID_TOKEN.into());
            }
        };
        let connected: &mut Connected = self
            .connected
            .as_mut()
            .ok_or(Failure::Close(Disconnect::BAD_REQUEST))?;
        if claims.sub != connected.handle.user() {
            tracing::info!("refresh refused: token for another user");
            return Err(Disconnect::INVALID_TOKEN.into());
        }
        connected.expires_at = Some(expires_at(claims.exp));
        Ok(Some(ReplyBody::Refresh(ConnectResult {
            client: self.client_id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            expires: true,
            ttl: ttl_of(claims.exp),
            ..Default::default()
        })))
    }
}
