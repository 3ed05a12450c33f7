//! Verifying connection JWTs: HS256 with a shared secret, or RS256/ES256
//! against a PEM public key. `alg: none` and algorithms other than the
//! configured key's are refused.

use std::time::Duration;

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

use super::{Claims, Secret};

/// The latest expiry Tandem accepts or mints: 9999-12-31T23:59:59Z, in
/// seconds since the epoch (a date every client can represent).
pub const MAX_EXP: u64 = 253_402_300_799;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// `exp` is past, or `nbf` is in the future (the SDKs fetch a new token: 109).
    #[error("token expired")]
    Expired,
    /// Anything else: bad signature, wrong algorithm, malformed, wrong issuer or
    /// audience, missing `sub` (close 3500).
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Could not build a verifier from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The public key file could not be read.
    #[error("TANDEM_JWT_PUBLIC_KEY_FILE: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is neither an RSA nor an EC public key in PEM form.
    #[error("TANDEM_JWT_PUBLIC_KEY_FILE: {0} is not an RSA or EC public key in PEM format")]
    NotAKey(String),
}

struct PublicKey {
    key: DecodingKey,
    algorithm: Algorithm,
}

/// Checks connection tokens.
pub struct TokenVerifier {
    /// HS256 keys: the current secret first, then earlier ones.
    hmac: Vec<DecodingKey>,
    public: Option<PublicKey>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
}

