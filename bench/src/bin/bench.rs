//! `bench`: speed and memory of the functions on the local stack (release
//! builds), each figure the median and spread of repeated runs, beside the
//! limit the database alone reaches with the same SQL (pgbench). Writes
//! bench/results.json and bench/results.md.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bench::measure::cpu::{CpuSnapshot, shares};
use bench::measure::load::{pgbench, wrk};
use bench::measure::outbox::outbox_under_load;
use bench::measure::pipeline::event_pipeline;
use bench::measure::process::{FunctionProcess, cold_starts};
use bench::measure::scale::{ScaleData, ScaleRow};
use bench::measure::web;
use bench::stats::Summary;
use bench::{repository, stack_launch};
use clap::Parser;
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use task_core::routes::FUNCTIONS;

#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Repetitions of each load measurement.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds of each load run.
    #[arg(long, default_value_t = 5)]
    seconds: u32,
    /// Starts measured per function for the cold start.
    #[arg(long, default_value_t = 20)]
    starts: usize,
    /// Rows in the table for the list benchmark.
    #[arg(long, default_value_t = 10_000)]
    rows: i64,
    /// The large table of the scale section (measured beside 10,000 tasks).
    #[arg(long, default_value_t = 1_000_000)]
    scale_tasks: i64,
    /// Only the scale section, printed (bench/results.* are left as they are).
    #[arg(long)]
    only_scale: bool,
}

const CONNECTIONS: [u32; 3] = [1, 8, 32];
/// How long the bench stack keeps audited outbox rows (7 days by default):
/// short enough to see the outbox stay flat within a minute of load.
const OUTBOX_RETENTION: Duration = Duration::from_secs(10);

