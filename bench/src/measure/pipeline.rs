//! The event pipeline: from a create's response to its row in the audit log,
//! through the real broker path, at a steady write rate.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use crate::stats::percentile;

/// Latency of the event path, and how many events arrived. Fields in
/// alphabetical order, the order results.json has always had.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PipelineRun {
    pub arrived: usize,
    #[serde(deserialize_with = "crate::stats::nan_from_null")]
    pub p50_ms: f64,
    #[serde(deserialize_with = "crate::stats::nan_from_null")]
    pub p99_ms: f64,
    pub writes: usize,
}

/// `rate` creates per second for `seconds` through `gateway`, by `client`
/// (signed in); then the time from each response to its `task.created`
/// row's `processed_at`.
pub async fn event_pipeline(
    client: &reqwest::Client,
    gateway: &str,
    pool: &PgPool,
    rate: u32,
    seconds: u32,
) -> anyhow::Result<PipelineRun> {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    let mut pending = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds.into()) {
        tick.tick().await;
        let (client, url) = (client.clone(), format!("{gateway}/api/tasks"));
        pending.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .json(&json!({"title": "pipeline"}))
                .send()
                .await
                .ok()?;
            let answered: DateTime<Utc> = Utc::now();
            let task: serde_json::Value = response.json().await.ok()?;
            Some((task["id"].as_i64()?, answered))
        }));
    }
    let mut answered = Vec::new();
    for task in pending {
        if let Some(pair) = task.await? {
            answered.push(pair);
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ids: Vec<i64> = answered.iter().map(|(id, _)| *id).collect();
    let rows: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT task_id, processed_at FROM task_audit_log WHERE event_type = 'task.created' AND task_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let processed: std::collections::HashMap<i64, DateTime<Utc>> = rows.into_iter().collect();
    let latencies: Vec<f64> = answered
        .iter()
        .filter_map(|(id, at)| {
            processed
                .get(id)
                .map(|p| (*p - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        })
        .collect();
    Ok(PipelineRun {
        writes: answered.len(),
        arrived: latencies.len(),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
    })
}
