//! One relay run: reconcile the outbox with the audit log, send what is due,
//! and prune what has been audited for longer than the retention period.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use task_events::outbox::ledger::OutboxStatus;
use task_events::outbox::{Outbox, OutboxEntry, ParkedEvent};

use crate::settings::RelaySettings;

/// Tasks whose events are sent side by side (one task's events go one by
/// one). Each send waits for the broker's acknowledgement (~30 ms locally
/// under load): 8 at once carried ~270 events/s, too few after a burst of
/// creates left thousands to the relay.
const TASKS_IN_FLIGHT: usize = 64;
/// Audited rows deleted per statement: short transactions, small WAL bursts.
const PRUNE_BATCH: i64 = 1000;

/// What one run did, and where the outbox stands after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayReport {
    /// Events the sink acknowledged in this run.
    pub sent: u64,
    /// Sends that failed in this run (each waits its backoff).
    pub failed: u64,
    /// Events the broker took earlier that never reached the audit log, queued again.
    pub requeued: u64,
    /// Rows found in the audit log in this run.
    pub confirmed: u64,
    /// Rows parked in this run.
    pub parked_now: u64,
    /// Audited rows deleted after their retention period.
    pub pruned: u64,
    #[serde(flatten)]
    pub outbox: OutboxStatus,
    /// The last send error of the run, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Runs the relay once, within its budget.
pub async fn relay_outbox(
    pool: &PgPool,
    settings: &RelaySettings,
) -> Result<RelayReport, sqlx::Error> {
    let started = Instant::now();
    let mut report = RelayReport {
        confirmed: Outbox::confirm_audited(pool).await?,
        ..RelayReport::default()
    };
    let reconciled = Outbox::requeue_unaudited(pool, settings.audit_grace, &settings.retry).await?;
    report.requeued = reconciled.requeued;
    log_parked(&reconciled.parked, &mut report);

    // Each row is tried at most once per run: a failing one waits its
    // backoff across runs instead of being hammered within one.
    let mut tried = Vec::new();
    while started.elapsed() < settings.budget {
        let batch = Outbox::claim(
            pool,
            settings.batch_size,
            settings.min_age,
            settings.lease,
            &tried,
        )
        .await?;
        if batch.is_empty() {
            break;
        }
        let outcome = send_batch(settings, batch).await;
        let mut conn = pool.acquire().await?;
        Outbox::mark_sent(&mut conn, &outcome.sent).await?;
        drop(conn);
        Outbox::release(pool, &outcome.untried).await?;
        let parked = Outbox::record_failures(pool, &outcome.failed, &settings.retry).await?;
        tried.extend(outcome.failed.iter().map(|(id, _)| *id));
        report.sent += outcome.sent.len() as u64;
        report.failed += outcome.failed.len() as u64;
        if let Some((_, error)) = outcome.failed.last() {
            report.error = Some(error.clone());
        }
        log_parked(&parked, &mut report);
    }

    while started.elapsed() < settings.budget {
        let pruned = Outbox::prune(pool, settings.retention, PRUNE_BATCH).await?;
        report.pruned += pruned;
        if pruned < PRUNE_BATCH as u64 {
            break;
        }
    }
    report.outbox = Outbox::status(pool).await?;
    if report.outbox.parked > 0 {
        tracing::error!(
            parked = report.outbox.parked,
            "events are parked: fix the cause, then retry them (POST /outbox/retry-parked)"
        );
    }
    Ok(report)
}

fn log_parked(parked: &[ParkedEvent], report: &mut RelayReport) {
    for event in parked {
        tracing::error!(
            outbox_id = event.outbox_id,
            event_id = %event.event_id,
            task_id = event.task_id,
            attempts = event.attempts,
            last_error = event.last_error,
            "event parked after its last attempt; it waits for an operator"
        );
    }
    report.parked_now += parked.len() as u64;
}

/// How the sends of one batch ended.
#[derive(Debug, Default)]
struct BatchOutcome {
    sent: Vec<i64>,
    failed: Vec<(i64, String)>,
    /// Not tried: an earlier event of the same task failed first.
    untried: Vec<i64>,
}

/// Sends a batch: each task's events in order, stopping at its first
/// failure; different tasks side by side.
async fn send_batch(settings: &RelaySettings, batch: Vec<OutboxEntry>) -> BatchOutcome {
    let mut by_task: BTreeMap<i64, Vec<OutboxEntry>> = BTreeMap::new();
    for entry in batch {
        by_task.entry(entry.task_id).or_default().push(entry);
    }
    let mut outcomes = futures::stream::iter(by_task.into_values())
        .map(|entries| send_in_order(settings, entries))
        .buffer_unordered(TASKS_IN_FLIGHT);
    let mut outcome = BatchOutcome::default();
    while let Some(task) = outcomes.next().await {
        outcome.sent.extend(task.sent);
        outcome.failed.extend(task.failed);
        outcome.untried.extend(task.untried);
    }
    outcome
}

async fn send_in_order(settings: &RelaySettings, entries: Vec<OutboxEntry>) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    let mut entries = entries.into_iter();
    for entry in entries.by_ref() {
        let result = match &entry.event {
            Ok(event) => settings
                .sink
                .send(event)
                .await
                .map_err(|err| err.to_string()),
            Err(error) => Err(error.clone()),
        };
        match result {
            Ok(()) => outcome.sent.push(entry.id),
            Err(error) => {
                tracing::warn!(
                    outbox_id = entry.id,
                    task_id = entry.task_id,
                    attempt = entry.attempts,
                    error,
                    "event not sent; it waits its backoff"
                );
                outcome.failed.push((entry.id, error));
                break;
            }
        }
    }
    outcome.untried.extend(entries.map(|entry| entry.id));
    outcome
}
