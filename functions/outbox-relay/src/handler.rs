//! The relay's HTTP face: a run (what the PingSource posts), and what an
//! operator needs: where the outbox stands, and retrying parked events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use task_core::{ApiError, AppState};
use task_events::outbox::Outbox;
use task_events::outbox::ledger::{OutboxReport, Retried};

use crate::RunSlot;
use crate::relay::relay_outbox;
use crate::settings::RelaySettings;

/// Parked events listed by `GET /outbox`, at most.
const PARKED_LISTED: i64 = 100;

/// Reconciles, sends and prunes once; answers what it did. The body of the
/// request (the PingSource's event) is ignored. While a run is under way,
/// answers 202 at once (the run under way does the work).
pub async fn relay(
    State(state): State<AppState>,
    State(settings): State<RelaySettings>,
    State(slot): State<RunSlot>,
) -> Result<Response, ApiError> {
    let Some(_run) = slot.take() else {
        return Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"skipped": "a run of this relay is under way"})),
        )
            .into_response());
    };
    let report = relay_outbox(state.tasks.pool(), &settings).await?;
    let busy = report.sent + report.failed + report.requeued + report.parked_now + report.pruned;
    if busy > 0 {
        tracing::info!(
            sent = report.sent,
            failed = report.failed,
            requeued = report.requeued,
            confirmed = report.confirmed,
            parked_now = report.parked_now,
            pruned = report.pruned,
            unsent = report.outbox.unsent,
            unaudited = report.outbox.unaudited,
            parked = report.outbox.parked,
            error = report.error,
            "relay run"
        );
    }
    Ok(Json(report).into_response())
}

/// `GET /outbox`: the counts, and the parked events (oldest first).
pub async fn outbox_status(State(state): State<AppState>) -> Result<Json<OutboxReport>, ApiError> {
    let pool = state.tasks.pool();
    Ok(Json(OutboxReport {
        status: Outbox::status(pool).await?,
        parked_events: Outbox::parked(pool, PARKED_LISTED).await?,
    }))
}

/// `POST /outbox/retry-parked`: every parked event gets a fresh set of attempts.
pub async fn retry_parked(State(state): State<AppState>) -> Result<Json<Retried>, ApiError> {
    let retried = Outbox::retry_parked(state.tasks.pool()).await?;
    tracing::warn!(retried, "parked events queued again by an operator");
    Ok(Json(Retried { retried }))
}
