//! Connection tokens (SPEC §4.5): verifying JWTs and minting them.

pub mod claims;
pub mod dev_secret;
pub mod jwt;
pub mod mint;

pub use claims::Claims;
pub use jwt::{AuthError, TokenVerifier};
pub use mint::TokenMinter;

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's bytes, for key construction only.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}
