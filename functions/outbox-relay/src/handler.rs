use std::time::{Duration, Instant};

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use task_core::config::{ConfigError, setting};
use task_core::{ApiError, AppState};
use task_events::outbox::Outbox;
use task_events::publisher::check_url;
use task_events::sink::EventSink;

/// Where and how the relay sends.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    pub sink: EventSink,
    /// Rows claimed (and locked) per transaction.
    pub batch_size: i64,
    /// Rows younger than this are left to the function that wrote them, which
    /// is still trying to send them itself.
    pub min_age: Duration,
    /// Stop starting new batches after this long.
    pub budget: Duration,
}

impl RelaySettings {
    /// `K_SINK` (required), `RELAY_SEND_TIMEOUT_MS` (5000),
    /// `OUTBOX_RELAY_BATCH_SIZE` (100), `OUTBOX_RELAY_MIN_AGE_MS` (1000),
    /// `OUTBOX_RELAY_BUDGET_MS` (20000).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let url = lookup("K_SINK")
            .filter(|url| !url.trim().is_empty())
            .ok_or(ConfigError::Missing(
                "K_SINK",
                "the URL events are sent to (the broker, or the audit function)",
            ))?;
        let timeout = Duration::from_millis(setting(&lookup, "RELAY_SEND_TIMEOUT_MS", 5000)?);
        Ok(Self {
            sink: EventSink::new(check_url("K_SINK", url)?, timeout),
            batch_size: setting(&lookup, "OUTBOX_RELAY_BATCH_SIZE", 100)?,
            min_age: Duration::from_millis(setting(&lookup, "OUTBOX_RELAY_MIN_AGE_MS", 1000)?),
            budget: Duration::from_millis(setting(&lookup, "OUTBOX_RELAY_BUDGET_MS", 20_000)?),
        })
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayReport {
    pub sent: u64,
    /// Rows still unsent when the run ended.
    pub unsent: i64,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Sends every unsent event, oldest first; answers what it did. The body of
/// the request (the PingSource's event) is ignored.
pub async fn relay(
    State(state): State<AppState>,
    Extension(settings): Extension<RelaySettings>,
) -> Result<Json<RelayReport>, ApiError> {
    let report = relay_outbox(state.tasks.pool(), &settings).await?;
    if report.sent > 0 || report.error.is_some() {
        tracing::info!(
            sent = report.sent,
            unsent = report.unsent,
            error = report.error,
            "relay run"
        );
    }
    Ok(Json(report))
}

/// Claims batches with `FOR UPDATE SKIP LOCKED` (so relays running at once
/// never send the same row), sends them in order and marks what the sink
/// acknowledged. The first failure ends the run, keeping the order of what
/// is left.
pub async fn relay_outbox(
    pool: &PgPool,
    settings: &RelaySettings,
) -> Result<RelayReport, sqlx::Error> {
    let started = Instant::now();
    let mut report = RelayReport::default();
    while started.elapsed() < settings.budget {
        let mut tx = pool.begin().await?;
        let batch = Outbox::claim_unsent(&mut tx, settings.batch_size, settings.min_age).await?;
        if batch.is_empty() {
            break;
        }
        let mut sent = Vec::with_capacity(batch.len());
        for entry in &batch {
            match settings.sink.send(&entry.event).await {
                Ok(()) => sent.push(entry.id),
                Err(err) => {
                    let error = err.to_string();
                    Outbox::record_failure(&mut tx, entry.id, &error).await?;
                    report.error = Some(error);
                    break;
                }
            }
        }
        Outbox::mark_sent(&mut tx, &sent).await?;
        tx.commit().await?;
        report.sent += sent.len() as u64;
        if report.error.is_some() {
            break;
        }
    }
    report.unsent = Outbox::count_unsent(pool).await?;
    Ok(report)
}
