//! The reconciliation of the outbox with the audit log: the outbox is the
//! ledger of every acknowledged change, and the audit log must end up holding
//! each of its events exactly once, whatever the broker did with them.
//!
//! Every query here reads only rows not yet seen in the audit log (a partial
//! index keeps them apart), so a run costs nothing when nothing is missing.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::{CLAIM_LOCK, Outbox, ParkedEvent, RetryPolicy};

/// How many times the wait for a missing audit row doubles, at least. A
/// broker that is only behind (its dispatcher catching up after an outage)
/// leaves many rows unaudited past the grace; sending each of them again
/// every grace period would double its work while it is behind, and keep it
/// behind. Doubling, a row waiting a minute behind a 2 s grace is sent again
/// five times, not thirty.
pub const REQUEUE_GRACE_DOUBLINGS: u32 = 3;

/// Where the outbox's events stand, for an operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxStatus {
    /// Written, not yet taken by the broker.
    pub unsent: i64,
    /// Taken by the broker, not yet in the audit log.
    pub unaudited: i64,
    /// Given up on after every attempt: waiting for an operator.
    pub parked: i64,
    /// Events the audit function refused to record as changes: they claim
    /// to come from the app but match no change it made (`suspect_events`).
    #[serde(default)]
    pub suspect: i64,
}

/// What an operator asks the relay for (`GET /outbox`): the counts, and
/// the parked events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxReport {
    #[serde(flatten)]
    pub status: OutboxStatus,
    pub parked_events: Vec<ParkedEvent>,
}

/// The answer to `POST /outbox/retry-parked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retried {
    pub retried: u64,
}

/// What a reconciliation pass changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Rows now known to be in the audit log.
    pub confirmed: u64,
    /// Rows sent again: the broker took them but the audit log never got them.
    pub requeued: u64,
    /// Rows parked now, after their last attempt.
    pub parked: Vec<ParkedEvent>,
}

impl Outbox {
    /// Finds the rows whose event the audit log now holds, and marks them
    /// audited (and sent: a writer may have sent one without recording it).
    pub async fn confirm_audited(pool: &PgPool) -> Result<u64, sqlx::Error> {
        let result = sqlx::query!(
            r#"
            UPDATE event_outbox o
            SET audited_at = now(), sent_at = coalesce(o.sent_at, now()),
                parked_at = NULL, leased_until = NULL
            WHERE o.audited_at IS NULL
              AND EXISTS (SELECT 1 FROM task_audit_log a
                          WHERE a.event_source = o.event ->> 'source'
                            AND a.event_id = o.event_id::text)
            "#
        )
        .execute(pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Sends again what the broker took but the audit log still lacks after
    /// `grace`, doubling with each attempt up to [`REQUEUE_GRACE_DOUBLINGS`]
    /// times (or the policy's longest wait, if longer): the same event, so
    /// the audit stays idempotent. A row that has used up its attempts is
    /// parked instead. Run [`Outbox::confirm_audited`] first.
    pub async fn requeue_unaudited(
        pool: &PgPool,
        grace: Duration,
        policy: &RetryPolicy,
    ) -> Result<Reconciled, sqlx::Error> {
        let mut tx = pool.begin().await?;
        // Claims read which rows are unsent: no claim may run meanwhile.
        sqlx::query!("SELECT pg_advisory_xact_lock($1)", CLAIM_LOCK)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query!(
            r#"
            UPDATE event_outbox o
            SET sent_at = CASE WHEN o.attempts >= $3 THEN o.sent_at END,
                parked_at = CASE WHEN o.attempts >= $3 THEN now() END,
                next_attempt_at = now(),
                last_error = format('sent %s time(s), not in the audit log %s s after the broker took it',
                                    o.attempts, round(extract(epoch FROM now() - o.sent_at)))
            WHERE o.audited_at IS NULL AND o.parked_at IS NULL AND o.sent_at IS NOT NULL
              AND o.sent_at <= now() - make_interval(secs =>
                    least($1::float8 * power(2, greatest(o.attempts - 1, 0)), $2::float8) / 1000.0)
            RETURNING o.id, o.event_id, o.task_id, o.attempts, o.last_error,
                      o.parked_at IS NOT NULL AS "parked!"
            "#,
            grace.as_millis() as f64,
            policy
                .max_backoff
                .max(grace * (1 << REQUEUE_GRACE_DOUBLINGS))
                .as_millis() as f64,
            policy.max_attempts,
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut reconciled = Reconciled::default();
        for row in rows {
            if row.parked {
                reconciled.parked.push(ParkedEvent {
                    outbox_id: row.id,
                    event_id: row.event_id,
                    task_id: row.task_id,
                    attempts: row.attempts,
                    last_error: row.last_error,
                });
            } else {
                reconciled.requeued += 1;
            }
        }
        Ok(reconciled)
    }

    /// Deletes up to `limit` rows whose event has been in the audit log for
    /// longer than `retention`, oldest first; returns how many went.
    pub async fn prune(pool: &PgPool, retention: Duration, limit: i64) -> Result<u64, sqlx::Error> {
        let result = sqlx::query!(
            r#"
            DELETE FROM event_outbox WHERE id IN (
                SELECT id FROM event_outbox
                WHERE audited_at < now() - make_interval(secs => $1::float8 / 1000.0)
                ORDER BY audited_at
                LIMIT $2)
            "#,
            retention.as_millis() as f64,
            limit,
        )
        .execute(pool)
        .await?;
        Ok(result.rows_affected())
    }

    pub async fn status(pool: &PgPool) -> Result<OutboxStatus, sqlx::Error> {
        let row = sqlx::query!(
            r#"
            SELECT count(*) FILTER (WHERE sent_at IS NULL AND parked_at IS NULL) AS "unsent!",
                   count(*) FILTER (WHERE sent_at IS NOT NULL AND parked_at IS NULL) AS "unaudited!",
                   count(*) FILTER (WHERE parked_at IS NOT NULL) AS "parked!",
                   (SELECT count(*) FROM suspect_events) AS "suspect!"
            FROM event_outbox WHERE audited_at IS NULL
            "#
        )
        .fetch_one(pool)
        .await?;
        Ok(OutboxStatus {
            unsent: row.unsent,
            unaudited: row.unaudited,
            parked: row.parked,
            suspect: row.suspect,
        })
    }

    /// The parked rows, oldest first (at most `limit`).
    pub async fn parked(pool: &PgPool, limit: i64) -> Result<Vec<ParkedEvent>, sqlx::Error> {
        sqlx::query_as!(
            ParkedEvent,
            r#"
            SELECT id AS outbox_id, event_id, task_id, attempts, last_error
            FROM event_outbox
            WHERE audited_at IS NULL AND parked_at IS NOT NULL
            ORDER BY id
            LIMIT $1
            "#,
            limit,
        )
        .fetch_all(pool)
        .await
    }

    /// Gives every parked row a fresh set of attempts (once its cause is
    /// fixed): it is sent again by the next relay run. Returns how many.
    pub async fn retry_parked(pool: &PgPool) -> Result<u64, sqlx::Error> {
        let result = sqlx::query!(
            r#"
            UPDATE event_outbox
            SET parked_at = NULL, sent_at = NULL, attempts = 0, next_attempt_at = now(),
                leased_until = NULL
            WHERE audited_at IS NULL AND parked_at IS NOT NULL
            "#
        )
        .execute(pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Rows not yet sent, parked ones aside.
    pub async fn count_unsent(pool: &PgPool) -> Result<i64, sqlx::Error> {
        Ok(Self::status(pool).await?.unsent)
    }
}
