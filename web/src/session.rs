//! The signed-in session, in the browser: the authorization code flow with
//! PKCE against the provider `/config.json` names, tokens in memory only
//! (a reload signs in again, silently while the provider's session lasts),
//! a refresh before the access token expires, and signing out at the
//! provider too. What goes on the wire is in [`crate::sign_in`].

use std::cell::RefCell;

use gloo_net::http::{Request, Response};
use gloo_timers::callback::Timeout;
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use yew::Callback;

use crate::sign_in::{
    self, Endpoints, Pending, Person, SignInConfig, TokenResponse, authorization_url, base64url,
};

/// Where a sign-in under way keeps its PKCE verifier and state.
const PENDING_KEY: &str = "task-web.sign-in";
/// Refresh this long before the access token expires.
const REFRESH_EARLY_SECS: u64 = 60;

/// How the page starts.
pub enum Start {
    SignedIn(Person),
    /// Not signed in; the reason, when something went wrong.
    SignedOut(Option<String>),
    /// The browser is on its way to the provider.
    Leaving,
}

#[derive(Default)]
struct State {
    provider: Option<(SignInConfig, Endpoints)>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    refresh_timer: Option<Timeout>,
    on_signed_out: Option<Callback<Option<String>>>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::default();
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// Leaves for `url` in place of the current page: the round trips to the
/// provider leave no entries for Back to return to.
fn go_to(url: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().replace(url);
    }
}

/// Shows `path` (path and query) in the address bar, in place.
fn replace_url(path: &str) {
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path));
    }
}

fn current_path() -> String {
    let location = web_sys::window().map(|w| w.location());
    let path = location
        .as_ref()
        .and_then(|l| l.pathname().ok())
        .unwrap_or_else(|| "/".into());
    let query = location.and_then(|l| l.search().ok()).unwrap_or_default();
    format!("{path}{query}")
}

/// The access token, while signed in.
pub fn access_token() -> Option<String> {
    STATE.with(|state| state.borrow().access_token.clone())
}

/// Called with the reason when the session ends by itself (a refused
/// refresh): the page then shows that it is signed out.
pub fn on_signed_out(callback: Callback<Option<String>>) {
    STATE.with(|state| state.borrow_mut().on_signed_out = Some(callback));
}

/// Starts the page: finishes a sign-in the provider sent the browser back
/// from, or tries a silent one (the provider's session may still hold).
pub async fn start() -> Start {
    let provider = match discover().await {
        Ok(provider) => provider,
        Err(problem) => return Start::SignedOut(Some(problem)),
    };
    STATE.with(|state| state.borrow_mut().provider = Some(provider.clone()));
    let query = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let Some(answer) = sign_in::callback(&query) else {
        begin(true).await;
        return Start::Leaving;
    };
    let pending = take_pending();
    let Some(pending) = pending else {
        replace_url("/");
        return Start::SignedOut(Some(
            "That sign-in was already used or has expired. Sign in again.".into(),
        ));
    };
    replace_url(&pending.return_to);
    match answer {
        sign_in::Callback::Code { code, state } if state == pending.state => {
            match exchange(&provider.1, &provider.0, &code, &pending.verifier).await {
                Ok(person) => Start::SignedIn(person),
                Err(problem) => Start::SignedOut(Some(problem)),
            }
        }
        sign_in::Callback::Code { .. } => Start::SignedOut(Some(
            "The sign-in could not be completed (its state did not match). Sign in again.".into(),
        )),
        sign_in::Callback::Error { error, .. }
            if pending.silent && sign_in::means_signed_out(&error) =>
        {
            Start::SignedOut(None)
        }
        sign_in::Callback::Error {
            error, description, ..
        } => Start::SignedOut(Some(format!(
            "Signing in failed: {}",
            description.unwrap_or(error)
        ))),
    }
}

/// Sends the browser to the provider's sign-in page.
pub fn sign_in() {
    spawn_local(begin(false));
}

/// Ends the session here and at the provider (its sign-out page sends the
/// browser back); the next sign-in asks for the password again.
pub fn sign_out() {
    let (provider, id_token) = STATE.with(|state| {
        let mut state = state.borrow_mut();
        state.access_token = None;
        state.refresh_token = None;
        state.refresh_timer = None;
        (state.provider.clone(), state.id_token.take())
    });
    let end_session = provider
        .as_ref()
        .and_then(|(_, endpoints)| endpoints.end_session_endpoint.clone());
    match (provider, end_session) {
        (Some((config, _)), Some(endpoint)) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query
                .append_pair("client_id", &config.client_id)
                .append_pair("post_logout_redirect_uri", &format!("{}/", origin()));
            if let Some(id_token) = id_token {
                query.append_pair("id_token_hint", &id_token);
            }
            go_to(&format!("{endpoint}?{}", query.finish()));
        }
        _ => ended(None),
    }
}

/// Gets a new access token with the refresh token; false when there is none
/// or the provider refuses it (the session is then over).
pub async fn refresh() -> bool {
    let (provider, refresh_token) = STATE.with(|state| {
        let state = state.borrow();
        (state.provider.clone(), state.refresh_token.clone())
    });
    let (Some((config, endpoints)), Some(refresh_token)) = (provider, refresh_token) else {
        return false;
    };
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", &refresh_token)
        .append_pair("client_id", &config.client_id)
        .finish();
    match token_request(&endpoints.token_endpoint, form).await {
        Ok(tokens) => {
            keep(tokens);
            true
        }
        Err(_) => false,
    }
}

