//! The transactional outbox (`event_outbox`): an event is written in the same
//! transaction as its change and stays until a sink has acknowledged it.

use std::time::Duration;

use cloudevents::{AttributesReader, Event};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// An unsent event and its row.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub id: i64,
    pub event: Event,
}

/// Access to the `event_outbox` table.
#[derive(Debug, Clone, Copy)]
pub struct Outbox;

impl Outbox {
    /// Stores `event` inside the caller's transaction; returns its row id.
    pub async fn enqueue(conn: &mut PgConnection, event: &Event) -> Result<i64, sqlx::Error> {
        let event_id =
            Uuid::parse_str(event.id()).map_err(|err| sqlx::Error::Encode(err.into()))?;
        let json = serde_json::to_value(event).map_err(|err| sqlx::Error::Encode(err.into()))?;
        sqlx::query_scalar!(
            "INSERT INTO event_outbox (event_id, event) VALUES ($1, $2) RETURNING id",
            event_id,
            json,
        )
        .fetch_one(conn)
        .await
    }

    /// Locks up to `limit` unsent rows older than `min_age`, oldest first,
    /// skipping rows another relay holds. The locks last until the caller's
    /// transaction ends, so concurrent relays never take the same row.
    pub async fn claim_unsent(
        conn: &mut PgConnection,
        limit: i64,
        min_age: Duration,
    ) -> Result<Vec<OutboxEntry>, sqlx::Error> {
        let min_age_ms = i64::try_from(min_age.as_millis()).unwrap_or(i64::MAX);
        let rows = sqlx::query!(
            r#"
            SELECT id, event FROM event_outbox
            WHERE sent_at IS NULL
              AND created_at <= now() - make_interval(secs => $2::bigint / 1000.0)
            ORDER BY id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
            "#,
            limit,
            min_age_ms,
        )
        .fetch_all(conn)
        .await?;
        rows.into_iter()
            .map(|row| {
                let event = serde_json::from_value(row.event)
                    .map_err(|err| sqlx::Error::Decode(err.into()))?;
                Ok(OutboxEntry { id: row.id, event })
            })
            .collect()
    }

    pub async fn mark_sent(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE event_outbox SET sent_at = now(), attempts = attempts + 1
             WHERE id = ANY($1) AND sent_at IS NULL",
            ids,
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    pub async fn record_failure(
        conn: &mut PgConnection,
        id: i64,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "UPDATE event_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
            id,
            error,
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    pub async fn count_unsent(pool: &PgPool) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM event_outbox WHERE sent_at IS NULL"#
        )
        .fetch_one(pool)
        .await
    }
}
