//! `list-tasks`: `GET /api/tasks`.

pub mod handler;

use axum::Router;
use axum::routing::get;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "list-tasks";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tasks", get(handler::list_tasks))
}
