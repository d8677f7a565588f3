//! What signing in says on the wire, without the browser: the authorization
//! request (code flow with PKCE, RFC 7636), the answer the provider sends
//! back to the app, and who the ID token names. Unit-tested on the host;
//! `session` does the browser's part.
//!
//! The app's own client rather than `yew-oauth2`: with it the wasm grew
//! from 168 to 440 KiB gzip (OpenID Connect) or 297 KiB (plain OAuth 2),
//! over the page's 250 KiB budget (measured 2026-12-04).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Where the app signs people in, as `/config.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignInConfig {
    /// The issuer: a path on this origin (the edge router serves the
    /// provider) or an absolute URL.
    pub issuer: String,
    pub client_id: String,
}

impl SignInConfig {
    /// The issuer as an absolute URL, seen from `origin`.
    pub fn issuer_url(&self, origin: &str) -> String {
        if self.issuer.starts_with('/') {
            format!("{origin}{}", self.issuer)
        } else {
            self.issuer.clone()
        }
    }
}

/// The provider's endpoints (from its discovery document).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoints {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub end_session_endpoint: Option<String>,
}

/// What a sign-in under way keeps in `sessionStorage` while the browser is
/// at the provider: the PKCE verifier, the state, and where to come back
/// to. (The only thing the app ever stores: tokens stay in memory.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub verifier: String,
    /// The path and query the person was at.
    pub return_to: String,
    /// Asked with `prompt=none`: no sign-in page, only an existing session.
    pub silent: bool,
}

/// base64url without padding.
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The authorization request's URL. `challenge` is base64url(SHA-256(verifier)).
pub fn authorization_url(
    endpoints: &Endpoints,
    config: &SignInConfig,
    redirect_uri: &str,
    pending: &Pending,
    challenge: &str,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &config.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid profile")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &pending.state);
    if pending.silent {
        query.append_pair("prompt", "none");
    }
    let separator = if endpoints.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{separator}{}",
        endpoints.authorization_endpoint,
        query.finish()
    )
}

/// What the provider sent the browser back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// A code to exchange for tokens.
    Code { code: String, state: String },
    /// A refusal: `login_required` after a silent try means "not signed in".
    Error {
        error: String,
        description: Option<String>,
        state: Option<String>,
    },
}

/// The provider's answer in a query string (`?code=..&state=..`), if it is one.
pub fn callback(query: &str) -> Option<Callback> {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    if let (Some(code), Some(state)) = (get("code"), get("state")) {
        return Some(Callback::Code { code, state });
    }
    get("error").map(|error| Callback::Error {
        error,
        description: get("error_description"),
        state: get("state"),
    })
}

/// Whether a silent try's refusal only means nobody is signed in.
pub fn means_signed_out(error: &str) -> bool {
    matches!(
        error,
        "login_required"
            | "interaction_required"
            | "consent_required"
            | "account_selection_required"
    )
}

/// The token endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

/// Who an ID token names, for the page to greet (read, not verified: the
/// token came straight from the provider's token endpoint on this origin,
/// and the API checks every access token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub sub: String,
    pub name: String,
}

pub fn person(id_token: &str) -> Option<Person> {
    #[derive(Deserialize)]
    struct Claims {
        sub: String,
        preferred_username: Option<String>,
        name: Option<String>,
    }
    let payload = id_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    let name = claims
        .preferred_username
        .or(claims.name)
        .unwrap_or_else(|| claims.sub.clone());
    Some(Person {
        sub: claims.sub,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints {
            authorization_endpoint: "http://h/oidc/auth".into(),
            token_endpoint: "http://h/oidc/token".into(),
            end_session_endpoint: None,
        }
    }

    #[test]
    fn a_relative_issuer_is_on_this_origin() {
        let config = SignInConfig {
            issuer: "/oidc".into(),
            client_id: "task-web".into(),
        };
        assert_eq!(
            config.issuer_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/oidc"
        );
        let external = SignInConfig {
            issuer: "https://login.example.com/realms/x".into(),
            ..config
        };
        assert_eq!(
            external.issuer_url("http://a"),
            "https://login.example.com/realms/x"
        );
    }

    #[test]
    fn the_authorization_request_carries_pkce_and_state() {
        let config = SignInConfig {
            issuer: "/oidc".into(),
            client_id: "task-web".into(),
        };
        let pending = Pending {
            state: "s1".into(),
            verifier: "v".into(),
            return_to: "/?status=pending".into(),
            silent: true,
        };
        let url = authorization_url(&endpoints(), &config, "http://h/", &pending, "c h");
        assert_eq!(
            url,
            "http://h/oidc/auth?response_type=code&client_id=task-web&redirect_uri=http%3A%2F%2Fh%2F\
             &scope=openid+profile&code_challenge=c+h&code_challenge_method=S256&state=s1&prompt=none"
        );
        let loud = Pending {
            silent: false,
            ..pending
        };
        assert!(
            !authorization_url(&endpoints(), &config, "http://h/", &loud, "c").contains("prompt")
        );
    }

    #[test]
    fn the_providers_answer_is_read_from_the_query() {
        assert_eq!(
            callback("?code=abc&state=s1&iss=x"),
            Some(Callback::Code {
                code: "abc".into(),
                state: "s1".into()
            })
        );
        assert_eq!(
            callback("?error=login_required&state=s1"),
            Some(Callback::Error {
                error: "login_required".into(),
                description: None,
                state: Some("s1".into())
            })
        );
        assert_eq!(callback("?status=pending&q=milk"), None);
        assert!(means_signed_out("login_required"));
        assert!(!means_signed_out("access_denied"));
    }

    #[test]
    fn the_id_token_names_the_person() {
        let payload = base64url(br#"{"sub":"u-1","preferred_username":"alice"}"#);
        let alice = person(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!((alice.sub.as_str(), alice.name.as_str()), ("u-1", "alice"));
        let payload = base64url(br#"{"sub":"u-2"}"#);
        assert_eq!(person(&format!("e30.{payload}.sig")).unwrap().name, "u-2");
        assert_eq!(person("not a token"), None);
    }

    #[test]
    fn base64url_has_no_padding() {
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
