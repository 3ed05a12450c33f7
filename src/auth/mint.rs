//! Minting HS256 connection tokens (the `tandem token` command, the dev login, tests).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::Value;

use super::{Claims, Secret};

/// Signs connection tokens with the HS256 secret.
pub struct TokenMinter {
    key: EncodingKey,
}

impl TokenMinter {
    /// A minter for `secret`.
    pub fn new(secret: &Secret) -> Self {
        Self {
            key: EncodingKey::from_secret(secret.expose()),
        }
    }

    /// A token for `user` valid for `ttl`, with optional `info` (conn_info).
    pub fn mint(
        &self,
        user: &str,
        ttl: Duration,
        info: Option<Value>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = now_secs();
        self.mint_claims(&Claims {
            sub: user.to_owned(),
            exp: now + ttl.as_secs().max(1),
            iat: Some(now),
            nbf: None,
            iss: None,
            aud: None,
            info,
        })
    }

    /// A token with an explicit expiry (seconds since the epoch); for tests of expiry.
    pub fn mint_with_exp(
        &self,
        user: &str,
        exp: u64,
        info: Option<Value>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.mint_claims(&Claims {
            sub: user.to_owned(),
            exp,
            iat: Some(now_secs()),
            nbf: None,
            iss: None,
            aud: None,
            info,
        })
    }

    /// Signs arbitrary claims.
    pub fn mint_claims(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        encode(&Header::default(), claims, &self.key)
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
