//! All SQL on the `task_audit_log` table.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

use crate::history::{HistoryEntry, HistoryPage, HistoryPosition};

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
        let written = self.record_all(std::slice::from_ref(record)).await?;
        written.first().copied().ok_or(sqlx::Error::RowNotFound)
    }

    /// [`AuditLog::record`] for several events in one statement; for each,
    /// whether this call wrote its row. No two may share a (source, id): one
    /// statement cannot update a row twice.
    pub async fn record_all(&self, records: &[AuditRecord<'_>]) -> Result<Vec<bool>, sqlx::Error> {
        let types: Vec<&str> = records.iter().map(|record| record.event_type).collect();
        let ids: Vec<&str> = records.iter().map(|record| record.event_id).collect();
        let sources: Vec<&str> = records.iter().map(|record| record.event_source).collect();
        let task_ids: Vec<i64> = records.iter().map(|record| record.task_id).collect();
        let sequences: Vec<i32> = records.iter().map(|record| record.task_sequence).collect();
        let events: Vec<&Value> = records.iter().map(|record| record.event).collect();
        let times: Vec<Option<DateTime<Utc>>> =
            records.iter().map(|record| record.event_time).collect();
        let rows = sqlx::query!(
            r#"
            INSERT INTO task_audit_log
                (event_type, task_id, task_sequence, event_data, event_id, event_source, event_time)
            SELECT event_type, task_id, task_sequence, event_data, event_id, event_source, event_time
            FROM unnest($1::text[], $2::int8[], $3::int4[], $4::jsonb[], $5::text[], $6::text[],
                        $7::timestamptz[])
                 WITH ORDINALITY AS received (event_type, task_id, task_sequence, event_data,
                                              event_id, event_source, event_time, position)
            ORDER BY position
            ON CONFLICT (event_source, event_id)
                DO UPDATE SET deliveries = task_audit_log.deliveries + 1
            RETURNING event_source, event_id, deliveries = 1 AS "first!"
            "#,
            &types as &[&str],
            &task_ids,
            &sequences,
            &events as &[&Value],
            &ids as &[&str],
            &sources as &[&str],
            &times as &[Option<DateTime<Utc>>],
        )
        .fetch_all(&self.pool)
        .await?;
        let first: HashMap<(String, String), bool> = rows
            .into_iter()
            .map(|row| ((row.event_source, row.event_id), row.first))
            .collect();
        records
            .iter()
            .map(|record| {
                first
                    .get(&(record.event_source.to_owned(), record.event_id.to_owned()))
                    .copied()
                    .ok_or(sqlx::Error::RowNotFound)
            })
            .collect()
    }

    /// One page of a task's events, the newest change first (in the order
    /// the changes were made, not the order their events arrived), each with
    /// its position (where a page after it starts).
    pub async fn history(
        &self,
        task_id: i64,
        page: &HistoryPage,
    ) -> Result<Vec<(HistoryPosition, HistoryEntry)>, sqlx::Error> {
        let (sequence, row) = page
            .before
            .map_or((None, None), |p| (Some(p.sequence), Some(p.row)));
        let rows = sqlx::query!(
            r#"
            SELECT id, task_sequence, event_type, event_id, event_time, processed_at,
                   coalesce(event_data -> 'data', 'null'::jsonb) AS "data!"
            FROM task_audit_log
            WHERE task_id = $1
              AND ($2::integer IS NULL OR (task_sequence, id) < ($2, $3::bigint))
            ORDER BY task_sequence DESC, id DESC
            LIMIT $4
            "#,
            task_id,
            sequence,
            row,
            page.limit,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let position = HistoryPosition {
                    sequence: r.task_sequence,
                    row: r.id,
                };
                let entry = HistoryEntry {
                    event_type: r.event_type,
                    event_id: r.event_id,
                    sequence: r.task_sequence,
                    time: r.event_time,
                    processed_at: r.processed_at,
                    data: r.data,
                };
                (position, entry)
            })
            .collect())
    }
}
