//! Minting HS256 connection tokens (the `tandem token` command, the dev login, tests).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::Value;

use super::jwt::MAX_EXP;
use super::{Claims, Secret};

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The lifetime would put the expiry past [`MAX_EXP`] (year 9999).
    #[error("a lifetime of {0:?} ends after the year 9999; give a shorter one")]
    TtlTooLong(Duration),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// The expiry of a token minted at `now` for `ttl` (at least one second).
pub fn expiry(now: u64, ttl: Duration) -> Result<u64, MintError> {
    now.checked_add(ttl.as_secs().max(1))
        .filter(|exp| *exp <= MAX_EXP)
        .ok_or(MintError::TtlTooLong(ttl))
}

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
    /// A `ttl` whose expiry falls after [`MAX_EXP`] (year 9999) is refused.
    pub fn mint(
        &self,
        user: &str,
        ttl: Duration,
        info: Option<Value>,
    ) -> Result<String, MintError> {
        let now = now_secs();
        let exp = expiry(now, ttl)?;
        Ok(self.mint_claims(&Claims {
            sub: user.to_owned(),
            exp,
            iat: Some(now),
            nbf: None,
            iss: None,
            aud: None,
            info,
        })?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_past_the_year_9999_are_refused() {
        let now = now_secs();
        assert_eq!(expiry(now, Duration::from_secs(60)).unwrap(), now + 60);
        assert_eq!(expiry(now, Duration::ZERO).unwrap(), now + 1);
        for ttl in [Duration::MAX, Duration::from_secs(MAX_EXP)] {
            assert!(matches!(expiry(now, ttl), Err(MintError::TtlTooLong(_))));
        }
        let minter = TokenMinter::new(&Secret::new("0123456789abcdef0123456789abcdef"));
        assert!(minter.mint("alice", Duration::MAX, None).is_err());
    }
}
