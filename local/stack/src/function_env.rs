//! The environment a function gets: what Knative would give it (`PORT`,
//! `K_SINK` as from a SinkBinding, `DATABASE_URL` from its Secret, the token
//! checks' settings from its ConfigMap), pointed at local parts. The
//! supervisor starts every function with it, and the bench starts functions
//! alone with the same.

use std::collections::BTreeMap;
use std::path::PathBuf;

use task_core::routes::{EVENT_SENDERS, EVENT_STREAMER, OUTBOX_RELAY, needs_sign_in};

/// How the functions check tokens: the provider's issuer, its key set as a
/// file written before they start (a cold start asks the provider nothing),
/// and where to fetch it again on a rotation.
#[derive(Debug, Clone)]
pub struct AuthEnv {
    pub issuer: String,
    pub jwks_file: PathBuf,
    pub jwks_url: String,
}

/// What Knative would give a function, pointed at the local parts: event
/// senders get `K_SINK` (as from a SinkBinding), the functions of signed-in
/// routes the token checks' settings.
pub fn function_env(
    name: &str,
    port: u16,
    database_url: &str,
    event_sink: &str,
    auth: &AuthEnv,
) -> BTreeMap<String, String> {
    let mut env = log_env();
    env.extend([
        ("PORT".to_string(), port.to_string()),
        ("BIND_ADDRESS".to_string(), "127.0.0.1".to_string()),
        ("DATABASE_URL".to_string(), database_url.to_string()),
    ]);
    if needs_sign_in(name) {
        env.extend([
            ("AUTH_ISSUER".to_string(), auth.issuer.clone()),
            (
                "AUTH_JWKS_FILE".to_string(),
                auth.jwks_file.display().to_string(),
            ),
            ("AUTH_JWKS_URL".to_string(), auth.jwks_url.clone()),
        ]);
    }
    if EVENT_SENDERS.contains(&name) {
        env.insert("K_SINK".into(), event_sink.to_string());
        // The supervisor's own EVENT_* settings (the send bound) pass on.
        env.extend(std::env::vars().filter(|(k, _)| k.starts_with("EVENT_")));
    }
    if name == EVENT_STREAMER {
        // The supervisor's own STREAM_* settings (short streams in tests).
        env.extend(std::env::vars().filter(|(k, _)| k.starts_with("STREAM_")));
    }
    if name == OUTBOX_RELAY {
        // The relay runs every few seconds here, not every minute: an event
        // missing from the audit log is sent again after a minute, not ten.
        env.extend(RELAY_LOCAL_SETTINGS.map(|(k, v)| (k.to_string(), v.to_string())));
        // The supervisor's own OUTBOX_* and RELAY_* settings win (tests, chaos).
        env.extend(
            std::env::vars().filter(|(k, _)| k.starts_with("OUTBOX_") || k.starts_with("RELAY_")),
        );
    }
    env
}

/// The relay's settings on the local stack (its defaults suit Knative). The
/// grace is shorter than the local Trigger's retry budget (~8.5 min), so that
/// what a restarted Kafka lost comes back within minutes; it is not shorter
/// still, because while the audit function is down every event older than
/// the grace is sent again (10 s sent a 2-minute outage's backlog ~5 times).
const RELAY_LOCAL_SETTINGS: [(&str, &str); 2] = [
    ("OUTBOX_AUDIT_GRACE_MS", "60000"),
    ("OUTBOX_RETRY_MAX_MS", "60000"),
];

/// `RUST_LOG`, passed on to the functions and the broker when set.
pub fn log_env() -> BTreeMap<String, String> {
    std::env::var("RUST_LOG")
        .map(|filter| BTreeMap::from([("RUST_LOG".to_string(), filter)]))
        .unwrap_or_default()
}
