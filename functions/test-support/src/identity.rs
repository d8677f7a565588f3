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
use servers::oidc::{Account, OidcProvider, Tokens};
use servers::ports::{free_port, wait_listening};
use servers::process::stop_with_parent;
use task_core::auth::{AuthConfig, Authenticator};

const DIR_PREFIX: &str = "task-app-test-oidc-";
const OTHER_KEY_PREFIX: &str = "task-app-test-oidc-key-";

/// A token is signed in for again once it is this old (they live 5 minutes).
const TOKEN_REUSE: Duration = Duration::from_secs(120);

/// The process-wide provider, started on first call.
pub fn provider() -> &'static OidcProvider {
    static PROVIDER: OnceLock<OidcProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let dir = state_dir(DIR_PREFIX);
        let _ = std::fs::remove_dir_all(&dir);
        launch(move |port| OidcProvider::new(&dir, port, None))
    })
}

/// Providers whose tokens the functions under test must refuse, each on
/// one count: another issuer with the test provider's own key, another key
/// (a foreign `kid`) of its own, or tokens of the test provider's key and
/// issuer that live one second (to expire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Impostor {
    AnotherIssuer,
    AnotherKey,
    ShortLived,
}

/// The provider of `impostor`, started on first call (one each per process).
pub fn impostor(impostor: Impostor) -> &'static OidcProvider {
    static IMPOSTORS: OnceLock<Mutex<HashMap<Impostor, &'static OidcProvider>>> = OnceLock::new();
    let mut started = IMPOSTORS
        .get_or_init(Default::default)
        .lock()
        .expect("the impostors lock");
    started.entry(impostor).or_insert_with(|| {
        let shared = provider().clone();
        let own = state_dir(OTHER_KEY_PREFIX);
        let _ = std::fs::remove_dir_all(&own);
        Box::leak(Box::new(launch(move |port| match impostor {
            // Its own port, so its own issuer; the same state, so the same key.
            Impostor::AnotherIssuer => OidcProvider::new(shared.state_dir(), port, None),
            Impostor::AnotherKey => OidcProvider::new(&own, port, None),
            Impostor::ShortLived => OidcProvider::new(
                shared.state_dir(),
                port,
                Some(&shared.issuer().replace("/oidc", "")),
            )
            .with_access_token_ttl(1),
        })))
    })
}

fn state_dir(prefix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{prefix}{}", std::process::id()))
}

/// Starts a provider from a thread that lives as long as the process.
fn launch(make: impl FnOnce(u16) -> OidcProvider + Send + 'static) -> OidcProvider {
    let (ready, started) = mpsc::channel();
    std::thread::Builder::new()
        .name("test-oidc".into())
        .spawn(move || match start(make) {
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
}

fn start(make: impl FnOnce(u16) -> OidcProvider) -> Result<OidcProvider, String> {
    crate::postgres::remove_stale_dirs(DIR_PREFIX);
    crate::postgres::remove_stale_dirs(OTHER_KEY_PREFIX);
    let port = free_port().map_err(|e| e.to_string())?;
    let provider = make(port);
    let mut command = provider.command(&[]).map_err(|e| e.to_string())?;
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    stop_with_parent(&mut command, Signal::SIGTERM);
    command
        .spawn()
        .map_err(|e| format!("cannot run node (the OpenID Provider): {e}"))?;
    wait_listening(
        &format!("127.0.0.1:{}", provider.port()),
        Duration::from_secs(30),
    )
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

/// Signs `username` in through `provider`'s sign-in page: its tokens.
pub async fn sign_in_at(provider: &OidcProvider, username: &str) -> Tokens {
    provider
        .sign_in(username)
        .await
        .unwrap_or_else(|err| panic!("{err}"))
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
/// provider wrote, its URL for a rotation), and any `settings` of the test's.
pub fn auth_config_with(settings: &[(&str, &str)]) -> AuthConfig {
    let provider = provider();
    let jwks = provider.jwks().expect("the provider's key set");
    let issuer = provider.issuer().to_string();
    let jwks_url = format!("{issuer}/jwks");
    AuthConfig::from_lookup(|name| {
        if let Some((_, value)) = settings.iter().find(|(setting, _)| *setting == name) {
            return Some(value.to_string());
        }
        match name {
            "AUTH_ISSUER" => Some(issuer.clone()),
            "AUTH_JWKS" => Some(jwks.clone()),
            "AUTH_JWKS_URL" => Some(jwks_url.clone()),
            _ => None,
        }
    })
    .expect("a valid auth configuration")
}

/// [`auth_config_with`] no settings of the test's own.
pub fn auth_config() -> AuthConfig {
    auth_config_with(&[])
}

/// The token checks of a function under test.
pub fn authenticator() -> Authenticator {
    Authenticator::new(auth_config())
}
