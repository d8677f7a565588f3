//! `update-task`: `PUT /api/tasks/{id}`.

pub mod handler;

use axum::Router;
use axum::routing::put;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "update-task";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tasks/{id}", put(handler::update_task))
}
