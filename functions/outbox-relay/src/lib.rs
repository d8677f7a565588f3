//! `outbox-relay`: sends what the write functions could not send at once,
//! sends again what the broker took but the audit log never got, parks what
//! keeps failing, and prunes what has long been audited. Never public; a
//! PingSource (Knative) or a timer (local stack) POSTs to it.

pub mod handler;
pub mod relay;
pub mod settings;

use axum::routing::{get, post};
use axum::{Extension, Router};
use task_core::AppState;

use crate::settings::RelaySettings;

/// This function's name on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "outbox-relay";

pub fn router(settings: RelaySettings) -> Router<AppState> {
    Router::new()
        .route("/", post(handler::relay))
        .route("/outbox", get(handler::outbox_status))
        .route("/outbox/retry-parked", post(handler::retry_parked))
        .layer(Extension(settings))
}
