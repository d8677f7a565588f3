//! Live updates at scale: [`STREAMS`] pages' streams (`GET /api/task-events`)
//! held open through the gateway, what they cost task-stream and nginx in
//! memory, then [`CHANGES`] creates each delivered to every stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bench::results::LiveStreams;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::{Bench, say};

pub const STREAMS: usize = 1_000;
pub const CHANGES: usize = 20;

pub async fn measure(bench: &Bench) -> anyhow::Result<LiveStreams> {
    let task_stream =
        child_named(bench.stack.pid, "task-stream")?.context("the stack runs no task-stream")?;
    let task_stream_idle_rss_mib = rss_mib(task_stream)?;
    let (header, authorization) = bench.authorization().await?;
    let url = format!("{}/api/task-events", bench.stack.gateway_url);
    say(&format!(
        "live updates: opening {STREAMS} streams through the gateway"
    ));
    let ready = Arc::new(AtomicUsize::new(0));
    let (arrived, mut arrivals) = mpsc::unbounded_channel::<(i64, Instant)>();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let mut readers = Vec::new();
    for _ in 0..STREAMS {
        let request = client.get(&url).header(header, &authorization).send();
        let (ready, arrived) = (ready.clone(), arrived.clone());
        readers.push(tokio::spawn(async move {
            let response = request.await?;
            if !response.status().is_success() {
                bail!("a stream was refused: {}", response.status());
            }
            read_stream(response, &ready, &arrived).await
        }));
    }
    let opened = Instant::now();
    while ready.load(Ordering::Relaxed) < STREAMS {
        if opened.elapsed() > Duration::from_secs(60) {
            bail!(
                "only {} of {STREAMS} streams were ready after 60 s",
                ready.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let task_stream_rss_mib = rss_mib(task_stream)?;
    let nginx = child_named(bench.stack.pid, "nginx")?.context("the stack runs no nginx")?;
    let nginx_rss_mib = rss_mib(nginx)?
        + children(nginx)?
            .into_iter()
            .map(|(pid, _)| rss_mib(pid))
            .sum::<anyhow::Result<f64>>()?;
    say(&format!(
        "live updates: {STREAMS} streams open: task-stream {task_stream_rss_mib:.1} MiB (idle {task_stream_idle_rss_mib:.1}), nginx {nginx_rss_mib:.1} MiB"
    ));

    let api = bench.client().await?;
    let mut answered = HashMap::new();
    for change in 0..CHANGES {
        let task: Value = api
            .post(format!("{}/api/tasks", bench.stack.gateway_url))
            .json(&json!({"title": format!("live {change}")}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = task["id"].as_i64().context("a created task has an id")?;
        answered.insert(id, Instant::now());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let expected = STREAMS * CHANGES;
    let mut latencies = Vec::with_capacity(expected);
    let deadline = Instant::now() + Duration::from_secs(30);
    while latencies.len() < expected {
        let Ok(Some((id, at))) = tokio::time::timeout_at(deadline, arrivals.recv()).await else {
            break;
        };
        if let Some(sent) = answered.get(&id) {
            latencies.push(at.saturating_duration_since(*sent).as_secs_f64() * 1000.0);
        }
    }
    for reader in readers {
        reader.abort();
    }
    let missed = (expected - latencies.len()) as u64;
    let (delivery_p50_ms, delivery_p99_ms) = (
        percentile(&mut latencies, 0.50),
        percentile(&mut latencies, 0.99),
    );
    say(&format!(
        "live updates: {CHANGES} creates to {STREAMS} streams: p50 {delivery_p50_ms:.0} ms, p99 {delivery_p99_ms:.0} ms, {missed} missed"
    ));
    Ok(LiveStreams {
        changes: CHANGES as u64,
        delivery_p50_ms,
        delivery_p99_ms,
        missed,
        nginx_rss_mib,
        streams: STREAMS as u64,
        task_stream_idle_rss_mib,
        task_stream_rss_mib,
    })
}

/// Reads a stream until it ends: counts its `ready`, sends each `task`
/// event's task id with the time it was read.
async fn read_stream(
    mut response: reqwest::Response,
    ready: &AtomicUsize,
    arrived: &mpsc::UnboundedSender<(i64, Instant)>,
) -> anyhow::Result<()> {
    let mut pending = String::new();
    while let Some(chunk) = response.chunk().await? {
        let at = Instant::now();
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find("\n\n") {
            let message: String = pending.drain(..end + 2).collect();
            if message.contains("event: ready") {
                ready.fetch_add(1, Ordering::Relaxed);
            } else if message.contains("event: task")
                && let Some(data) = message.lines().find_map(|l| l.strip_prefix("data: "))
                && let Some(id) = serde_json::from_str::<Value>(data)?["task_id"].as_i64()
            {
                let _ = arrived.send((id, at));
            }
        }
    }
    Ok(())
}

/// The value at quantile `q` (0 to 1), NaN when there is none.
fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// The processes whose parent is `parent`: pid and name (`comm`).
fn children(parent: u32) -> anyhow::Result<Vec<(u32, String)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")?.filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        if field("PPid:").and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            found.push((pid, field("Name:").unwrap_or_default()));
        }
    }
    Ok(found)
}

/// The child of `parent` named `name`.
fn child_named(parent: u32, name: &str) -> anyhow::Result<Option<u32>> {
    Ok(children(parent)?
        .into_iter()
        .find(|(_, comm)| comm == name)
        .map(|(pid, _)| pid))
}

/// Resident set size, in MiB.
fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kib / 1024.0)
}
