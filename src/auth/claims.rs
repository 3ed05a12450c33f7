//! The claims Tandem reads from a connection token.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Connection token claims (Centrifugo semantics, subset).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id. Required and non-empty: Tandem has no anonymous users.
    #[serde(default)]
    pub sub: String,
    /// Expiry (seconds since the epoch). Required.
    pub exp: u64,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issuer (checked when configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience (checked when configured); a string or a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Value>,
    /// Application info shown to others as `conn_info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
}
