//! Connection tokens: HS256 JWTs with `sub` and `exp`, signed with the
//! server's `--jwt-hs256-secret`, minted here so no server endpoint is needed.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, EncodingKey, Header};
use serde::Serialize;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
}

/// Mints (and caches) one token per user.
pub struct Minter {
    key: EncodingKey,
    ttl: Duration,
    cache: HashMap<String, String>,
}

impl Minter {
    /// A minter for `secret` (at least 32 bytes, like the server requires)
    /// whose tokens live `ttl`.
    pub fn new(secret: &str, ttl: Duration) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= 32,
            "the JWT secret must be at least 32 bytes (the server refuses shorter ones)"
        );
        Ok(Self {
            key: EncodingKey::from_secret(secret.as_bytes()),
            ttl,
            cache: HashMap::new(),
        })
    }

    /// The token of `user`.
    pub fn token(&mut self, user: &str) -> anyhow::Result<String> {
        if let Some(token) = self.cache.get(user) {
            return Ok(token.clone());
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = Claims {
            sub: user,
            iat: now,
            exp: now + self.ttl.as_secs(),
        };
        let token = encode(&Header::default(), &claims, &self.key)?;
        self.cache.insert(user.to_owned(), token.clone());
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_cached_per_user_and_short_secrets_refused() {
        assert!(Minter::new("short", Duration::from_secs(60)).is_err());
        let mut m = Minter::new(&"s".repeat(32), Duration::from_secs(60)).unwrap();
        let a = m.token("alice").unwrap();
        assert_eq!(a, m.token("alice").unwrap());
        assert_ne!(a, m.token("bob").unwrap());
        assert_eq!(a.split('.').count(), 3);
    }
}
