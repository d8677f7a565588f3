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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::{Value, json};

    use super::*;

    /// A key only these tests know and trust: no function is ever given it.
    const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXnwIHq9qQBhtdXwr
M0iK2kDONTsuVywUiRfxvEidv0ihRANCAARtv6xeGaQwdTyChvpuM6BRatGNTQKN
+CT3LnKmGkS6hbSDMk9rEUwRUfmZxgxUESotpm3UWufgbQQOZUtJXL+N
-----END PRIVATE KEY-----";
    const TEST_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"bb-sXhmkMHU8gob6bjOgUWrRjU0Cjfgk9y5yphpEuoU","y":"tIMyT2sRTBFR-ZnGDFQRKi2mbdRa5-BtBA5lS0lcv40","kid":"unit-test","alg":"ES256","use":"sig"}]}"#;
    const ISSUER: &str = "http://op.test/oidc";

    fn authenticator(leeway_s: u64) -> Authenticator {
        let leeway = leeway_s.to_string();
        Authenticator::new(
            AuthConfig::from_lookup(|name| match name {
                "AUTH_ISSUER" => Some(ISSUER.into()),
                "AUTH_JWKS" => Some(TEST_JWKS.into()),
                "AUTH_LEEWAY_S" => Some(leeway.clone()),
                _ => None,
            })
            .unwrap(),
        )
    }

    fn claims(expires_in: i64) -> Value {
        json!({
            "iss": ISSUER, "aud": "task-api", "sub": "u1", "roles": ["admin"],
            "exp": now() as i64 + expires_in, "iat": now(),
        })
    }

    fn header(typ: &str, kid: &str) -> Header {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.into());
        header.kid = Some(kid.into());
        header
    }

    fn sign(header: &Header, claims: &Value) -> String {
        encode(
            header,
            claims,
            &EncodingKey::from_ec_pem(TEST_KEY.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn token(claims: &Value) -> String {
        sign(&header("at+jwt", "unit-test"), claims)
    }

    /// Header and payload as given, with `signature` (base64url) after them.
    fn forged(header: &Value, claims: &Value, signature: &[u8]) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.{}",
            part(header),
            part(claims),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[tokio::test]
    async fn a_valid_access_token_names_its_subject_and_roles() {
        let claims = authenticator(30)
            .verify(&token(&claims(300)))
            .await
            .unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.roles, ["admin"]);
    }

    #[tokio::test]
    async fn every_broken_promise_is_refused() {
        let auth = authenticator(30);
        let mut cases: Vec<(&str, String)> = vec![
            ("expired past the leeway", token(&claims(-31))),
            ("not valid yet", {
                let mut claims = claims(300);
                claims["nbf"] = json!(now() + 60);
                token(&claims)
            }),
            ("another issuer", {
                let mut claims = claims(300);
                claims["iss"] = json!("http://elsewhere/oidc");
                token(&claims)
            }),
            ("another audience", {
                let mut claims = claims(300);
                claims["aud"] = json!("task-web");
                token(&claims)
            }),
            ("no subject", {
                let mut claims = claims(300);
                claims.as_object_mut().unwrap().remove("sub");
                token(&claims)
            }),
            ("an empty subject", {
                let mut claims = claims(300);
                claims["sub"] = json!("");
                token(&claims)
            }),
            (
                "an ID token (typ JWT)",
                sign(&header("JWT", "unit-test"), &claims(300)),
            ),
            ("no typ", {
                let mut header = header("x", "unit-test");
                header.typ = None;
                sign(&header, &claims(300))
            }),
            (
                "a key not in the set",
                sign(&header("at+jwt", "other"), &claims(300)),
            ),
            (
                "alg none",
                forged(
                    &json!({"alg": "none", "typ": "at+jwt", "kid": "unit-test"}),
                    &claims(300),
                    b"",
                ),
            ),
            ("HS256 keyed with the published key", {
                use hmac::{Hmac, Mac};
                let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": "unit-test"});
                let unsigned = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims(300).to_string())
                );
                let mut mac = Hmac::<Sha256>::new_from_slice(TEST_JWKS.as_bytes()).unwrap();
                mac.update(unsigned.as_bytes());
                let signature = mac.finalize().into_bytes();
                format!("{unsigned}.{}", URL_SAFE_NO_PAD.encode(signature))
            }),
            ("not a JWT", "not.a-token".into()),
        ];
        let mut flipped = token(&claims(300)).into_bytes();
        let at = flipped.len() - 10;
        flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
        cases.push(("a flipped byte", String::from_utf8(flipped).unwrap()));
        for (case, token) in cases {
            assert!(auth.verify(&token).await.is_err(), "{case} was accepted");
        }
    }

    #[tokio::test]
    async fn clocks_may_disagree_by_the_leeway_only() {
        let late = token(&claims(-20));
        assert!(authenticator(30).verify(&late).await.is_ok());
        assert!(authenticator(10).verify(&late).await.is_err());
    }

    #[tokio::test]
    async fn a_verified_token_is_remembered_until_it_expires() {
        let auth = authenticator(0);
        let short = token(&claims(1));
        assert!(auth.verify(&short).await.is_ok());
        assert_eq!(auth.verified.lock().unwrap().len(), 1);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(
            auth.verify(&short).await.is_err(),
            "remembered past its expiry"
        );
    }
}
