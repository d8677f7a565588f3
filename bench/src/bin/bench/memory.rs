//! Memory of each function, idle and after 10,000 requests of its own kind
//! (in a new process each run); the sizes of the binaries and the images.

use std::collections::BTreeMap;
use std::time::Duration;

use bench::measure::process::FunctionProcess;
use bench::results::FunctionMemory;
use bench::stats::Summary;
use futures::StreamExt;
use serde_json::json;
use task_core::routes::{FUNCTIONS, needs_sign_in};

use crate::{Bench, back_to_seeded, say};

/// The memory section's three parts of the results.
pub struct Memory {
    pub memory: BTreeMap<String, FunctionMemory>,
    pub binary_bytes: BTreeMap<String, u64>,
    pub image_sizes: BTreeMap<String, String>,
}

pub async fn measure(bench: &Bench) -> anyhow::Result<Memory> {
    back_to_seeded(bench).await?;
    let mut memory = BTreeMap::new();
    for function in FUNCTIONS {
        let (mut idle, mut loaded, mut failed) = (Vec::new(), Vec::new(), 0);
        for _ in 0..bench.runs {
            let process = FunctionProcess::spawn(&bench.release, function, &bench.stack)?;
            process.wait_healthy(std::time::Instant::now(), Duration::from_secs(20))?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            idle.push(process.rss_mib()?);
            failed += hammer(bench, function, process.port, 10_000).await?;
            loaded.push(process.rss_mib()?);
        }
        let (idle, loaded) = (Summary::of(&idle), Summary::of(&loaded));
        say(&format!(
            "memory {function:<13} idle {} MiB, after 10,000 requests {} MiB ({failed} failed)",
            idle.show(1),
            loaded.show(1)
        ));
        memory.insert(
            function.to_string(),
            FunctionMemory {
                after_load_mib: loaded,
                failed_requests: failed,
                idle_mib: idle,
            },
        );
    }
    let mut binaries = BTreeMap::new();
    for function in FUNCTIONS {
        binaries.insert(
            function.to_string(),
            std::fs::metadata(bench.release.join(function))?.len(),
        );
    }
    Ok(Memory {
        memory,
        binary_bytes: binaries,
        image_sizes: image_sizes(),
    })
}

/// `count` requests of the function's own kind, 8 at a time, as the bench's
/// user to a function of signed-in routes (on that user's tasks); returns
/// how many failed.
async fn hammer(bench: &Bench, function: &str, port: u16, count: usize) -> anyhow::Result<usize> {
    let base = format!("http://127.0.0.1:{port}");
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM tasks WHERE owner = $2 ORDER BY id DESC LIMIT $1")
            .bind(count as i64)
            .bind(&bench.sub)
            .fetch_all(&bench.pool)
            .await?;
    // The audit, the relay and /health are reached without a token.
    let client = if needs_sign_in(function) {
        bench.client().await?
    } else {
        reqwest::Client::new()
    };
    let event = json!({
        "specversion": "1.0", "id": "memory", "type": "task.created", "source": "/bench", "subject": "1",
        "datacontenttype": "application/json",
        "data": {"id": 1, "title": "t", "description": null, "status": "pending",
                 "created_at": "2026-11-24T06:00:00Z", "updated_at": "2026-11-24T06:00:00Z", "version": 1},
    });
    let requests = (0..count).map(|i| {
        let id = ids[i % ids.len()];
        let request = match function {
            "list-tasks" => client.get(format!("{base}/api/tasks?limit=50")),
            "count-tasks" => client.get(format!("{base}/api/task-counts")),
            "create-task" => client
                .post(format!("{base}/api/tasks"))
                .json(&json!({"title": "memory"})),
            "get-task" => client.get(format!("{base}/api/tasks/{id}")),
            "update-task" => client
                .put(format!("{base}/api/tasks/{id}"))
                .json(&json!({"title": format!("memory {i}")})),
            "delete-task" => client.delete(format!("{base}/api/tasks/{id}")),
            "task-history" => client.get(format!("{base}/api/tasks/{id}/history")),
            "audit" | "task-stream" => client
                .post(format!("{base}/"))
                .header("content-type", "application/cloudevents+json")
                .body(event.to_string()),
            "outbox-relay" => client.post(format!("{base}/")),
            _ => client.get(format!("{base}/health")),
        };
        async move {
            request
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }
    });
    let results: Vec<bool> = futures::stream::iter(requests)
        .buffer_unordered(8)
        .collect()
        .await;
    Ok(results.iter().filter(|ok| !**ok).count())
}

/// Sizes of the images `task images` built, if it ran.
fn image_sizes() -> BTreeMap<String, String> {
    let output = std::process::Command::new("buildah")
        .args([
            "--storage-driver",
            "vfs",
            "images",
            "--format",
            "{{.Name}}:{{.Tag}} {{.Size}}",
        ])
        .output();
    let Ok(output) = output else {
        return BTreeMap::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.contains("task-app/"))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, size)| {
            (
                name.rsplit('/').next().unwrap_or(name).to_string(),
                size.trim().to_string(),
            )
        })
        .collect()
}
