//! Extractors of the REST API. Each one rejects with an [`ApiError`], so even
//! a malformed request gets the JSON error shape:
//!
//! - [`AuthUser`]: the caller, from `Authorization: Bearer <JWT>` (401 otherwise).
//! - [`ApiJson`]: a JSON body; 400 malformed JSON, 422 valid JSON of the wrong
//!   shape, 413 over the body limit, 415 a non-JSON `Content-Type`. A missing
//!   `Content-Type` is accepted. `Option<ApiJson<T>>` accepts an empty body.
//! - [`ApiPath`], [`ApiQuery`]: path and query parameters (400 when malformed).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::{ApiError, AuthFailure};
use crate::auth::jwt::TokenVerifier;
use crate::state::AppState;

/// The authenticated caller: the `sub` of a valid connection JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// User id (`claims.sub`).
    pub id: String,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, state.node.verifier())
    }
}

/// Checks the bearer token in `headers`. The token itself is never logged.
pub fn authenticate(headers: &HeaderMap, verifier: &TokenVerifier) -> Result<AuthUser, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(AuthFailure::Missing))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized(AuthFailure::Malformed))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(ApiError::Unauthorized(AuthFailure::Malformed))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::Unauthorized(AuthFailure::Malformed));
    }
    let claims = verifier.verify(token).map_err(|e| {
        tracing::debug!(reason = %e, "api token refused");
        ApiError::from(e)
    })?;
    Ok(AuthUser { id: claims.sub })
}

/// A JSON request body whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        check_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

impl<T, S> OptionalFromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        check_content_type(&headers)?;
        parse(&bytes).map(|v| Some(ApiJson(v)))
    }
}

/// 400 for syntax errors, 422 for data that does not fit `T`.
fn parse<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    axum::Json::<T>::from_bytes(bytes)
        .map(|axum::Json(value)| value)
        .map_err(ApiError::from)
}

/// A `Content-Type`, when given, must be JSON (`application/json` or `*/*+json`).
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::Body {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "expected a JSON body (Content-Type: application/json)".into(),
        })
    }
}

/// Path parameters whose rejections are [`ApiError`]s (400).
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters whose rejections are [`ApiError`]s (400).
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// An optional header as a string; 400 when it is not visible ASCII.
pub fn header_str<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| ApiError::Header {
                name,
                message: "must be visible ASCII".into(),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::HeaderValue;
    use serde::Deserialize;

    use super::*;
    use crate::auth::jwt::VerifierConfig;
    use crate::auth::{Secret, TokenMinter};

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&VerifierConfig {
            hs256_secret: Some(Secret::new(SECRET)),
            ..Default::default()
        })
        .unwrap()
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn failure(result: Result<AuthUser, ApiError>) -> AuthFailure {
        match result {
            Err(ApiError::Unauthorized(f)) => f,
            other => panic!("expected 401, got {other:?}"),
        }
    }

    #[test]
    fn bearer_tokens_authenticate_their_subject() {
        let token = TokenMinter::new(&Secret::new(SECRET))
            .mint("alice", Duration::from_secs(60), None)
            .unwrap();
        let user = authenticate(&bearer(&format!("Bearer {token}")), &verifier()).unwrap();
        assert_eq!(user.id, "alice");
        let lower = authenticate(&bearer(&format!("bearer  {token}")), &verifier()).unwrap();
        assert_eq!(lower.id, "alice");
    }

    #[test]
    fn missing_malformed_invalid_and_expired_tokens_are_refused() {
        let v = verifier();
        assert_eq!(
            failure(authenticate(&HeaderMap::new(), &v)),
            AuthFailure::Missing
        );
        assert_eq!(
            failure(authenticate(&bearer("Basic abc"), &v)),
            AuthFailure::Malformed
        );
        assert_eq!(
            failure(authenticate(&bearer("Bearer"), &v)),
            AuthFailure::Malformed
        );
        assert_eq!(
            failure(authenticate(&bearer("Bearer not.a.jwt"), &v)),
            AuthFailure::Invalid
        );
        let other = TokenMinter::new(&Secret::new("another-secret-another-secret-xx"))
            .mint("alice", Duration::from_secs(60), None)
            .unwrap();
        assert_eq!(
            failure(authenticate(&bearer(&format!("Bearer {other}")), &v)),
            AuthFailure::Invalid
        );
        let expired = TokenMinter::new(&Secret::new(SECRET))
            .mint_with_exp("alice", 1_000, None)
            .unwrap();
        assert_eq!(
            failure(authenticate(&bearer(&format!("Bearer {expired}")), &v)),
            AuthFailure::Expired
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Num {
        n: u32,
    }

    fn request(content_type: Option<&str>, body: &'static str) -> Request {
        let mut builder = Request::builder().method("POST").uri("/");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::from(body)).unwrap()
    }

    async fn json(req: Request) -> Result<Num, ApiError> {
        <ApiJson<Num> as FromRequest<()>>::from_request(req, &())
            .await
            .map(|ApiJson(b)| b)
    }

    async fn optional(req: Request) -> Result<Option<Num>, ApiError> {
        <ApiJson<Num> as OptionalFromRequest<()>>::from_request(req, &())
            .await
            .map(|o| o.map(|ApiJson(b)| b))
    }

    fn status(result: Result<impl std::fmt::Debug, ApiError>) -> StatusCode {
        match result {
            Err(e) => e.status(),
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    }

    #[tokio::test]
    async fn json_bodies_parse_or_reject_with_the_right_status() {
        let ok = json(request(Some("application/json"), r#"{"n":3}"#))
            .await
            .unwrap();
        assert_eq!(ok, Num { n: 3 });
        let no_type = json(request(None, r#"{"n":4}"#)).await.unwrap();
        assert_eq!(no_type, Num { n: 4 });
        let charset = json(request(
            Some("application/json; charset=utf-8"),
            r#"{"n":5}"#,
        ))
        .await
        .unwrap();
        assert_eq!(charset, Num { n: 5 });
        assert_eq!(
            status(json(request(Some("application/json"), "{\"n\":")).await),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(json(request(Some("application/json"), r#"{"n":"three"}"#)).await),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status(json(request(Some("application/json"), "")).await),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(json(request(Some("text/plain"), r#"{"n":1}"#)).await),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413() {
        let big = "x".repeat(axum_default_limit() + 1);
        let req = Request::builder()
            .method("POST")
            .uri("/")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(big))
            .unwrap();
        assert_eq!(status(json(req).await), StatusCode::PAYLOAD_TOO_LARGE);
    }

    fn axum_default_limit() -> usize {
        2 * 1024 * 1024
    }

    #[tokio::test]
    async fn optional_bodies_may_be_empty() {
        assert_eq!(optional(request(None, "")).await.unwrap(), None);
        assert_eq!(
            optional(request(Some("application/json"), " \n"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            optional(request(Some("application/json"), r#"{"n":1}"#))
                .await
                .unwrap(),
            Some(Num { n: 1 })
        );
        assert_eq!(
            status(optional(request(Some("application/json"), "[")).await),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn non_ascii_headers_are_400() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "idempotency-key",
            HeaderValue::from_bytes(&[0xff, 0x41]).unwrap(),
        );
        let err = header_str(&headers, "idempotency-key").unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            header_str(&HeaderMap::new(), "idempotency-key").unwrap(),
            None
        );
    }
}
