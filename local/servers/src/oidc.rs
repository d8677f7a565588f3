//! The local OpenID Provider (`local/oidc`: npm `oidc-provider` with the
//! app's clients, demo accounts and sign-in page), and signing in through it
//! the way a person does: the authorization code flow with PKCE, the
//! username and password posted to its sign-in page. Tokens only ever come
//! from the provider; no signing key exists outside it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The path the provider is served under, on its own port and on the gateway.
pub const MOUNT: &str = "/oidc";
/// The API's audience: every access token names it.
pub const AUDIENCE: &str = "task-api";
/// The web app's client (public, PKCE).
pub const WEB_CLIENT: &str = "task-web";
/// The client of scripts and tests (`stack token`): native, loopback redirect.
pub const CLI_CLIENT: &str = "task-cli";
const CLI_REDIRECT: &str = "http://127.0.0.1/callback";

/// Why the provider cannot be started or used.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error(
        "the OpenID Provider's packages are not installed in {0}; run `task setup` (npm ci there)"
    )]
    NotInstalled(PathBuf),
    #[error("the OpenID Provider's state in {path} cannot be read: {reason}")]
    State { path: PathBuf, reason: String },
    #[error("the OpenID Provider did not answer at {url} within {seconds} s")]
    NotReady { url: String, seconds: u64 },
    #[error("sign-in as {username} failed: {reason}")]
    SignIn { username: String, reason: String },
}

/// One demo account (`users.json` in the provider's state directory).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Account {
    pub username: String,
    pub password: String,
    /// The opaque subject identifier its tokens carry.
    pub sub: String,
    pub roles: Vec<String>,
}

/// A provider: where it listens, the issuer its clients see, and its state.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    port: u16,
    issuer: String,
    state_dir: PathBuf,
    /// How long its access tokens live, in seconds (default: the provider's 300).
    access_token_ttl: Option<u32>,
}

