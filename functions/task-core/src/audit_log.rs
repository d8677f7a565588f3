//! All SQL on the `task_audit_log` table.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

use crate::db::planned_for_its_values;
use crate::history::{HistoryEntry, HistoryPage, HistoryPosition};

/// One received event, ready to be recorded.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    /// Who made the change: from the event's outbox row when `verified`.
    pub actor: Option<&'a str>,
    /// Whose task it is (who sees the record in the task's history).
    pub owner: Option<&'a str>,
    /// Checked against the outbox row the change wrote (false: an event
    /// posted by hand from another source, recorded as it claims).
    pub verified: bool,
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
        let actors: Vec<Option<&str>> = records.iter().map(|record| record.actor).collect();
        let owners: Vec<Option<&str>> = records.iter().map(|record| record.owner).collect();
        let verified: Vec<bool> = records.iter().map(|record| record.verified).collect();
        let rows = sqlx::query!(
            r#"
            INSERT INTO task_audit_log
                (event_type, task_id, task_sequence, event_data, event_id, event_source, event_time,
                 actor, owner, verified)
            SELECT event_type, task_id, task_sequence, event_data, event_id, event_source, event_time,
                   actor, owner, verified
            FROM unnest($1::text[], $2::int8[], $3::int4[], $4::jsonb[], $5::text[], $6::text[],
                        $7::timestamptz[], $8::text[], $9::text[], $10::bool[])
                 WITH ORDINALITY AS received (event_type, task_id, task_sequence, event_data,
                                              event_id, event_source, event_time, actor, owner,
                                              verified, position)
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
            &actors as &[Option<&str>],
            &owners as &[Option<&str>],
            &verified,
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

    /// One page of a task's events that `owner` may see (every user's when
    /// `None`), the newest change first (in the order the changes were made,
    /// not the order their events arrived), each with its position (where a
    /// page after it starts).
    pub async fn history(
        &self,
        task_id: i64,
        owner: Option<&str>,
        page: &HistoryPage,
    ) -> Result<Vec<(HistoryPosition, HistoryEntry)>, sqlx::Error> {
        let (sequence, row) = page
            .before
            .map_or((None, None), |p| (Some(p.sequence), Some(p.row)));
        // Planned for its values: with a plan kept for any owner and
        // cursor, a page sorted every entry of the task.
        let mut tx = self.pool.begin().await?;
        planned_for_its_values(&mut tx).await?;
        let rows = sqlx::query!(
            r#"
            SELECT id, task_sequence, event_type, event_id, event_time, processed_at, actor,
                   verified, coalesce(event_data -> 'data', 'null'::jsonb) AS "data!"
            FROM task_audit_log
            WHERE task_id = $1
              AND ($2::integer IS NULL OR (task_sequence, id) < ($2, $3::bigint))
              AND ($5::text IS NULL OR owner = $5)
            ORDER BY task_sequence DESC, id DESC
            LIMIT $4
            "#,
            task_id,
            sequence,
            row,
            page.limit,
            owner,
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
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
                    actor: r.actor,
                    verified: r.verified,
                    data: r.data,
                };
                (position, entry)
            })
            .collect())
    }
}