fn say(message: &str) {
    println!("bench | {message}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = repository();
    let release = root.join("target/release");
    let pg_bin = servers::postgres::find_bin_dir()?;
    say("starting the local stack from the release build (log: target/bench/bench-stack.log)");
    let mut launch = stack_launch("release", Duration::from_secs(2), "bench-stack.log")?;
    launch.env = vec![(
        "OUTBOX_RETENTION_MS".into(),
        OUTBOX_RETENTION.as_millis().to_string(),
    )];
    let running = launch.start().map_err(anyhow::Error::msg)?;
    let stack = running.stack.clone();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&stack.database_url)
        .await?;
    sqlx::query("INSERT INTO tasks (title, description) SELECT 'seeded ' || n, 'for the list benchmark' FROM generate_series(1, $1) AS n")
        .bind(args.rows)
        .execute(&pool)
        .await?;
    say(&format!("{} tasks in the table", args.rows));
    let seeded: i64 = sqlx::query_scalar("SELECT max(id) FROM tasks")
        .fetch_one(&pool)
        .await?;

    if args.only_scale {
        let scale = scale(&stack.gateway_url, &pool, args.scale_tasks).await?;
        println!("{}", serde_json::to_string_pretty(&scale)?);
        return Ok(());
    }
    let mut results = serde_json::Map::new();
    results.insert("machine".into(), machine(&root)?);

    // 1. Cold start.
    let mut cold = BTreeMap::new();
    for function in FUNCTIONS {
        let times = cold_starts(&release, function, &stack, args.starts)?;
        let summary = Summary::of(&times);
        say(&format!("cold start {function:<13} {} ms", summary.show(1)));
        cold.insert(function.to_string(), summary);
    }
    results.insert("cold_start_ms".into(), json!(cold));

    // 2. The event pipeline at a steady 200 writes/s (measured before the
    // loads below leave a backlog of events), and the audit ingest rate.
    let scripts = root.join("bench/scripts");
    let mut pipeline = Vec::new();
    for _ in 0..args.runs {
        let run = event_pipeline(&stack.gateway_url, &pool, 200, 10).await?;
        say(&format!(
            "event pipeline: {} of {} arrived, p50 {:.1} ms, p99 {:.1} ms",
            run.arrived, run.writes, run.p50_ms, run.p99_ms
        ));
        pipeline.push(run);
    }
    let ingest: Vec<f64> = (0..args.runs)
        .map(|_| {
            wrk(
                &format!("{}/", stack.functions["audit"]),
                8,
                args.seconds,
                Some(&scripts.join("post-event.lua")),
            )
        })
        .map(|r| r.map(|r| r.requests_per_second))
        .collect::<anyhow::Result<_>>()?;
    let ingest_limit: Vec<f64> = (0..args.runs)
        .map(|_| {
            pgbench(
                &pg_bin,
                &stack.database_url,
                &scripts.join("audit-insert.sql"),
                8,
                args.seconds,
            )
        })
        .map(|r| r.map(|r| r.transactions_per_second))
        .collect::<anyhow::Result<_>>()?;
    let (ingest, ingest_limit) = (Summary::of(&ingest), Summary::of(&ingest_limit));
    say(&format!(
        "audit ingest c=8: {} events/s, pgbench single-row insert {} tps, ratio {:.2}",
        ingest.show(0),
        ingest_limit.show(0),
        ingest.median / ingest_limit.median
    ));
    results.insert(
        "event_pipeline".into(),
        json!({
            "writes_per_second": 200,
            "p50_ms": Summary::of(&pipeline.iter().map(|r| r.p50_ms).collect::<Vec<_>>()),
            "p99_ms": Summary::of(&pipeline.iter().map(|r| r.p99_ms).collect::<Vec<_>>()),
            "runs": pipeline,
            "audit_ingest_per_second": ingest,
            "pgbench_insert_tps": ingest_limit,
            "audit_ingest_ratio": ingest.median / ingest_limit.median,
        }),
    );

    // The outbox stays flat under steady load: the relay prunes what has
    // been audited for longer than the retention period.
    let outbox = outbox_under_load(
        &stack.gateway_url,
        &pool,
        200,
        60,
        Duration::from_secs(10),
        OUTBOX_RETENTION,
    )
    .await?;
    say(&format!(
        "outbox under 200 creates/s: rows {:?} ({} written)",
        outbox.samples, outbox.written
    ));
    results.insert("outbox_under_load".into(), json!(outbox));

    // 3. Throughput and latency, beside the database's own limit.
    back_to_seeded(&pool, seeded).await?;
    let routes = [
        (
            "GET /api/tasks?limit=50",
            "list-tasks",
            "/api/tasks?limit=50",
            None,
            "list-tasks.sql",
        ),
        (
            "POST /api/tasks",
            "create-task",
            "/api/tasks",
            Some(scripts.join("post-task.lua")),
            "create-task.sql",
        ),
    ];
    let mut load = Vec::new();
    for (route, function, path, script, sql) in &routes {
        for connections in CONNECTIONS {
            let limit: Vec<f64> = (0..args.runs)
                .map(|_| {
                    pgbench(
                        &pg_bin,
                        &stack.database_url,
                        &scripts.join(sql),
                        connections,
                        args.seconds,
                    )
                })
                .map(|run| run.map(|r| r.transactions_per_second))
                .collect::<anyhow::Result<_>>()?;
            let limit = Summary::of(&limit);
            for (target, base) in [
                ("function", stack.functions[*function].clone()),
                ("gateway", stack.gateway_url.clone()),
            ] {
                let before = CpuSnapshot::take()?;
                let runs: Vec<_> = (0..args.runs)
                    .map(|_| {
                        wrk(
                            &format!("{base}{path}"),
                            connections,
                            args.seconds,
                            script.as_deref(),
                        )
                    })
                    .collect::<anyhow::Result<_>>()?;
                // A write is done once its event is in the audit log: the
                // CPU of the whole path counts, after the load too.
                if script.is_some() {
                    settle_events(&pool).await?;
                }
                let spent = before.spent_until(&CpuSnapshot::take()?, "wrk");
                let cpu = shares(&spent);
                let rps = Summary::of(
                    &runs
                        .iter()
                        .map(|r| r.requests_per_second)
                        .collect::<Vec<_>>(),
                );
                let p50 = Summary::of(&runs.iter().map(|r| r.p50_ms).collect::<Vec<_>>());
                let p99 = Summary::of(&runs.iter().map(|r| r.p99_ms).collect::<Vec<_>>());
                let errors: u64 = runs.iter().map(|r| r.non_2xx).sum();
                let served: f64 = runs
                    .iter()
                    .map(|r| r.requests_per_second * f64::from(args.seconds))
                    .sum();
                let per_request = cpu_per_request(&spent, served);
                let ratio = rps.median / limit.median;
                say(&format!(
                    "{route:<24} {target:<8} c={connections:<2} {} req/s  p50 {} ms  p99 {} ms  limit {} tps  ratio {ratio:.2}",
                    rps.show(0),
                    p50.show(2),
                    p99.show(2),
                    limit.show(0)
                ));
                load.push(json!({
                    "route": route, "target": target, "connections": connections,
                    "requests_per_second": rps, "p50_ms": p50, "p99_ms": p99,
                    "non_2xx": errors, "limit_tps": limit, "ratio": ratio,
                    "cpu_ms_per_request": per_request.total_ms,
                    "cpu_ms_per_request_by_process": per_request.by_process,
                    "cpu_share": cpu.iter().map(|(name, share)| json!({"process": name, "share": share})).collect::<Vec<_>>(),
                }));
            }
        }
    }
    results.insert("throughput".into(), json!(load));

    // 4. Memory, idle and after 10,000 requests; binary and image sizes.
    back_to_seeded(&pool, seeded).await?;
    let mut memory = BTreeMap::new();
    for function in FUNCTIONS {
        let (mut idle, mut loaded, mut failed) = (Vec::new(), Vec::new(), 0);
        for _ in 0..args.runs {
            let process = FunctionProcess::spawn(&release, function, &stack)?;
            process.wait_healthy(std::time::Instant::now(), Duration::from_secs(20))?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            idle.push(process.rss_mib()?);
            failed += hammer(function, process.port, 10_000, &pool).await?;
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
            json!({"idle_mib": idle, "after_load_mib": loaded, "failed_requests": failed}),
        );
    }
    results.insert("memory".into(), json!(memory));
    let mut binaries = BTreeMap::new();
    for function in FUNCTIONS {
        binaries.insert(
            function.to_string(),
            std::fs::metadata(release.join(function))?.len(),
        );
    }
    results.insert("binary_bytes".into(), json!(binaries));
    results.insert("image_sizes".into(), json!(image_sizes()));

    // 5. The web app.
    let dist = root.join("web/dist");
    let (wasm_raw, wasm_gzip) = web::sizes(&dist, ".wasm")?;
    let (js_raw, js_gzip) = web::sizes(&dist, ".js")?;
    let render = Summary::of(&web::first_render(
        &root.join("web"),
        &format!("{}/", stack.gateway_url),
        5,
    )?);
    say(&format!(
        "web: wasm {wasm_raw} B ({wasm_gzip} gzip), js {js_raw} B ({js_gzip} gzip), first task list {} ms",
        render.show(0)
    ));
    results.insert("web".into(), json!({
        "wasm_bytes": wasm_raw, "wasm_gzip_bytes": wasm_gzip, "js_bytes": js_raw, "js_gzip_bytes": js_gzip,
        "first_task_list_ms": render,
    }));

    // 6. Cost as the data grows: last, as it replaces the table.
    let scale = scale(&stack.gateway_url, &pool, args.scale_tasks).await?;
    results.insert("scale".into(), json!(scale));

    let results = Value::Object(results);
    let out = root.join("bench");
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&results)? + "\n",
    )?;
    std::fs::write(out.join("results.md"), bench::report::markdown(&results))?;
    say("wrote bench/results.json and bench/results.md");
    Ok(())
}

