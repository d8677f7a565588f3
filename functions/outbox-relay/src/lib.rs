//! `outbox-relay`: sends what the write functions could not send at once,
//! sends again what the broker took but the audit log never got, parks what
//! keeps failing, and prunes what has long been audited. Never public; a
//! PingSource (Knative) or a timer (local stack) POSTs to it.
//!
//! Where its parts live: the SQL in `events/src/outbox/` (`ledger.rs`: claims,
//! retries, parking); the manifests in `knative/base/functions/outbox-relay.yaml`
//! and `knative/base/eventing/ping-source.yaml`; the tests in `tests/relay.rs`
//! (and, against a real broker, `local/broker/tests/`).

pub mod handler;
pub mod relay;
pub mod settings;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use task_core::{AppState, FunctionRoutes};

use crate::settings::RelaySettings;

/// This function's name on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "outbox-relay";

pub fn router(settings: RelaySettings) -> FunctionRoutes {
    FunctionRoutes::with_state(
        Router::new()
            .route("/", post(handler::relay))
            .route("/outbox", get(handler::outbox_status))
            .route("/outbox/retry-parked", post(handler::retry_parked)),
        move |app| RelayState {
            app,
            settings,
            run: RunSlot::default(),
        },
    )
}

/// What the relay's handlers reach: what every function has, the relay's
/// settings, and its one run slot.
#[derive(Debug, Clone)]
pub struct RelayState {
    pub app: AppState,
    pub settings: RelaySettings,
    pub run: RunSlot,
}

/// One run at a time per instance: a trigger that comes while a run is
/// still sending (a slow broker, a run longer than the timer's interval)
/// is answered at once instead of starting a second run beside it, which
/// would only add load to a sink that is already slow.
#[derive(Debug, Clone, Default)]
pub struct RunSlot(std::sync::Arc<tokio::sync::Mutex<()>>);

impl RunSlot {
    /// The slot, unless a run holds it.
    pub fn take(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.0.clone().try_lock_owned().ok()
    }
}

impl FromRef<RelayState> for RunSlot {
    fn from_ref(state: &RelayState) -> Self {
        state.run.clone()
    }
}

impl FromRef<RelayState> for AppState {
    fn from_ref(state: &RelayState) -> Self {
        state.app.clone()
    }
}

impl FromRef<RelayState> for RelaySettings {
    fn from_ref(state: &RelayState) -> Self {
        state.settings.clone()
    }
}
