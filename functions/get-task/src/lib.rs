//! `get-task`: `GET /api/tasks/{id}`.
//!
//! Where its parts live: the SQL in `TaskRepository::find`
//! (`functions/task-core/src/repository.rs`); the manifest in
//! `knative/base/functions/get-task.yaml`; the tests in `tests/` (`api.rs`
//! the answers, `keys.rs` the provider's keys, `lambda.rs` the same Router
//! under API Gateway's events; the Lambda runtime itself runs in
//! `local/stack/tests/lambda.rs`).

pub mod handler;

use axum::Router;
use axum::routing::get;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "get-task";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tasks/{id}", get(handler::get_task))
}
