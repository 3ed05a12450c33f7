//! The server API's key check.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use crate::api::error::ApiError;
use crate::config::ApiKeys;
use crate::state::AppState;

/// Header carrying the key (`Authorization: Bearer <key>` works too).
pub const API_KEY_HEADER: &str = "x-api-key";

/// Proof that the caller presented a valid server API key.
#[derive(Debug, Clone, Copy)]
pub struct ServerKey;

impl FromRequestParts<AppState> for ServerKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let settings = state
            .server_api
            .as_ref()
            .ok_or(ApiError::ServerApiDisabled)?;
        let presented = presented_key(&parts.headers).ok_or(ApiError::ApiKey(true))?;
        if matches(&settings.keys, presented.as_bytes()) {
            Ok(ServerKey)
        } else {
            // Neither key is logged; only that a refusal happened.
            tracing::debug!("server API key refused");
            Err(ApiError::ApiKey(false))
        }
    }
}

/// The key in `X-API-Key`, else in `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(API_KEY_HEADER) {
        return value.to_str().ok().map(str::trim).filter(|k| !k.is_empty());
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// Whether `presented` is one of `keys`: every key is compared, each in
/// constant time (only the lengths can be told apart).
pub fn matches(keys: &ApiKeys, presented: &[u8]) -> bool {
    let mut found = subtle::Choice::from(0);
    for key in keys.keys() {
        found |= key.expose().ct_eq(presented);
    }
    found.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use clap::Parser;

    fn keys(text: &str) -> ApiKeys {
        let cli = crate::config::Cli::try_parse_from(["tandem", "--server-api-key", text]).unwrap();
        cli.config.server_api_key.unwrap()
    }

    #[test]
    fn any_configured_key_matches_and_nothing_else() {
        let keys = keys("old-key-0123456789, new-key-0123456789");
        assert!(matches(&keys, b"old-key-0123456789"));
        assert!(matches(&keys, b"new-key-0123456789"));
        assert!(!matches(&keys, b"new-key-012345678"));
        assert!(!matches(&keys, b""));
        assert!(!format!("{keys:?}").contains("key-0123"));
    }

    #[test]
    fn the_key_comes_from_x_api_key_or_a_bearer_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_key(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(presented_key(&headers), Some("abc"));
        headers.insert(API_KEY_HEADER, HeaderValue::from_static("xyz"));
        assert_eq!(presented_key(&headers), Some("xyz"));
    }
}
