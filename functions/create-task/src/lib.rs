//! `create-task`: `POST /api/tasks`.
//!
//! Where its parts live: creates written together by [`queue::CreateQueue`],
//! each batch one statement that inserts the tasks and their events
//! (`Outbox::create_tasks`, `events/src/outbox/created.rs`); the event
//! (`task.created`) in `events/src/payloads.rs`, sent by
//! `events/src/publisher/`
//! (catalogue: `events/README.md`); the manifest in
//! `knative/base/functions/create-task.yaml`; the tests in `tests/`
//! (`api.rs` the answers, `events.rs` what each create sends, `queue.rs`
//! the group commit).

pub mod handler;
pub mod queue;

use axum::Router;
use axum::routing::post;
use task_core::FunctionRoutes;
use task_events::publisher::EventPublisher;

use crate::queue::CreateQueue;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "create-task";

/// `events` publishes the task events this function's changes cause.
pub fn router(events: EventPublisher) -> FunctionRoutes {
    FunctionRoutes::with_state(
        Router::new().route("/api/tasks", post(handler::create_task)),
        move |app| CreateQueue::new(app, events),
    )
}
