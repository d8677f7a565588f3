//! The OpenID Provider of one test process, and tokens from it.
//!
//! The real local provider (`local/oidc`), started on first use like the
//! test PostgreSQL server, with a state directory of its own (its own key and
//! demo accounts). Tests get tokens the way a person does: by signing in
//! through it ([`token`]); the functions under test trust only its key set.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use servers::oidc::{Account, OidcProvider};
use servers::ports::{free_port, wait_listening};
use servers::process::stop_with_parent;
use task_core::auth::{AuthConfig, Authenticator};

const DIR_PREFIX: &str = "task-app-test-oidc-";

/// A token is signed in for again once it is this old (they live 5 minutes).
const TOKEN_REUSE: Duration = Duration::from_secs(120);

/// The process-wide provider, started on first call.
pub fn provider() -> &'static OidcProvider {
    static PROVIDER: OnceLock<OidcProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let (ready, started) = mpsc::channel();
        std::thread::Builder::new()
            .name("test-oidc".into())
            .spawn(move || match start() {
                Ok(provider) => {
                    ready.send(Ok(provider)).ok();
                    // The provider lives as long as this thread; park it for good.
                    loop {
                        std::thread::park();
                    }
                }
                Err(err) => {
                    ready.send(Err(err)).ok();
                }
            })
            .expect("spawn the test-oidc thread");
        started
            .recv()
            .expect("the test-oidc thread answers")
            .unwrap_or_else(|err| panic!("cannot start the OpenID Provider for the tests: {err}"))
    })
}

fn start() -> Result<OidcProvider, String> {
    crate::postgres::remove_stale_dirs(DIR_PREFIX);
    let state_dir: PathBuf =
        std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    let port = free_port().map_err(|e| e.to_string())?;
    let provider = OidcProvider::new(&state_dir, port, None);
    let mut command = provider.command(&[]).map_err(|e| e.to_string())?;
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    stop_with_parent(&mut command, Signal::SIGTERM);
    command
        .spawn()
        .map_err(|e| format!("cannot run node (the OpenID Provider): {e}"))?;
    wait_listening(&format!("127.0.0.1:{port}"), Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    Ok(provider)
}

/// The demo account `username` (alice, bob: users; carol: admin).
pub fn account(username: &str) -> Account {
    provider()
        .accounts()
        .expect("the provider's accounts")
        .into_iter()
        .find(|account| account.username == username)
        .unwrap_or_else(|| panic!("no demo account {username}"))
}

/// The `sub` of the demo account `username`: the owner of its tasks.
pub fn sub(username: &str) -> String {
    account(username).sub
}

/// A fresh access token of `username`, signed in through the provider's
/// sign-in page (reused for a while within the test process).
pub async fn token(username: &str) -> String {
    static TOKENS: OnceLock<Mutex<HashMap<String, (String, Instant)>>> = OnceLock::new();
    let tokens = TOKENS.get_or_init(Default::default);
    if let Some((token, at)) = tokens.lock().expect("the tokens lock").get(username)
        && at.elapsed() < TOKEN_REUSE
    {
        return token.clone();
    }
    let signed_in = provider()
        .sign_in(username)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    tokens.lock().expect("the tokens lock").insert(
        username.to_string(),
        (signed_in.access_token.clone(), Instant::now()),
    );
    signed_in.access_token
}

/// What a function under test checks tokens with: the provider's issuer and
/// key set, as a deployment configures them (the key set from the file the
/// provider wrote, its URL for a rotation).
pub fn auth_config() -> AuthConfig {
    let provider = provider();
    let jwks = provider.jwks().expect("the provider's key set");
    let issuer = provider.issuer().to_string();
    let jwks_url = format!("{issuer}/jwks");
    AuthConfig::from_lookup(|name| match name {
        "AUTH_ISSUER" => Some(issuer.clone()),
        "AUTH_JWKS" => Some(jwks.clone()),
        "AUTH_JWKS_URL" => Some(jwks_url.clone()),
        _ => None,
    })
    .expect("a valid auth configuration")
}

/// The token checks of a function under test.
pub fn authenticator() -> Authenticator {
    Authenticator::new(auth_config())
}
