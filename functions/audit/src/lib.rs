//! `audit`: the subscriber of the task events' Trigger. Never public.

pub mod handler;

use axum::Router;
use axum::routing::post;
use task_core::AppState;

/// This function's name on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "audit";

pub fn router() -> Router<AppState> {
    Router::new().route("/", post(handler::receive_event))
}
