//! The transactional outbox (`event_outbox`): an event is written in the same
//! transaction as its change, and its row is the ledger of that event until
//! the audit log holds it (then it is kept for a retention period).
//!
//! This module is the sending side: enqueue, lease a batch, record what the
//! sink answered. [`ledger`] holds the reconciliation with the audit log.

mod created;
pub mod ledger;

pub use created::CreatedTask;

use std::time::Duration;

use cloudevents::{AttributesReader, Event};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::cloudevent::{AUTHID, PARTITION_KEY, string_extension};

/// Serializes claims of every relay: a claim reads which tasks have an
/// earlier event still pending, which only holds while no other claim runs.
const CLAIM_LOCK: i64 = 0x7461_736b_5f6f_7574; // "task_out"

/// A row leased for sending.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub id: i64,
    pub task_id: i64,
    /// Sends so far, this one included.
    pub attempts: i32,
    /// The event, or why the stored JSON is not one.
    pub event: Result<Event, String>,
}

/// How often a row is tried before it is parked, and how long it waits between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed send; it doubles with every further one.
    pub first_backoff: Duration,
    /// No wait grows beyond this.
    pub max_backoff: Duration,
    /// Sends after which a row that still fails (or is still not audited) is parked.
    pub max_attempts: i32,
}

/// A row that was parked: it needs an operator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParkedEvent {
    pub outbox_id: i64,
    pub event_id: Uuid,
    pub task_id: i64,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// Why an event cannot be written to the outbox.
fn encode_error(message: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Encode(message.into().into())
}

/// Access to the `event_outbox` table.
#[derive(Debug, Clone, Copy)]
pub struct Outbox;

impl Outbox {
    /// Stores `event` inside the caller's transaction; returns its row id.
    /// The event must carry its task id as its partition key and its actor
    /// as `authid` (every task event does); the row fixes both, and the
    /// owner its data names, for the audit to take them from.
    pub async fn enqueue(conn: &mut PgConnection, event: &Event) -> Result<i64, sqlx::Error> {
        let event_id = Uuid::parse_str(event.id()).map_err(|err| encode_error(err.to_string()))?;
        let task_id = string_extension(event, PARTITION_KEY)
            .and_then(|key| key.parse::<i64>().ok())
            .ok_or_else(|| encode_error("a task event needs its task id as partition key"))?;
        let actor = string_extension(event, AUTHID)
            .ok_or_else(|| encode_error("a task event needs its actor as authid"))?;
        let document = serde_json::to_value(event).map_err(|err| encode_error(err.to_string()))?;
        let owner = document["data"]["owner"]
            .as_str()
            .ok_or_else(|| encode_error("a task event's data needs the task's owner"))?
            .to_string();
        sqlx::query_scalar!(
            "INSERT INTO event_outbox (event_id, event, task_id, actor, owner)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            event_id,
            document,
            task_id,
            actor,
            owner,
        )
        .fetch_one(conn)
        .await
    }

