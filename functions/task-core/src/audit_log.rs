//! All SQL on the `task_audit_log` table.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

use crate::history::HistoryEntry;

/// One received event, ready to be recorded.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    pub event_type: &'a str,
    pub task_id: i64,
    /// The change's place in its task's life (see `TaskEvent::sequence`).
    pub task_sequence: i32,
    /// The whole CloudEvent in structured JSON form.
    pub event: &'a Value,
    pub event_id: &'a str,
    pub event_source: &'a str,
    pub event_time: Option<DateTime<Utc>>,
}

/// Reads and writes the audit log.
#[derive(Debug, Clone)]
pub struct AuditLog {
    pool: PgPool,
}

impl AuditLog {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Records an event once: a second delivery of the same (source, id)
    /// only counts the delivery. Returns whether this call wrote the row.
    pub async fn record(&self, record: &AuditRecord<'_>) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar!(
            r#"
            INSERT INTO task_audit_log
                (event_type, task_id, task_sequence, event_data, event_id, event_source, event_time)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (event_source, event_id)
                DO UPDATE SET deliveries = task_audit_log.deliveries + 1
            RETURNING deliveries = 1 AS "first!"
            "#,
            record.event_type,
            record.task_id,
            record.task_sequence,
            record.event,
            record.event_id,
            record.event_source,
            record.event_time,
        )
        .fetch_one(&self.pool)
        .await
    }

    /// A task's events in the order the changes were made.
    pub async fn history(&self, task_id: i64) -> Result<Vec<HistoryEntry>, sqlx::Error> {
        sqlx::query_as!(
            HistoryEntry,
            r#"
            SELECT event_type, event_id, event_time AS time, processed_at,
                   coalesce(event_data -> 'data', 'null'::jsonb) AS "data!"
            FROM task_audit_log
            WHERE task_id = $1
            ORDER BY task_sequence, id
            "#,
            task_id,
        )
        .fetch_all(&self.pool)
        .await
    }
}
