//! `delete-task`: `DELETE /api/tasks/{id}`.
//!
//! Where its parts live: the SQL in `TaskRepository::delete`
//! (`functions/task-core/src/repository.rs`); the event (`task.deleted`) in
//! `events/src/payloads.rs`, stored and sent by `events/src/publisher/`
//! (catalogue: `events/README.md`); the manifest in
//! `knative/base/functions/delete-task.yaml`; the tests in `tests/`
//! (`api.rs` the answers, `events.rs` what each delete sends).

pub mod handler;

use axum::Router;
use axum::routing::delete;
use task_core::FunctionRoutes;
use task_events::publisher::{EventPublisher, WriteState};

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "delete-task";

/// `events` publishes the task events this function's changes cause.
pub fn router(events: EventPublisher) -> FunctionRoutes {
    FunctionRoutes::with_state(
        Router::new().route("/api/tasks/{id}", delete(handler::delete_task)),
        move |app| WriteState { app, events },
    )
}