    /// Leases up to `limit` rows that are due, oldest first, for `lease`:
    /// unsent, not parked, not in `tried` (rows this relay run already
    /// tried), older than `min_age` (younger rows are still their writer's to
    /// send), and with no earlier event of their task that must go first but
    /// cannot now (failing, tried, parked, leased or young). Each claim
    /// counts as an attempt. Commits before returning: nothing stays locked
    /// while the caller sends.
    pub async fn claim(
        pool: &PgPool,
        limit: i64,
        min_age: Duration,
        lease: Duration,
        tried: &[i64],
    ) -> Result<Vec<OutboxEntry>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::query!("SELECT pg_advisory_xact_lock($1)", CLAIM_LOCK)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query!(
            r#"
            UPDATE event_outbox
            SET leased_until = now() + make_interval(secs => $3::float8 / 1000.0),
                attempts = attempts + 1
            WHERE id IN (
                SELECT o.id FROM event_outbox o
                WHERE o.sent_at IS NULL AND o.parked_at IS NULL
                  AND o.next_attempt_at <= now()
                  AND NOT o.id = ANY($4)
                  AND (o.leased_until IS NULL OR o.leased_until <= now())
                  AND o.created_at <= now() - make_interval(secs => $2::float8 / 1000.0)
                  AND NOT EXISTS (
                      SELECT 1 FROM event_outbox e
                      WHERE e.task_id = o.task_id AND e.id < o.id AND e.sent_at IS NULL
                        AND (e.parked_at IS NOT NULL
                             OR e.id = ANY($4)
                             OR e.next_attempt_at > now()
                             OR e.leased_until > now()
                             OR e.created_at > now() - make_interval(secs => $2::float8 / 1000.0)))
                ORDER BY o.id
                LIMIT $1
                FOR UPDATE SKIP LOCKED)
            RETURNING id, task_id, attempts, event
            "#,
            limit,
            min_age.as_millis() as f64,
            lease.as_millis() as f64,
            tried,
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut entries: Vec<OutboxEntry> = rows
            .into_iter()
            .map(|row| OutboxEntry {
                id: row.id,
                task_id: row.task_id,
                attempts: row.attempts,
                event: serde_json::from_value(row.event)
                    .map_err(|err| format!("the stored event cannot be decoded: {err}")),
            })
            .collect();
        entries.sort_by_key(|entry| entry.id);
        Ok(entries)
    }

    /// Marks rows the sink acknowledged. Counts an attempt for rows that
    /// were not leased (a writer's own send). One statement, committed
    /// without waiting for the WAL flush: a mark lost in a crash only means
    /// the event is sent once more, and the audit records it once.
    pub async fn mark_sent(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        // set_config(.., true) holds for this statement's own transaction,
        // its commit included: no BEGIN, SET LOCAL and COMMIT round trips.
        sqlx::query!(
            r#"
            UPDATE event_outbox
            SET sent_at = now(), last_error = NULL,
                attempts = CASE WHEN leased_until IS NULL THEN attempts + 1 ELSE attempts END,
                leased_until = NULL
            FROM (SELECT set_config('synchronous_commit', 'off', true)) AS no_flush_wait
            WHERE id = ANY($1) AND sent_at IS NULL
            "#,
            ids,
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Gives back leased rows that were not tried (an earlier event of their
    /// task failed first), without counting the attempt.
    pub async fn release(pool: &PgPool, ids: &[i64]) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query!(
            "UPDATE event_outbox SET leased_until = NULL, attempts = attempts - 1
             WHERE id = ANY($1) AND leased_until IS NOT NULL",
            ids,
        )
        .execute(pool)
        .await?;
        Ok(())
    }

    /// Records failed sends: each row waits its backoff, or is parked once
    /// it used up its attempts. Returns the rows parked now.
    pub async fn record_failures(
        pool: &PgPool,
        failures: &[(i64, String)],
        policy: &RetryPolicy,
    ) -> Result<Vec<ParkedEvent>, sqlx::Error> {
        if failures.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, errors): (Vec<i64>, Vec<String>) = failures.iter().cloned().unzip();
        let rows = sqlx::query!(
            r#"
            UPDATE event_outbox o
            SET leased_until = NULL, last_error = f.error,
                next_attempt_at = now() + make_interval(secs =>
                    least($3::float8 * power(2, greatest(o.attempts - 1, 0)), $4::float8) / 1000.0),
                parked_at = CASE WHEN o.attempts >= $5 THEN now() END
            FROM unnest($1::bigint[], $2::text[]) AS f(id, error)
            WHERE o.id = f.id
            RETURNING o.id, o.event_id, o.task_id, o.attempts, o.last_error,
                      o.parked_at IS NOT NULL AS "parked!"
            "#,
            &ids,
            &errors,
            policy.first_backoff.as_millis() as f64,
            policy.max_backoff.as_millis() as f64,
            policy.max_attempts,
        )
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|row| row.parked)
            .map(|row| ParkedEvent {
                outbox_id: row.id,
                event_id: row.event_id,
                task_id: row.task_id,
                attempts: row.attempts,
                last_error: row.last_error,
            })
            .collect())
    }
}
