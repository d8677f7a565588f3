//! `outbox-relay`: sends what the write functions could not send at once.
//! Never public; a PingSource (Knative) or a timer (local stack) POSTs to it.

pub mod handler;

use axum::routing::post;
use axum::{Extension, Router};
use task_core::AppState;

use crate::handler::RelaySettings;

/// This function's name on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "outbox-relay";

pub fn router(settings: RelaySettings) -> Router<AppState> {
    Router::new()
        .route("/", post(handler::relay))
        .layer(Extension(settings))
}
