//! The event pipeline at a steady 200 writes/s (measured before the loads
//! of the throughput section leave a backlog of events), the audit ingest
//! rate beside pgbench, and the outbox under steady load.

use std::time::Duration;

use bench::measure::load::{pgbench, wrk};
use bench::measure::outbox::{OutboxUnderLoad, outbox_under_load};
use bench::measure::pipeline::{PipelineRun, event_pipeline};
use bench::results::EventPipeline;
use bench::stats::Summary;

use crate::{Bench, OUTBOX_RETENTION, say};

/// `bench.runs` runs of the event pipeline at a steady 200 creates/s for
/// 10 s each (a run's p50 varies by half between runs on two cores).
pub async fn steady_runs(bench: &Bench) -> anyhow::Result<Vec<PipelineRun>> {
    let mut runs = Vec::new();
    for _ in 0..bench.runs {
        let client = bench.client().await?;
        let run = event_pipeline(&client, &bench.stack.gateway_url, &bench.pool, 200, 10).await?;
        say(&format!(
            "event pipeline: {} of {} arrived, p50 {:.1} ms, p99 {:.1} ms",
            run.arrived, run.writes, run.p50_ms, run.p99_ms
        ));
        runs.push(run);
    }
    Ok(runs)
}

/// The event pipeline with the audit ingest, and the outbox under load.
pub async fn measure(bench: &Bench) -> anyhow::Result<(EventPipeline, OutboxUnderLoad)> {
    let scripts = &bench.scripts;
    let pipeline = steady_runs(bench).await?;
    // The audit function is reached by the broker's Trigger, without a token.
    let ingest: Vec<f64> = (0..bench.runs)
        .map(|_| {
            wrk(
                &format!("{}/", bench.stack.functions["audit"]),
                8,
                bench.seconds,
                Some(&scripts.join("post-event.lua")),
                &[],
            )
        })
        .map(|r| r.map(|r| r.requests_per_second))
        .collect::<anyhow::Result<_>>()?;
    let ingest_limit: Vec<f64> = (0..bench.runs)
        .map(|_| {
            pgbench(
                &bench.pg_bin,
                &bench.stack.database_url,
                &scripts.join("audit-insert.sql"),
                8,
                bench.seconds,
                &[],
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
    let pipeline = EventPipeline {
        audit_ingest_per_second: ingest,
        audit_ingest_ratio: ingest.median / ingest_limit.median,
        p50_ms: Summary::of(&pipeline.iter().map(|r| r.p50_ms).collect::<Vec<_>>()),
        p99_ms: Summary::of(&pipeline.iter().map(|r| r.p99_ms).collect::<Vec<_>>()),
        pgbench_insert_tps: ingest_limit,
        runs: pipeline,
        writes_per_second: 200,
    };

    // The outbox stays flat under steady load: the relay prunes what has
    // been audited for longer than the retention period.
    let outbox = outbox_under_load(
        &bench.client().await?,
        &bench.stack.gateway_url,
        &bench.pool,
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
    Ok((pipeline, outbox))
}
