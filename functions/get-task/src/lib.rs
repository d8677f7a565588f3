//! `get-task`: `GET /api/tasks/{id}`.
//!
//! Where its parts live: the SQL in `TaskRepository::find`
//! (`functions/task-core/src/repository.rs`); the manifest in
//! `knative/base/functions/get-task.yaml`.

pub mod handler;

use axum::Router;
use axum::routing::get;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "get-task";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tasks/{id}", get(handler::get_task))
}
