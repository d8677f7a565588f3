//! `count-tasks`: `GET /api/task-counts`, the numbers beside the status
//! filter, and `GET /api/task-owners`, every user's (admins only).
//!
//! Where its parts live: the SQL in `TaskRepository::count_by_status`
//! and `::owners` (`functions/task-core/src/repository.rs`, the counters
//! tables) and, for `q`,
//! `functions/task-core/src/search/counts.rs`; the manifest in
//! `knative/base/functions/count-tasks.yaml`; the tests in `tests/api.rs`.

pub mod handler;
pub mod owners;

use axum::Router;
use axum::routing::get;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "count-tasks";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/task-counts", get(handler::count_tasks))
        .route("/api/task-owners", get(owners::task_owners))
}
