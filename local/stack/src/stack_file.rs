//! `.local/stack.json`: where a running local stack can be reached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::function_env::AuthEnv;

/// Written once everything is ready; removed when the stack stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFile {
    /// The public entry point: the edge router.
    pub gateway_url: String,
    pub database_url: String,
    /// The local Knative broker's ingress (the write functions' `K_SINK`).
    pub broker_url: String,
    /// The Kafka-protocol broker's bootstrap address.
    pub kafka_bootstrap: String,
    /// Every function by name -> its own URL (not only the routed ones).
    pub functions: BTreeMap<String, String>,
    /// The supervisor's process id.
    pub pid: u32,
    /// The supervisor's control API (`stack status`, `stack service`).
    pub admin_url: String,
    /// What the control API asks of every request (`Authorization: Bearer`):
    /// only who can read this file (mode 0600) can control the stack.
    pub admin_token: String,
    /// Sign-in: where, the demo accounts, and how a script gets a token.
    pub auth: AuthInfo,
}

/// The `auth` block: what scripts outside the project need to call the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// The OpenID Provider's issuer (on the gateway's origin).
    pub issuer: String,
    /// What every access token's `aud` contains.
    pub audience: String,
    /// The web app's client.
    pub client_id: String,
    /// The demo accounts and their passwords (generated at first start).
    pub users: Vec<AuthUser>,
    /// The command that prints a fresh access token for a username (its last
    /// argument), signed in for through the provider.
    pub token_command: Vec<String>,
    /// The provider's key set as the functions are seeded with it (a file),
    /// and where they fetch it again on a rotation.
    pub jwks_file: String,
    pub jwks_url: String,
}

/// One demo account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthUser {
    pub username: String,
    pub password: String,
    pub roles: Vec<String>,
    /// Its tokens' `sub`: the owner of its tasks, the actor of its changes.
    pub sub: String,
}

impl AuthInfo {
    /// No sign-in yet (until the real file is read).
    fn placeholder() -> Self {
        Self {
            issuer: String::new(),
            audience: String::new(),
            client_id: String::new(),
            users: Vec::new(),
            token_command: Vec::new(),
            jwks_file: String::new(),
            jwks_url: String::new(),
        }
    }

    /// What a function started for this stack checks tokens with.
    pub fn function_env(&self) -> AuthEnv {
        AuthEnv {
            issuer: self.issuer.clone(),
            jwks_file: self.jwks_file.clone().into(),
            jwks_url: self.jwks_url.clone(),
        }
    }
}

impl StackFile {
    /// A fresh access token of the demo account `username`, signed in for
    /// through the stack's provider (its sign-in page, as a person does).
    pub async fn access_token(&self, username: &str) -> Result<String, String> {
        let user = self
            .auth
            .users
            .iter()
            .find(|user| user.username == username)
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .auth
                    .users
                    .iter()
                    .map(|u| u.username.as_str())
                    .collect();
                format!(
                    "no account {username:?}; the accounts are {}",
                    known.join(", ")
                )
            })?;
        servers::oidc::sign_in(&self.auth.issuer, username, &user.password)
            .await
            .map(|tokens| tokens.access_token)
            .map_err(|err| err.to_string())
    }

    /// A client that sends a fresh access token of `username` with every
    /// request (tokens live five minutes: make another for a longer run).
    pub async fn client_as(&self, username: &str) -> Result<reqwest::Client, String> {
        let token = self.access_token(username).await?;
        let mut bearer = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|err| err.to_string())?;
        bearer.set_sensitive(true);
        reqwest::Client::builder()
            .default_headers(reqwest::header::HeaderMap::from_iter([(
                reqwest::header::AUTHORIZATION,
                bearer,
            )]))
            .build()
            .map_err(|err| err.to_string())
    }
}

impl StackFile {
    /// An empty stack file, until the real one is read.
    pub fn placeholder() -> Self {
        Self {
            gateway_url: String::new(),
            database_url: String::new(),
            broker_url: String::new(),
            kafka_bootstrap: String::new(),
            functions: BTreeMap::new(),
            pid: 0,
            admin_url: String::new(),
            admin_token: String::new(),
            auth: AuthInfo::placeholder(),
        }
    }

    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("stack.json")
    }

    pub fn read(state_dir: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(Self::path(state_dir))?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    /// Writes atomically (a reader never sees half a file), readable by its
    /// owner only: it holds the database's and the control API's secrets.
    pub fn write(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = Self::path(state_dir);
        let partial = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        servers::postgres::write_private(&partial, &(text + "\n"))?;
        std::fs::rename(partial, path)
    }

    pub fn remove(state_dir: &Path) {
        let _ = std::fs::remove_file(Self::path(state_dir));
    }
}
