//! Throughput, latency and CPU per request of a read and a write route, by
//! the function and through the gateway, beside the database's own limit
//! for the same SQL (pgbench).

use std::collections::BTreeMap;
use std::time::Duration;

use bench::measure::cpu::{CpuSnapshot, shares};
use bench::measure::load::{pgbench, wrk};
use bench::results::{CpuShare, ThroughputRow};
use bench::stats::Summary;
use task_core::routes::FUNCTIONS;

use crate::{Bench, CONNECTIONS, back_to_seeded, say};

pub async fn measure(bench: &Bench) -> anyhow::Result<Vec<ThroughputRow>> {
    back_to_seeded(bench).await?;
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
            Some(bench.scripts.join("post-task.lua")),
            "create-task.sql",
        ),
    ];
    let mut load = Vec::new();
    for (route, function, path, script, sql) in &routes {
        for connections in CONNECTIONS {
            let limit: Vec<f64> = (0..bench.runs)
                .map(|_| {
                    pgbench(
                        &bench.pg_bin,
                        &bench.stack.database_url,
                        &bench.scripts.join(sql),
                        connections,
                        bench.seconds,
                        &[("owner", &bench.sub)],
                    )
                })
                .map(|run| run.map(|r| r.transactions_per_second))
                .collect::<anyhow::Result<_>>()?;
            let limit = Summary::of(&limit);
            for (target, base) in [
                ("function", bench.stack.functions[*function].clone()),
                ("gateway", bench.stack.gateway_url.clone()),
            ] {
                let before = CpuSnapshot::take()?;
                let mut runs = Vec::new();
                for _ in 0..bench.runs {
                    let (name, value) = bench.authorization().await?;
                    runs.push(wrk(
                        &format!("{base}{path}"),
                        connections,
                        bench.seconds,
                        script.as_deref(),
                        &[(name, &value)],
                    )?);
                }
                // A write is done once its event is in the audit log: the
                // CPU of the whole path counts, after the load too.
                if script.is_some() {
                    settle_events(&bench.pool).await?;
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
                    .map(|r| r.requests_per_second * f64::from(bench.seconds))
                    .sum();
                let per_request = cpu_per_request(&spent, served);
                let ratio = rps.median / limit.median;
                say(&format!(
                    "{route:<24} {target:<8} c={connections:<2} {} req/s  p50 {} ms  p99 {} ms  limit {} tps  ratio {ratio:.2}  non-2xx {errors}",
                    rps.show(0),
                    p50.show(2),
                    p99.show(2),
                    limit.show(0)
                ));
                load.push(ThroughputRow {
                    connections,
                    cpu_ms_per_request: Some(per_request.total_ms),
                    cpu_ms_per_request_by_process: Some(per_request.by_process),
                    cpu_share: cpu
                        .into_iter()
                        .map(|(process, share)| CpuShare { process, share })
                        .collect(),
                    limit_tps: limit,
                    non_2xx: errors,
                    p50_ms: p50,
                    p99_ms: p99,
                    ratio,
                    requests_per_second: rps,
                    route: route.to_string(),
                    target: target.to_string(),
                });
            }
        }
    }
    Ok(load)
}

/// Waits (up to a minute) until every event is in the audit log.
/// How long the events of a write load may take to reach the audit log:
/// after creates at 32 connections most wait for the relay, and the local
/// broker then needs about a minute (see local/broker/README.md).
const SETTLE_LIMIT: Duration = Duration::from_secs(300);

async fn settle_events(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    while start.elapsed() < SETTLE_LIMIT {
        let status = task_events::outbox::Outbox::status(pool).await?;
        if status.unsent == 0 && status.unaudited == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the events of the load did not all reach the audit log within {SETTLE_LIMIT:?}")
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
                "nisshi",
                "nisshi storage",
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