/// Settings for a [`TokenVerifier`].
#[derive(Debug, Clone, Default)]
pub struct VerifierConfig {
    /// HS256 secret.
    pub hs256_secret: Option<Secret>,
    /// Earlier HS256 secrets still accepted (rotation).
    pub hs256_previous: Vec<Secret>,
    /// Path of an RSA or EC public key (PEM) for RS256/ES256.
    pub public_key_file: Option<std::path::PathBuf>,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required `aud`.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp`/`nbf`.
    pub leeway: Duration,
}

impl TokenVerifier {
    /// Builds a verifier; reads and parses the public key file if one is set.
    pub fn new(config: &VerifierConfig) -> Result<Self, KeyError> {
        let public = match &config.public_key_file {
            Some(path) => Some(load_public_key(path)?),
            None => None,
        };
        Ok(Self {
            hmac: config
                .hs256_secret
                .iter()
                .chain(&config.hs256_previous)
                .map(|s| DecodingKey::from_secret(s.expose()))
                .collect(),
            public,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway,
        })
    }

    /// Verifies `token` and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let (keys, algorithm): (&[DecodingKey], Algorithm) = match header.alg {
            Algorithm::HS256 if self.hmac.is_empty() => {
                return Err(AuthError::Invalid("HS256 tokens are not accepted".into()))
            }
            Algorithm::HS256 => (&self.hmac, Algorithm::HS256),
            alg => match &self.public {
                Some(public) if public.algorithm == alg => (std::slice::from_ref(&public.key), alg),
                _ => {
                    return Err(AuthError::Invalid(format!(
                        "{alg:?} tokens are not accepted"
                    )))
                }
            },
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        // A configured issuer or audience must be present, not only right
        // when present.
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        // The first key whose signature matches decides (the current
        // secret first, then earlier ones during a rotation).
        use jsonwebtoken::errors::ErrorKind;
        let mut decoded = Err(ErrorKind::InvalidSignature.into());
        for key in keys {
            decoded = decode::<Claims>(token, key, &validation);
            match &decoded {
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => continue,
                _ => break,
            }
        }
        let data = decoded.map_err(|e: jsonwebtoken::errors::Error| match e.kind() {
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => AuthError::Expired,
            _ => AuthError::Invalid(e.to_string()),
        })?;
        if data.claims.sub.is_empty() {
            return Err(AuthError::Invalid("missing sub".into()));
        }
        if data.claims.exp > MAX_EXP {
            return Err(AuthError::Invalid(format!(
                "exp beyond {MAX_EXP} (year 9999)"
            )));
        }
        Ok(data.claims)
    }
}

fn load_public_key(path: &std::path::Path) -> Result<PublicKey, KeyError> {
    let pem = std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        return Ok(PublicKey {
            key,
            algorithm: Algorithm::RS256,
        });
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        return Ok(PublicKey {
            key,
            algorithm: Algorithm::ES256,
        });
    }
    Err(KeyError::NotAKey(path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenMinter;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&VerifierConfig {
            hs256_secret: Some(Secret::new(SECRET)),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn accepts_a_minted_token() {
        let token = TokenMinter::new(&Secret::new(SECRET))
            .mint("alice", Duration::from_secs(60), None)
            .unwrap();
        let claims = verifier().verify(&token).unwrap();
        assert_eq!(claims.sub, "alice");
    }

    #[test]
    fn refuses_wrong_key_alg_none_and_expired() {
        let other = TokenMinter::new(&Secret::new("another-secret-another-secret-xx"))
            .mint("alice", Duration::from_secs(60), None)
            .unwrap();
        assert!(matches!(
            verifier().verify(&other),
            Err(AuthError::Invalid(_))
        ));

        // {"alg":"none","typ":"JWT"} . {"sub":"alice","exp":9999999999} . (no signature)
        let none =
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
        assert!(matches!(
            verifier().verify(none),
            Err(AuthError::Invalid(_))
        ));

        let expired = TokenMinter::new(&Secret::new(SECRET))
            .mint_with_exp("alice", 1_000, None)
            .unwrap();
        assert!(matches!(
            verifier().verify(&expired),
            Err(AuthError::Expired)
        ));
    }

    #[test]
    fn previous_secrets_verify_during_a_rotation() {
        const OLD: &str = "old-secret-old-secret-old-secret";
        const RETIRED: &str = "retired-secret-retired-secret-xx";
        let rotating = TokenVerifier::new(&VerifierConfig {
            hs256_secret: Some(Secret::new(SECRET)),
            hs256_previous: vec![Secret::new(OLD)],
            ..Default::default()
        })
        .unwrap();
        let mint = |secret: &str| {
            TokenMinter::new(&Secret::new(secret))
                .mint("alice", Duration::from_secs(60), None)
                .unwrap()
        };
        assert_eq!(rotating.verify(&mint(SECRET)).unwrap().sub, "alice");
        assert_eq!(rotating.verify(&mint(OLD)).unwrap().sub, "alice");
        assert!(matches!(
            rotating.verify(&mint(RETIRED)),
            Err(AuthError::Invalid(_))
        ));
        // Without the previous secret the old token is refused.
        assert!(matches!(
            verifier().verify(&mint(OLD)),
            Err(AuthError::Invalid(_))
        ));
        // An expired token of an old secret says expired, not invalid.
        let expired = TokenMinter::new(&Secret::new(OLD))
            .mint_with_exp("alice", 1_000, None)
            .unwrap();
        assert!(matches!(rotating.verify(&expired), Err(AuthError::Expired)));
    }

    fn claims(iss: Option<&str>, aud: Option<&str>, exp: u64) -> Claims {
        Claims {
            sub: "alice".into(),
            exp,
            iat: None,
            nbf: None,
            iss: iss.map(str::to_owned),
            aud: aud.map(|a| serde_json::json!(a)),
            info: None,
        }
    }

    #[test]
    fn configured_issuer_and_audience_are_required() {
        let v = TokenVerifier::new(&VerifierConfig {
            hs256_secret: Some(Secret::new(SECRET)),
            issuer: Some("https://idp".into()),
            audience: Some("tandem".into()),
            ..Default::default()
        })
        .unwrap();
        let minter = TokenMinter::new(&Secret::new(SECRET));
        let exp = crate::auth::mint::now_secs() + 60;
        let ok = minter
            .mint_claims(&claims(Some("https://idp"), Some("tandem"), exp))
            .unwrap();
        assert!(v.verify(&ok).is_ok());
        for (iss, aud) in [
            (None, Some("tandem")),
            (Some("https://idp"), None),
            (None, None),
            (Some("https://other"), Some("tandem")),
            (Some("https://idp"), Some("other")),
        ] {
            let token = minter.mint_claims(&claims(iss, aud, exp)).unwrap();
            assert!(
                matches!(v.verify(&token), Err(AuthError::Invalid(_))),
                "iss {iss:?} aud {aud:?}"
            );
        }
    }

    #[test]
    fn any_signed_exp_is_handled_without_panic() {
        let minter = TokenMinter::new(&Secret::new(SECRET));
        for exp in [u64::MAX, MAX_EXP + 1, i64::MAX as u64] {
            let token = minter.mint_claims(&claims(None, None, exp)).unwrap();
            assert!(matches!(
                verifier().verify(&token),
                Err(AuthError::Invalid(_))
            ));
        }
        let token = minter.mint_claims(&claims(None, None, MAX_EXP)).unwrap();
        assert!(verifier().verify(&token).is_ok());
    }
}
