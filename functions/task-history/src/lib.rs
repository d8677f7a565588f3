//! `task-history`: `GET /api/tasks/{id}/history`.
//!
//! Where its parts live: the page parameters in
//! `functions/task-core/src/history.rs`; the SQL in `AuditLog::history`
//! (`functions/task-core/src/audit_log.rs`); the manifest in
//! `knative/base/functions/task-history.yaml`; the tests in `tests/api.rs`.

pub mod handler;

use axum::Router;
use axum::routing::get;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "task-history";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tasks/{id}/history", get(handler::task_history))
}
