//! The token checks' settings, read from the environment once at start-up.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;

use crate::config::{ConfigError, required, setting};

/// The most clock skew a token's `exp` and `nbf` are given.
pub const MAX_LEEWAY: Duration = Duration::from_secs(30);

/// How a function checks the bearer tokens of its callers.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `AUTH_ISSUER`: the `iss` every token must carry, exactly.
    pub issuer: String,
    /// `AUTH_AUDIENCE`: what every token's `aud` must contain. Default `task-api`.
    pub audience: String,
    /// `AUTH_ALGORITHMS`: the signature algorithms accepted (comma-separated,
    /// asymmetric only). Default `ES256,RS256`.
    pub algorithms: Vec<Algorithm>,
    /// `AUTH_JWKS` (the key set as JSON) or `AUTH_JWKS_FILE` (a file holding
    /// it): the provider's keys, written at deploy time, so that a cold start
    /// asks the provider nothing.
    pub jwks: JwkSet,
    /// `AUTH_JWKS_URL`: where the key set is fetched again when a token names
    /// a key the function does not know (a rotation). Without it, only the
    /// configured keys are ever used.
    pub jwks_url: Option<String>,
    /// `AUTH_LEEWAY_S`: clock skew allowed on `exp` and `nbf`, at most 30. Default 30.
    pub leeway: Duration,
    /// `AUTH_ADMIN_ROLE`: the role (in the token's `roles`) that reads and
    /// changes every user's tasks. Default `admin`.
    pub admin_role: String,
}

impl AuthConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let issuer = required(
            &lookup,
            "AUTH_ISSUER",
            "the OpenID Provider's issuer, e.g. http://127.0.0.1:8080/oidc",
        )?;
        let jwks_text = match (lookup("AUTH_JWKS"), lookup("AUTH_JWKS_FILE")) {
            (Some(text), _) if !text.trim().is_empty() => text,
            (_, Some(path)) if !path.trim().is_empty() => std::fs::read_to_string(path.trim())
                .map_err(|err| ConfigError::Invalid {
                    name: "AUTH_JWKS_FILE",
                    value: path.clone(),
                    reason: err.to_string(),
                })?,
            _ => {
                return Err(ConfigError::Missing(
                    "AUTH_JWKS",
                    "the provider's key set (JSON), or AUTH_JWKS_FILE a file holding it",
                ));
            }
        };
        let jwks: JwkSet =
            serde_json::from_str(&jwks_text).map_err(|err| ConfigError::Invalid {
                name: "AUTH_JWKS",
                value: "<key set>".into(),
                reason: format!("not a JSON Web Key Set: {err}"),
            })?;
        let leeway = Duration::from_secs(setting(&lookup, "AUTH_LEEWAY_S", 30)?);
        if leeway > MAX_LEEWAY {
            return Err(ConfigError::Invalid {
                name: "AUTH_LEEWAY_S",
                value: leeway.as_secs().to_string(),
                reason: "must be at most 30".into(),
            });
        }
        let jwks_url = lookup("AUTH_JWKS_URL").filter(|url| !url.trim().is_empty());
        if let Some(url) = &jwks_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: "AUTH_JWKS_URL",
                value: url.clone(),
                reason: "must be an http:// or https:// URL".into(),
            });
        }
        Ok(Self {
            issuer,
            audience: setting(&lookup, "AUTH_AUDIENCE", "task-api".to_string())?,
            algorithms: algorithms(&lookup)?,
            jwks,
            jwks_url,
            leeway,
            admin_role: setting(&lookup, "AUTH_ADMIN_ROLE", "admin".to_string())?,
        })
    }
}

/// The pinned algorithm list: public-key signatures only. An HMAC algorithm
/// would let anyone holding the published key sign tokens, and `none` is
/// no signature at all.
fn algorithms(lookup: &impl Fn(&str) -> Option<String>) -> Result<Vec<Algorithm>, ConfigError> {
    let text = setting(lookup, "AUTH_ALGORITHMS", "ES256,RS256".to_string())?;
    let invalid = |reason: String| ConfigError::Invalid {
        name: "AUTH_ALGORITHMS",
        value: text.clone(),
        reason,
    };
    let algorithms = text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            let algorithm: Algorithm = name
                .parse()
                .map_err(|_| invalid(format!("{name} is not a JWS algorithm")))?;
            if matches!(
                algorithm,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                return Err(invalid(format!(
                    "{name} is symmetric: only public-key algorithms are accepted"
                )));
            }
            Ok(algorithm)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if algorithms.is_empty() {
        return Err(invalid("names no algorithm".into()));
    }
    Ok(algorithms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1","alg":"ES256","use":"sig"}]}"#;

    fn config(vars: &[(&str, &str)]) -> Result<AuthConfig, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuthConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_apply_with_an_issuer_and_a_key_set() {
        let config = config(&[("AUTH_ISSUER", "http://op/oidc"), ("AUTH_JWKS", JWKS)]).unwrap();
        assert_eq!(config.audience, "task-api");
        assert_eq!(config.algorithms, vec![Algorithm::ES256, Algorithm::RS256]);
        assert_eq!(config.leeway, MAX_LEEWAY);
        assert_eq!(config.jwks.keys.len(), 1);
        assert_eq!(config.jwks_url, None);
    }

    #[test]
    fn a_key_set_is_required_so_that_a_cold_start_asks_no_one() {
        let err = config(&[("AUTH_ISSUER", "http://op/oidc")]).unwrap_err();
        assert!(err.to_string().starts_with("AUTH_JWKS is not set"), "{err}");
        let err = config(&[("AUTH_ISSUER", "i"), ("AUTH_JWKS", "[]")]).unwrap_err();
        assert!(err.to_string().contains("not a JSON Web Key Set"), "{err}");
    }

    #[test]
    fn symmetric_algorithms_and_long_leeways_are_refused() {
        let base = [("AUTH_ISSUER", "i"), ("AUTH_JWKS", JWKS)];
        for (name, value) in [
            ("AUTH_ALGORITHMS", "ES256,HS256"),
            ("AUTH_ALGORITHMS", "none"),
            ("AUTH_ALGORITHMS", " "),
            ("AUTH_LEEWAY_S", "31"),
            ("AUTH_JWKS_URL", "file:///etc/keys"),
        ] {
            let mut vars = base.to_vec();
            vars.push((name, value));
            let err = config(&vars).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={value}: {err}"
            );
        }
    }
}
