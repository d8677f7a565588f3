//! Checking one access token: its signature (a pinned algorithm, a known
//! key), `typ`, `iss`, `aud`, `exp`, `nbf` and `sub`. A token that passed is
//! remembered until it expires, so a client's next requests cost a lookup,
//! not a signature check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Validation, decode, decode_header};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::config::AuthConfig;
use super::keys::KeySet;

/// Verified tokens remembered at most (a few MiB at most: 32 bytes of hash
/// and the claims each).
const CACHE_ENTRIES: usize = 10_000;

/// What a verified access token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// The opaque subject identifier: who this is.
    pub sub: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// When it expires (seconds since the epoch).
    pub exp: u64,
}

/// Why a token is refused: said in the `WWW-Authenticate` header's
/// `error_description` and the problem's `detail` (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidToken(pub String);

/// Checks access tokens against one issuer, audience and key set.
#[derive(Clone)]
pub struct Authenticator {
    config: Arc<AuthConfig>,
    keys: KeySet,
    verified: Arc<Mutex<HashMap<[u8; 32], Claims>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuer", &self.config.issuer)
            .field("audience", &self.config.audience)
            .field("keys", &self.keys)
            .finish()
    }
}

impl Authenticator {
    pub fn new(config: AuthConfig) -> Self {
        let keys = KeySet::new(&config.jwks, config.jwks_url.clone());
        Self {
            config: Arc::new(config),
            keys,
            verified: Arc::default(),
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The key set (to see how often it was fetched).
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The claims of `token`, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = now();
        let leeway = self.config.leeway.as_secs();
        if let Some(claims) = self.remembered(&digest) {
            if claims.exp.saturating_add(leeway) >= now {
                return Ok(claims);
            }
            return Err(InvalidToken("the token has expired".into()));
        }
        let claims = self.check(token).await?;
        self.remember(digest, &claims, now);
        Ok(claims)
    }

    fn remembered(&self, digest: &[u8; 32]) -> Option<Claims> {
        self.verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
            .cloned()
    }

    /// Keeps `claims` until they expire; a full cache first drops what has
    /// expired, then, if still full, starts over.
    fn remember(&self, digest: [u8; 32], claims: &Claims, now: u64) {
        let leeway = self.config.leeway.as_secs();
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= CACHE_ENTRIES {
            verified.retain(|_, claims| claims.exp.saturating_add(leeway) >= now);
            if verified.len() >= CACHE_ENTRIES {
                verified.clear();
            }
        }
        verified.insert(digest, claims.clone());
    }

    /// The full check of a token not seen yet.
    async fn check(&self, token: &str) -> Result<Claims, InvalidToken> {
        let refuse = |reason: &str| InvalidToken(reason.to_string());
        let header = decode_header(token).map_err(|_| refuse("the token is not a signed JWT"))?;
        if !self.config.algorithms.contains(&header.alg) {
            return Err(refuse("the token's signature algorithm is not accepted"));
        }
        // RFC 9068: an access token says it is one, so an ID token (or any
        // other JWT of the same provider) is never taken for one.
        let typ = header.typ.as_deref().unwrap_or_default();
        if !(typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")) {
            return Err(refuse("the token is not an access token (typ at+jwt)"));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| refuse("the token names no key (kid)"))?;
        let key = self
            .keys
            .find(kid)
            .await
            .ok_or_else(|| refuse("the token is signed with an unknown key"))?;
        // The header's algorithm (one of the pinned list, checked above); the
        // key must be of its family.
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = decode::<Claims>(token, &key, &validation).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind;
            refuse(match err.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
                ErrorKind::InvalidIssuer => "the token is from another issuer",
                ErrorKind::InvalidAudience => "the token is not meant for this API (aud)",
                ErrorKind::InvalidSignature => "the token's signature does not verify",
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                _ => "the token cannot be verified",
            })
        })?;
        if data.claims.sub.is_empty() {
            return Err(refuse("the token's subject is empty"));
        }
        Ok(data.claims)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
