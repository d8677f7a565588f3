//! `delete-task`: `DELETE /api/tasks/{id}`.

pub mod handler;

use axum::Router;
use axum::routing::delete;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "delete-task";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tasks/{id}", delete(handler::delete_task))
}
