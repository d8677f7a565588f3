//! `audit`: the subscriber of the task events' Trigger. Never public.
//!
//! Where its parts live: the CloudEvent parsing in `handler.rs` (with
//! `events/src/cloudevent.rs`); the check of each delivery against the
//! outbox (its actor and owner, or a suspect) in `provenance.rs`;
//! deliveries recorded together in `record.rs`, with the SQL in
//! `AuditLog::record_all`
//! (`functions/task-core/src/audit_log.rs`); the manifests in
//! `knative/base/functions/audit.yaml` and `knative/base/eventing/trigger.yaml`;
//! the tests in `tests/` (`api.rs` the deliveries, `provenance.rs` the
//! actor checks).

pub mod handler;
pub mod provenance;
pub mod record;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use task_core::FunctionRoutes;

use crate::record::AuditState;

/// This function's name on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "audit";

/// Takes every event the broker can carry (far more than the API's 128 KiB
/// request limit: an update carries the task and its old and new values).
pub fn router() -> FunctionRoutes {
    FunctionRoutes::with_state(
        Router::new()
            .route("/", post(handler::receive_event))
            .layer(DefaultBodyLimit::max(task_events::MAX_EVENT_BYTES)),
        AuditState::new,
    )
}
