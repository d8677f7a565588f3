//! Deliveries that arrive together are checked and recorded together (a
//! group commit, see [`task_core::group_commit`]): one query checks them
//! against the outbox ([`provenance`]), one statement and one commit
//! records the lot; each delivery is still answered on its own.

use std::collections::HashSet;

use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use task_core::audit_log::{AuditLog, AuditRecord};
use task_core::group_commit::{BatchWrite, GroupCommit, answer_failed_batch};
use task_core::{ApiError, AppState};

use crate::provenance::{self, Claimed, Verdict};

/// A checked delivery, ready to be recorded (owned: it waits for its batch).
#[derive(Debug, Clone)]
pub struct Received {
    pub event_type: String,
    pub task_id: i64,
    pub task_sequence: i32,
    /// The whole CloudEvent in structured JSON form.
    pub event: Value,
    /// Its data as it arrived (compared with the outbox row's).
    pub data: Value,
    pub event_id: String,
    pub event_source: String,
    pub event_time: Option<DateTime<Utc>>,
    /// The actor the event claims (`authid`).
    pub authid: Option<String>,
}

impl Received {
    fn claimed(&self) -> Claimed<'_> {
        Claimed {
            source: &self.event_source,
            id: &self.event_id,
            event_type: &self.event_type,
            task_id: self.task_id,
            data: &self.data,
            authid: self.authid.as_deref(),
        }
    }

    fn key(&self) -> (&str, &str) {
        (&self.event_source, &self.event_id)
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded now.
    Recorded,
    /// Recorded before: this delivery was counted.
    Duplicate,
    /// Kept in `suspect_events`, not recorded as a change.
    Suspect,
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
            pool: app.tasks.pool().clone(),
        };
        let background = app.background.clone();
        Self {
            app,
            deliveries: GroupCommit::new(write, background),
        }
    }

    /// Checks `received` against the outbox and records it once (with the
    /// deliveries that arrived meanwhile).
    pub async fn record(&self, received: Received) -> Result<Outcome, ApiError> {
        self.deliveries.write(received).await
    }
}

/// Checks and records a batch of deliveries.
pub struct RecordDeliveries {
    log: AuditLog,
    pool: PgPool,
}

/// A delivery of the batch that is to be recorded, with what its check found.
struct ToRecord<'a> {
    received: &'a Received,
    actor: Option<String>,
    owner: Option<String>,
    verified: bool,
}

impl ToRecord<'_> {
    fn record(&self) -> AuditRecord<'_> {
        let received = self.received;
        AuditRecord {
            event_type: &received.event_type,
            task_id: received.task_id,
            task_sequence: received.task_sequence,
            event: &received.event,
            event_id: &received.event_id,
            event_source: &received.event_source,
            event_time: received.event_time,
            actor: self.actor.as_deref(),
            owner: self.owner.as_deref(),
            verified: self.verified,
        }
    }
}

impl BatchWrite for RecordDeliveries {
    type Item = Received;
    type Output = Outcome;

    async fn write(&self, batch: Vec<Received>) -> Vec<Result<Outcome, ApiError>> {
        let claims: Vec<Claimed<'_>> = batch.iter().map(Received::claimed).collect();
        let verdicts = match provenance::check(&self.pool, &claims).await {
            Ok(verdicts) => verdicts,
            Err(error) => {
                return ApiError::for_each_of(batch.len(), error)
                    .into_iter()
                    .map(Err)
                    .collect();
            }
        };
        let mut answers: Vec<Option<Result<Outcome, ApiError>>> =
            batch.iter().map(|_| None).collect();
        let mut to_record = Vec::new();
        for (at, (received, verdict)) in batch.iter().zip(verdicts).enumerate() {
            match verdict {
                Verdict::Record {
                    actor,
                    owner,
                    verified,
                } => to_record.push((
                    at,
                    ToRecord {
                        received,
                        actor,
                        owner,
                        verified,
                    },
                )),
                Verdict::Suspect(reason) => {
                    tracing::warn!(
                        event_id = %received.event_id,
                        event_source = %received.event_source,
                        %reason,
                        "suspect event parked, not recorded"
                    );
                    let parked = provenance::park(
                        &self.pool,
                        &received.event_source,
                        &received.event_id,
                        &reason,
                        &received.event,
                    )
                    .await;
                    answers[at] = Some(parked.map(|()| Outcome::Suspect).map_err(ApiError::from));
                }
            }
        }
        for (at, answer) in self.record_all(&to_record).await {
            answers[at] = Some(answer);
        }
        answers
            .into_iter()
            .map(|answer| answer.expect("every delivery answered"))
            .collect()
    }
}

impl RecordDeliveries {
    /// Records the deliveries to record: one statement, but two deliveries
    /// of one event (a resend racing the first send) in separate ones (one
    /// statement cannot update a row twice). Answers with each one's place
    /// in the batch.
    async fn record_all(
        &self,
        to_record: &[(usize, ToRecord<'_>)],
    ) -> Vec<(usize, Result<Outcome, ApiError>)> {
        let outcome = |written: bool| {
            if written {
                Outcome::Recorded
            } else {
                Outcome::Duplicate
            }
        };
        let mut answers = Vec::with_capacity(to_record.len());
        let mut left: Vec<&(usize, ToRecord<'_>)> = to_record.iter().collect();
        while !left.is_empty() {
            let mut keys = HashSet::new();
            let (now, later): (Vec<_>, Vec<_>) = left
                .into_iter()
                .partition(|(_, item)| keys.insert(item.received.key()));
            let records: Vec<AuditRecord<'_>> = now.iter().map(|(_, item)| item.record()).collect();
            match self.log.record_all(&records).await {
                Ok(written) => {
                    for ((at, _), written) in now.iter().zip(written) {
                        answers.push((*at, Ok(outcome(written))));
                    }
                }
                // Everything not yet answered goes by the group commit's rule
                // (a refused row: each alone; anything else: the same answer).
                Err(error) => {
                    let unanswered: Vec<&(usize, ToRecord<'_>)> =
                        now.into_iter().chain(later).collect();
                    let failed = answer_failed_batch(&unanswered, error, |(_, item)| async move {
                        self.log.record(&item.record()).await.map(outcome)
                    })
                    .await;
                    for ((at, _), answer) in unanswered.into_iter().zip(failed) {
                        answers.push((*at, answer));
                    }
                    break;
                }
            }
            left = later;
        }
        answers
    }
}
