use axum::extract::State;
use axum::http::StatusCode;
use cloudevents::AttributesReader;
use task_events::delivery::Delivery;

use crate::StreamState;
use crate::buffer::Change;

/// Keeps a task event (from this function's Trigger, or posted by hand) for
/// the open and resuming streams: 204 (also for a redelivery, kept once);
/// 400 for anything that is not a task event.
pub async fn receive_event(State(state): State<StreamState>, delivery: Delivery) -> StatusCode {
    let change = Change {
        event_type: delivery.task_event.event_type(),
        task_id: delivery.task_id,
        version: delivery.task_event.sequence(),
        owner: delivery.task_event.task().owner.clone(),
    };
    let event = &delivery.event;
    let kept = state
        .changes
        .push(change, event.source().as_str(), event.id());
    tracing::debug!(
        event_id = event.id(),
        task_id = delivery.task_id,
        kept,
        "event received"
    );
    StatusCode::NO_CONTENT
}
