//! The outbox under steady load: with the relay pruning what has been
//! audited for longer than the retention period, its size stays flat.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

/// The outbox's row count, sampled while creates arrive at a steady rate.
/// Fields in alphabetical order, the order results.json has always had.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OutboxUnderLoad {
    pub retention_seconds: u64,
    /// (seconds since the load started, rows in `event_outbox`).
    pub samples: Vec<(u64, i64)>,
    pub seconds: u32,
    pub writes_per_second: u32,
    /// Rows written during the run: what the outbox would hold without pruning.
    pub written: i64,
}

/// `rate` creates per second through `gateway` by `client` (signed in) for
/// `seconds`, sampling the outbox's size every `every`.
pub async fn outbox_under_load(
    client: &reqwest::Client,
    gateway: &str,
    pool: &PgPool,
    rate: u32,
    seconds: u32,
    every: Duration,
    retention: Duration,
) -> anyhow::Result<OutboxUnderLoad> {
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM event_outbox")
            .fetch_one(pool)
            .await
    };
    let first_id: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM event_outbox")
        .fetch_one(pool)
        .await?;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    let start = Instant::now();
    let mut next_sample = Duration::ZERO;
    let mut samples = Vec::new();
    let mut pending = Vec::new();
    while start.elapsed() < Duration::from_secs(seconds.into()) {
        tick.tick().await;
        if start.elapsed() >= next_sample {
            samples.push((next_sample.as_secs(), count().await?));
            next_sample += every;
        }
        let request = client
            .post(format!("{gateway}/api/tasks"))
            .json(&json!({"title": "outbox"}));
        pending.push(tokio::spawn(request.send()));
    }
    for request in pending {
        let _ = request.await?;
    }
    samples.push((start.elapsed().as_secs(), count().await?));
    let written: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM event_outbox")
        .fetch_one(pool)
        .await?;
    Ok(OutboxUnderLoad {
        writes_per_second: rate,
        seconds,
        retention_seconds: retention.as_secs(),
        samples,
        written: written - first_id,
    })
}
