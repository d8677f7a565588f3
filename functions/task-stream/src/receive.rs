use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use cloudevents::AttributesReader;
use task_core::ApiError;
use task_events::delivery::read_delivery;

use crate::StreamState;
use crate::buffer::Change;

/// Keeps a task event (from this function's Trigger, or posted by hand) for
/// the open and resuming streams: 204 (also for a redelivery, kept once);
/// 400 for anything that is not a task event.
pub async fn receive_event(
    State(state): State<StreamState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
            limit: task_events::MAX_EVENT_BYTES,
        },
        _ => ApiError::BadRequest(rejection.body_text()),
    })?;
    let delivery =
        read_delivery(&headers, &body).map_err(|err| ApiError::BadRequest(err.to_string()))?;
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
    Ok(StatusCode::NO_CONTENT)
}
