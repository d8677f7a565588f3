//! `list-tasks`: `GET /api/tasks`.
//!
//! Where its parts live: the query parameters in `functions/task-core/src/list.rs`;
//! the SQL in `TaskRepository::list` (`functions/task-core/src/repository.rs`)
//! and, for `q`, `functions/task-core/src/search/mod.rs`; the manifest in
//! `knative/base/functions/list-tasks.yaml`; the tests in `tests/api.rs` and,
//! for how PostgreSQL plans the lists, `tests/plans.rs`.

pub mod handler;

use axum::Router;
use axum::routing::get;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "list-tasks";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tasks", get(handler::list_tasks))
}