impl OidcProvider {
    /// A provider on 127.0.0.1:`port` keeping its key and accounts in
    /// `state_dir`. Its issuer is `public_origin` + `/oidc` (the gateway's
    /// origin, when the edge router serves it), or its own address.
    pub fn new(state_dir: impl Into<PathBuf>, port: u16, public_origin: Option<&str>) -> Self {
        let origin = public_origin
            .map(|origin| origin.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
        Self {
            port,
            issuer: format!("{origin}{MOUNT}"),
            state_dir: state_dir.into(),
            access_token_ttl: None,
        }
    }

    /// Access tokens that live `seconds` (1 to 300), for tests of expiry.
    pub fn with_access_token_ttl(self, seconds: u32) -> Self {
        Self {
            access_token_ttl: Some(seconds),
            ..self
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where it keeps its key and accounts.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The provider's own address (not through the gateway).
    pub fn direct_issuer(&self) -> String {
        format!("http://127.0.0.1:{}{MOUNT}", self.port)
    }

    /// Its key set as published at `/oidc/jwks` (written by the provider at
    /// start): what the functions are seeded with.
    pub fn jwks_path(&self) -> PathBuf {
        self.state_dir.join("jwks.json")
    }

    /// The command that runs the provider in the foreground; `web_origins`
    /// are the web app's origins (its redirect targets).
    pub fn command(&self, web_origins: &[&str]) -> Result<Command, OidcError> {
        let dir = provider_dir();
        if !dir.join("node_modules/oidc-provider").is_dir() {
            return Err(OidcError::NotInstalled(dir));
        }
        let mut command = Command::new("node");
        command
            .arg(dir.join("server.mjs"))
            .env("OIDC_ISSUER", &self.issuer)
            .env("OIDC_PORT", self.port.to_string())
            .env("OIDC_STATE_DIR", &self.state_dir)
            .env("OIDC_AUDIENCE", AUDIENCE)
            .env("OIDC_WEB_ORIGINS", web_origins.join(","))
            // Node 20 works; oidc-provider only warns that it prefers 22.
            .env("NODE_NO_WARNINGS", "1");
        if let Some(ttl) = self.access_token_ttl {
            command.env("OIDC_ACCESS_TOKEN_TTL", ttl.to_string());
        }
        Ok(command)
    }

    /// Waits until the provider answers its discovery document.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), OidcError> {
        let url = format!("{}/.well-known/openid-configuration", self.direct_issuer());
        let client = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(response) = client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && response.status().is_success()
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(OidcError::NotReady {
                    url,
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The demo accounts (created by the provider at its first start).
    pub fn accounts(&self) -> Result<Vec<Account>, OidcError> {
        read_json(&self.state_dir.join("users.json"))
    }

    /// The public key set, as JSON text.
    pub fn jwks(&self) -> Result<String, OidcError> {
        let path = self.jwks_path();
        std::fs::read_to_string(&path).map_err(|err| OidcError::State {
            path,
            reason: err.to_string(),
        })
    }

    /// Signs `username` in through the provider's own sign-in page.
    pub async fn sign_in(&self, username: &str) -> Result<Tokens, OidcError> {
        let accounts = self.accounts()?;
        let account = accounts
            .iter()
            .find(|account| account.username == username)
            .ok_or_else(|| OidcError::SignIn {
                username: username.to_string(),
                reason: format!(
                    "no such account (the accounts: {})",
                    accounts
                        .iter()
                        .map(|a| a.username.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        sign_in(&self.direct_issuer(), username, &account.password).await
    }
}

/// `local/oidc` in this checkout (or `OIDC_PROVIDER_DIR`).
pub fn provider_dir() -> PathBuf {
    std::env::var_os("OIDC_PROVIDER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../oidc"))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, OidcError> {
    let state = |reason: String| OidcError::State {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|err| state(err.to_string()))?;
    serde_json::from_str(&text).map_err(|err| state(err.to_string()))
}

/// What a sign-in gives.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    /// A JWT (`at+jwt`) for the task API.
    pub access_token: String,
    /// The client's ID token: its audience is the client, never the API.
    pub id_token: String,
    pub refresh_token: Option<String>,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

/// The authorization code flow with PKCE, as the `task-cli` client, against
/// the provider at `issuer`: the authorization request, the sign-in page's
/// form, then the code exchanged at the token endpoint. The redirect to the
/// client is read, not followed (nothing listens there).
pub async fn sign_in(issuer: &str, username: &str, password: &str) -> Result<Tokens, OidcError> {
    let fail = |reason: String| OidcError::SignIn {
        username: username.to_string(),
        reason,
    };
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|err| fail(err.to_string()))?;
    let verifier = URL_SAFE_NO_PAD.encode(random_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = URL_SAFE_NO_PAD.encode(&random_bytes()[..16]);
    let authorize = reqwest::Url::parse_with_params(
        &format!("{issuer}/auth"),
        [
            ("client_id", CLI_CLIENT),
            ("response_type", "code"),
            ("redirect_uri", CLI_REDIRECT),
            ("scope", "openid profile"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", &state),
        ],
    )
    .map_err(|err| fail(err.to_string()))?;

    // Follows the provider's redirects until it sends the browser back to the
    // client, posting the sign-in form when it shows it.
    let mut next = client.get(authorize);
    let mut posted = false;
    for _ in 0..10 {
        let response = next.send().await.map_err(|err| fail(err.to_string()))?;
        let status = response.status();
        let url = response.url().clone();
        if status == reqwest::StatusCode::UNAUTHORIZED && posted {
            return Err(fail("the provider refused the password".into()));
        }
        if status.is_success() {
            if posted {
                return Err(fail(format!("the sign-in page answered {status} again")));
            }
            // The sign-in page: post the form where it says.
            let login = url.join(&format!(
                "{}/login",
                url.path_segments()
                    .and_then(|mut segments| segments.next_back())
                    .unwrap_or_default()
            ));
            let login = login.map_err(|err| fail(err.to_string()))?;
            next = client
                .post(login)
                .form(&[("username", username), ("password", password)]);
            posted = true;
            continue;
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| fail(format!("{url} answered {status} without a redirect")))?;
        let target = url.join(location).map_err(|err| fail(err.to_string()))?;
        if target.as_str().starts_with(CLI_REDIRECT) {
            let query: std::collections::HashMap<String, String> =
                target.query_pairs().into_owned().collect();
            if query.get("state") != Some(&state) {
                return Err(fail("the provider answered with another state".into()));
            }
            let code = query.get("code").ok_or_else(|| {
                fail(format!(
                    "no code: {}",
                    query.get("error_description").cloned().unwrap_or_default()
                ))
            })?;
            return exchange(&client, issuer, code, &verifier)
                .await
                .map_err(fail);
        }
        next = client.get(target);
    }
    Err(fail("too many redirects".into()))
}

async fn exchange(
    client: &reqwest::Client,
    issuer: &str,
    code: &str,
    verifier: &str,
) -> Result<Tokens, String> {
    let response = client
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CLI_REDIRECT),
            ("client_id", CLI_CLIENT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|err| err.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|err| err.to_string())?;
    if !status.is_success() {
        return Err(format!("the token endpoint answered {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|err| format!("the token endpoint's answer: {err}"))
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom").expect("/dev/urandom");
    std::io::Read::read_exact(&mut urandom, &mut bytes).expect("random bytes");
    bytes
}
