//! `delete-task`: `DELETE /api/tasks/{id}`.

pub mod handler;

use axum::routing::delete;
use axum::{Extension, Router};
use task_core::AppState;
use task_events::publisher::EventPublisher;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "delete-task";

/// `events` publishes the task events this function's changes cause.
pub fn router(events: EventPublisher) -> Router<AppState> {
    Router::new()
        .route("/api/tasks/{id}", delete(handler::delete_task))
        .layer(Extension(events))
}