/// Waits (up to a minute) until every event is in the audit log.
async fn settle_events(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let status = task_events::outbox::Outbox::status(pool).await?;
        if status.unsent == 0 && status.unaudited == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the events of the load did not all reach the audit log within a minute")
}

/// The CPU every process of the stack spent per request served (the load
/// tool and unrelated processes left out): one number for the whole path of
/// a request, that does not depend on how busy the machine was.
struct PerRequest {
    total_ms: f64,
    by_process: BTreeMap<String, f64>,
}

fn cpu_per_request(spent: &BTreeMap<String, f64>, served: f64) -> PerRequest {
    let stack = |name: &str| {
        FUNCTIONS.contains(&name)
            || [
                "postgres",
                "tansu",
                "broker receiver",
                "broker dispatcher",
                "nginx",
            ]
            .contains(&name)
    };
    let by_process: BTreeMap<String, f64> = spent
        .iter()
        .filter(|(name, _)| stack(name))
        .map(|(name, seconds)| (name.clone(), seconds * 1000.0 / served.max(1.0)))
        .collect();
    PerRequest {
        total_ms: by_process.values().sum(),
        by_process,
    }
}

/// Every read route and a create at 10,000 tasks, then at `large` tasks.
async fn scale(gateway: &str, pool: &sqlx::PgPool, large: i64) -> anyhow::Result<Vec<ScaleRow>> {
    let small = 10_000;
    say(&format!(
        "scale: {small} tasks and a history of 20,000 entries"
    ));
    let data = ScaleData::start(pool, small).await?;
    let mut rows = data.measure(gateway, pool).await?;
    say(&format!("scale: growing the table to {large} tasks"));
    data.grow(pool, small, large).await?;
    rows.extend(data.measure(gateway, pool).await?);
    Ok(rows)
}

/// Removes the tasks the measurements before added: each measurement starts
/// from the seeded rows (and counting does not scan what earlier loads left).
async fn back_to_seeded(pool: &sqlx::PgPool, seeded: i64) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM tasks WHERE id > $1")
        .bind(seeded)
        .execute(pool)
        .await?;
    sqlx::query("VACUUM ANALYZE tasks").execute(pool).await?;
    Ok(())
}

/// 10,000 requests of the function's own kind, 8 at a time; returns how many failed.
async fn hammer(
    function: &str,
    port: u16,
    count: usize,
    pool: &sqlx::PgPool,
) -> anyhow::Result<usize> {
    let base = format!("http://127.0.0.1:{port}");
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM tasks ORDER BY id DESC LIMIT $1")
        .bind(count as i64)
        .fetch_all(pool)
        .await?;
    let client = reqwest::Client::new();
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
            "audit" => client
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

fn machine(root: &Path) -> anyhow::Result<Value> {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()?;
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default();
    Ok(json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "commit": String::from_utf8_lossy(&commit.stdout).trim(),
        "date": chrono::Utc::now().to_rfc3339(),
    }))
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