/// The session is over (a refused refresh, or no provider to sign out at).
pub fn ended(reason: Option<String>) {
    let callback = STATE.with(|state| {
        let mut state = state.borrow_mut();
        state.access_token = None;
        state.refresh_token = None;
        state.id_token = None;
        state.refresh_timer = None;
        state.on_signed_out.clone()
    });
    if let Some(callback) = callback {
        callback.emit(reason);
    }
}

/// `/config.json`, then the provider's discovery document.
async fn discover() -> Result<(SignInConfig, Endpoints), String> {
    let unavailable =
        |what: &str| format!("Sign-in is unavailable right now ({what}). Try again shortly.");
    let config: SignInConfig = fetch_json(Request::get("/config.json").send().await)
        .await
        .map_err(|_| unavailable("no sign-in configuration"))?;
    let issuer = config.issuer_url(&origin());
    let endpoints: Endpoints = fetch_json(
        Request::get(&format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await,
    )
    .await
    .map_err(|_| unavailable("the sign-in service does not answer"))?;
    Ok((config, endpoints))
}

async fn fetch_json<T: serde::de::DeserializeOwned>(
    response: Result<Response, gloo_net::Error>,
) -> Result<T, ()> {
    let response = response.map_err(|_| ())?;
    if !response.ok() {
        return Err(());
    }
    response.json().await.map_err(|_| ())
}

/// Stores a new verifier and state, and goes to the authorization endpoint.
async fn begin(silent: bool) {
    let Some((config, endpoints)) = STATE.with(|state| state.borrow().provider.clone()) else {
        return;
    };
    let (Some(verifier), Some(state)) = (random(32), random(16)) else {
        return;
    };
    let Some(challenge) = sha256(verifier.as_bytes()).await else {
        return;
    };
    let pending = Pending {
        state,
        verifier,
        return_to: current_path(),
        silent,
    };
    if let (Some(storage), Ok(text)) = (session_storage(), serde_json::to_string(&pending)) {
        let _ = storage.set_item(PENDING_KEY, &text);
    }
    let redirect_uri = format!("{}/", origin());
    go_to(&authorization_url(
        &endpoints,
        &config,
        &redirect_uri,
        &pending,
        &base64url(&challenge),
    ));
}

/// The sign-in under way, once: read and removed.
fn take_pending() -> Option<Pending> {
    let storage = session_storage()?;
    let text = storage.get_item(PENDING_KEY).ok()??;
    let _ = storage.remove_item(PENDING_KEY);
    serde_json::from_str(&text).ok()
}

/// Exchanges the code for tokens and keeps them.
async fn exchange(
    endpoints: &Endpoints,
    config: &SignInConfig,
    code: &str,
    verifier: &str,
) -> Result<Person, String> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &format!("{}/", origin()))
        .append_pair("client_id", &config.client_id)
        .append_pair("code_verifier", verifier)
        .finish();
    let tokens = token_request(&endpoints.token_endpoint, form)
        .await
        .map_err(|_| "The sign-in could not be completed. Sign in again.".to_string())?;
    let person = tokens
        .id_token
        .as_deref()
        .and_then(sign_in::person)
        .ok_or_else(|| "The sign-in service did not say who you are.".to_string())?;
    keep(tokens);
    Ok(person)
}

async fn token_request(endpoint: &str, form: String) -> Result<TokenResponse, ()> {
    let request = Request::post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .map_err(|_| ())?;
    fetch_json(request.send().await).await
}

/// Keeps the tokens (in memory) and refreshes before the access token expires.
fn keep(tokens: TokenResponse) {
    let wait = tokens.expires_in.saturating_sub(REFRESH_EARLY_SECS).max(5);
    let timer = Timeout::new((wait * 1000) as u32, || {
        spawn_local(async {
            if !refresh().await {
                // Keep the token while it lasts; the next 401 ends the session.
                STATE.with(|state| state.borrow_mut().refresh_token = None);
            }
        })
    });
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        state.access_token = Some(tokens.access_token);
        if tokens.refresh_token.is_some() {
            state.refresh_token = tokens.refresh_token;
        }
        if tokens.id_token.is_some() {
            state.id_token = tokens.id_token;
        }
        state.refresh_timer = Some(timer);
    });
}

/// `bytes` random bytes, base64url.
fn random(bytes: usize) -> Option<String> {
    let crypto = web_sys::window()?.crypto().ok()?;
    let mut buffer = vec![0u8; bytes];
    crypto.get_random_values_with_u8_array(&mut buffer).ok()?;
    Some(base64url(&buffer))
}

async fn sha256(data: &[u8]) -> Option<Vec<u8>> {
    let subtle = web_sys::window()?.crypto().ok()?.subtle();
    let promise = subtle.digest_with_str_and_u8_array("SHA-256", data).ok()?;
    let digest = JsFuture::from(promise).await.ok()?;
    let buffer = digest.dyn_into::<js_sys::ArrayBuffer>().ok()?;
    Some(Uint8Array::new(&buffer).to_vec())
}
