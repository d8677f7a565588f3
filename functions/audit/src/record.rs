//! Deliveries that arrive together are recorded together (a group commit,
//! see [`task_core::group_commit`]): one statement and one commit for the
//! lot; each delivery is still answered on its own.

use std::collections::HashSet;

use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use serde_json::Value;
use task_core::audit_log::{AuditLog, AuditRecord};
use task_core::group_commit::{BatchWrite, GroupCommit, answer_failed_batch};
use task_core::{ApiError, AppState};

/// A checked delivery, ready to be recorded (owned: it waits for its batch).
#[derive(Debug, Clone)]
pub struct Received {
    pub event_type: String,
    pub task_id: i64,
    pub task_sequence: i32,
    /// The whole CloudEvent in structured JSON form.
    pub event: Value,
    pub event_id: String,
    pub event_source: String,
    pub event_time: Option<DateTime<Utc>>,
}

impl Received {
    fn record(&self) -> AuditRecord<'_> {
        AuditRecord {
            event_type: &self.event_type,
            task_id: self.task_id,
            task_sequence: self.task_sequence,
            event: &self.event,
            event_id: &self.event_id,
            event_source: &self.event_source,
            event_time: self.event_time,
        }
    }

    fn key(&self) -> (&str, &str) {
        (&self.event_source, &self.event_id)
    }
}

/// The state of the audit's route: the deliveries waiting to be recorded.
#[derive(Clone)]
pub struct AuditState {
    app: AppState,
    deliveries: GroupCommit<RecordDeliveries>,
}

impl FromRef<AuditState> for AppState {
    fn from_ref(state: &AuditState) -> Self {
        state.app.clone()
    }
}

impl AuditState {
    pub fn new(app: AppState) -> Self {
        let write = RecordDeliveries {
            log: app.audit_log.clone(),
        };
        let background = app.background.clone();
        Self {
            app,
            deliveries: GroupCommit::new(write, background),
        }
    }

    /// Records `received` once (with the deliveries that arrived meanwhile);
    /// whether this delivery wrote the row (false: an event already recorded).
    pub async fn record(&self, received: Received) -> Result<bool, ApiError> {
        self.deliveries.write(received).await
    }
}

/// Records a batch of deliveries.
pub struct RecordDeliveries {
    log: AuditLog,
}

impl BatchWrite for RecordDeliveries {
    type Item = Received;
    type Output = bool;

    async fn write(&self, batch: Vec<Received>) -> Vec<Result<bool, ApiError>> {
        let mut answers: Vec<Option<Result<bool, ApiError>>> = batch.iter().map(|_| None).collect();
        let mut left: Vec<usize> = (0..batch.len()).collect();
        // Two deliveries of one event (a resend racing the first send) go in
        // separate statements: one statement cannot update a row twice.
        while !left.is_empty() {
            let mut keys = HashSet::new();
            let (now, later): (Vec<usize>, Vec<usize>) = left
                .into_iter()
                .partition(|&at| keys.insert(batch[at].key()));
            let records: Vec<AuditRecord<'_>> = now.iter().map(|&at| batch[at].record()).collect();
            match self.log.record_all(&records).await {
                Ok(written) => {
                    for (at, written) in now.into_iter().zip(written) {
                        answers[at] = Some(Ok(written));
                    }
                }
                // Everything not yet answered goes by the group commit's rule
                // (a refused row: each alone; anything else: the same answer).
                Err(error) => {
                    let unanswered: Vec<usize> = now.into_iter().chain(later).collect();
                    let items: Vec<&Received> = unanswered.iter().map(|&at| &batch[at]).collect();
                    let failed = answer_failed_batch(&items, error, |received| async move {
                        self.log.record(&received.record()).await
                    })
                    .await;
                    for (at, answer) in unanswered.into_iter().zip(failed) {
                        answers[at] = Some(answer);
                    }
                    break;
                }
            }
            left = later;
        }
        answers
            .into_iter()
            .map(|answer| answer.expect("every delivery answered"))
            .collect()
    }
}
