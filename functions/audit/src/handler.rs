use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use cloudevents::AttributesReader;
use task_core::ApiError;
use task_events::cloudevent::{AUTHID, JSON, data_json, string_extension};
use task_events::delivery::{Delivery, read_delivery};

use crate::record::{AuditState, Outcome, Received};

/// Records a task event, in binary or structured mode. 204 (empty: a reply
/// event would be published again by the broker) once the row is committed,
/// also for an event already recorded, and for a suspect one once it is
/// parked (see [`crate::provenance`]); 400 for anything that is not a valid
/// task event (the Trigger then dead-letters it); 503 while the database is
/// down (the Trigger retries). Recorded with the deliveries that arrive
/// meanwhile ([`AuditState`]).
pub async fn receive_event(
    State(state): State<AuditState>,
    Delivery {
        event,
        task_event,
        task_id,
    }: Delivery,
) -> Result<StatusCode, ApiError> {
    // The data is stored as JSON whatever way it arrived.
    let mut stored = event.clone();
    stored.set_data(JSON, task_event.data());
    let stored = serde_json::to_value(&stored)
        .map_err(|err| ApiError::BadRequest(format!("the event cannot be stored: {err}")))?;
    let data = data_json(&event).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    let outcome = state
        .record(Received {
            event_type: event.ty().to_owned(),
            task_id,
            task_sequence: task_event.sequence(),
            event: stored,
            data,
            event_id: event.id().to_owned(),
            event_source: event.source().to_string(),
            event_time: event.time().copied(),
            authid: string_extension(&event, AUTHID).map(str::to_owned),
        })
        .await?;
    if outcome != Outcome::Suspect {
        tracing::info!(
            event_id = event.id(),
            event_type = event.ty(),
            event_source = event.source().as_str(),
            task_id,
            duplicate = outcome == Outcome::Duplicate,
            "event recorded"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// [`read_delivery`], a 400 when the delivery is not a task event (what the
/// fuzz target in `fuzz/` calls).
pub fn parse_delivery(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, ApiError> {
    read_delivery(headers, body).map_err(|err| ApiError::BadRequest(err.to_string()))
}
