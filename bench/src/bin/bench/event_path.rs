//! The event path as the topic grows: creates at 1 and 32 connections and
//! the event pipeline with 0, 100,000 and 1,000,000 events already in the
//! topic; the Kafka broker's share of the CPU and its memory at the largest
//! size; a burst of creates and how soon the audit log catches up; and the
//! time from a SIGKILL of the broker to the first event delivered after it
//! started again.

use std::time::{Duration, Instant};

use bench::measure::cpu::{CpuSnapshot, shares};
use bench::measure::load::{WrkRun, wrk};
use bench::measure::pipeline::{PipelineRun, event_pipeline};
use bench::measure::relay_log::RelayLog;
use bench::results::{Burst, EventPath, EventPathRow, KilledUnderLoad};
use bench::stats::Summary;
use cloudevents::{EventBuilder, EventBuilderV10};
use futures::StreamExt;
use local_broker::kafka::{KeyedRecord, broker_topic, producer_config};
use local_stack::admin::{Action, AdminClient};
use rdkafka::producer::FutureProducer;
use rdkafka::util::Timeout;
use servers::kafka::NISSHI_VERSION;

use crate::{Bench, back_to_seeded, pipeline, say};

/// The topic sizes measured.
pub const TOPIC_SIZES: [u64; 3] = [0, 100_000, 1_000_000];
/// The burst: creates at this many connections for this long.
const BURST: (u32, u32) = (32, 10);

pub async fn measure(bench: &Bench) -> anyhow::Result<EventPath> {
    back_to_seeded(bench).await?;
    warm_up(bench).await?;
    let mut by_topic_size = Vec::new();
    let mut filled = 0;
    let mut kafka_cpu_share = 0.0;
    for size in TOPIC_SIZES {
        fill(bench, size - filled).await?;
        filled = size;
        settled(bench).await?;
        let create = |connections| async move {
            let mut runs = Vec::new();
            for _ in 0..bench.runs {
                runs.push(
                    creates(bench, connections, bench.seconds)
                        .await?
                        .requests_per_second,
                );
                caught_up(bench, Duration::from_secs(120)).await?;
            }
            anyhow::Ok(Summary::of(&runs))
        };
        let create_c1 = create(1).await?;
        let before = CpuSnapshot::take()?;
        let create_c32 = create(32).await?;
        let spent = before.spent_until(&CpuSnapshot::take()?, "wrk");
        kafka_cpu_share = shares(&spent)
            .iter()
            .filter(|(process, _)| process.starts_with("nisshi"))
            .map(|(_, share)| share)
            .sum();
        // The median of several runs is what compares across topic sizes.
        settled(bench).await?;
        let runs = pipeline::steady_runs(bench).await?;
        let summary =
            |of: fn(&PipelineRun) -> f64| Summary::of(&runs.iter().map(of).collect::<Vec<_>>());
        let (p50, p99) = (summary(|r| r.p50_ms), summary(|r| r.p99_ms));
        say(&format!(
            "event path, {size} events in the topic: creates c=1 {} c=32 {} req/s, pipeline p50 {} ms p99 {} ms; Kafka {:.0}% of the CPU at c=32",
            create_c1.show(0),
            create_c32.show(0),
            p50.show(1),
            p99.show(1),
            kafka_cpu_share * 100.0
        ));
        by_topic_size.push(EventPathRow {
            events_in_topic: size,
            create_c1,
            create_c32,
            pipeline_p50_ms: p50.median,
            pipeline_p99_ms: p99.median,
            pipeline_runs: Some(p50.runs),
        });
        back_to_seeded(bench).await?;
    }
    let kafka_rss_mib = nisshi_rss_mib()?;
    let burst = burst(bench).await?;
    say(&format!(
        "burst of {} s at c={}: {} creates, audit log caught up {:.1} s after the last, {} left to the relay",
        burst.seconds, burst.connections, burst.creates, burst.caught_up_s, burst.left_to_relay
    ));
    let kill_to_first_delivery_ms = killed(bench).await?;
    say(&format!(
        "Kafka killed: first event delivered {kill_to_first_delivery_ms:.0} ms after the SIGKILL"
    ));
    let killed_under_load = killed_under_load(bench).await?;
    say(&format!(
        "Kafka killed under load: {} creates acknowledged, {} audited once, {} duplicated, {} lost; the relay sent {} the functions left it and {} again",
        killed_under_load.acknowledged,
        killed_under_load.audited_once,
        killed_under_load.duplicated,
        killed_under_load.lost,
        killed_under_load.left_to_relay,
        killed_under_load.resent_by_relay
    ));
    Ok(EventPath {
        broker: format!("nisshi {NISSHI_VERSION}, PostgreSQL storage"),
        by_topic_size,
        kafka_cpu_share,
        kafka_rss_mib,
        burst,
        kill_to_first_delivery_ms,
        killed_under_load: Some(killed_under_load),
    })
}

/// Creates for a while, not measured: the first row would otherwise also
/// measure a stack that has just started (its first autovacuum of the new
/// tables, cold caches). It read p99 414 ms at 0 events against 57 ms at
/// 100,000 in one run.
async fn warm_up(bench: &Bench) -> anyhow::Result<()> {
    say("event path: warming up (creates at 32 connections, not measured)");
    creates(bench, 32, bench.seconds * 2).await?;
    caught_up(bench, Duration::from_secs(120)).await?;
    back_to_seeded(bench).await
}

/// Creates for `seconds` at `connections`, straight to create-task.
async fn creates(bench: &Bench, connections: u32, seconds: u32) -> anyhow::Result<WrkRun> {
    let (name, value) = bench.authorization().await?;
    wrk(
        &format!("{}/api/tasks", bench.stack.functions["create-task"]),
        connections,
        seconds,
        Some(&bench.scripts.join("post-task.lua")),
        &[(name, &value)],
    )
}

/// Adds `count` events to the broker's topic that no Trigger takes (type
/// `bench.filler`), then waits until the dispatcher has read past them.
async fn fill(bench: &Bench, count: u64) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    say(&format!("event path: adding {count} events to the topic"));
    let started = Instant::now();
    let producer: FutureProducer =
        producer_config(&bench.stack.kafka_bootstrap, Duration::from_secs(60)).create()?;
    let topic = broker_topic("task-app", "task-events");
    let description = "filler ".repeat(60);
    futures::stream::iter(0..count)
        .map(|n| {
            let (producer, topic) = (&producer, &topic);
            let event = EventBuilderV10::new()
                .id(format!("filler-{n}"))
                .source("/bench/event-path")
                .ty("bench.filler")
                .data(
                    "application/json",
                    serde_json::json!({"n": n, "description": description}),
                )
                .build();
            async move {
                let record = KeyedRecord::of(event?)?;
                producer
                    .send(record.to(topic), Timeout::After(Duration::from_secs(60)))
                    .await
                    .map_err(|(err, _)| anyhow::anyhow!("filler not stored: {err}"))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(2_000)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<()>>()?;
    say(&format!(
        "event path: {count} events stored in {:.0} s; waiting for the dispatcher to read past them",
        started.elapsed().as_secs_f64()
    ));
    // One create after them: its audit row means the dispatcher got past
    // every filler (one partition, read in order).
    let client = bench.client().await?;
    client
        .post(format!("{}/api/tasks", bench.stack.gateway_url))
        .json(&serde_json::json!({"title": "after the fillers"}))
        .send()
        .await?
        .error_for_status()?;
    caught_up(bench, Duration::from_secs(600)).await
}

/// Waits until PostgreSQL's autovacuum has been idle for two seconds. A
/// vacuum of the table the fill or the creates just grew (nisshi's headers
/// reach 7 million rows at 1,000,000 events) can take one of the two cores
/// for a long while: a row measured beside it would measure that vacuum
/// too, not only the topic's size. (Without this wait one run's 100,000 row
/// read a pipeline p50 34% over the others'; why, I did not measure.)
async fn settled(bench: &Bench) -> anyhow::Result<()> {
    const QUIET: Duration = Duration::from_secs(2);
    const LIMIT: Duration = Duration::from_secs(300);
    let start = Instant::now();
    let mut quiet_since = Instant::now();
    while start.elapsed() < LIMIT {
        let vacuuming: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
        )
        .fetch_one(&bench.pool)
        .await?;
        if vacuuming > 0 {
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= QUIET {
            let waited = start.elapsed().saturating_sub(QUIET);
            if waited > Duration::from_secs(1) {
                say(&format!(
                    "event path: waited {:.0} s for autovacuum to finish",
                    waited.as_secs_f64()
                ));
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    say("event path: autovacuum still busy after 5 minutes; measuring anyway");
    Ok(())
}

/// Waits until every task's creation is in the audit log.
async fn caught_up(bench: &Bench, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if unaudited(bench).await? == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the audit log did not catch up within {limit:?}")
}

async fn unaudited(bench: &Bench) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM tasks t WHERE t.id > $1 AND NOT EXISTS \
         (SELECT 1 FROM task_audit_log a WHERE a.task_id = t.id AND a.event_type = 'task.created')",
    )
    .bind(bench.seeded)
    .fetch_one(&bench.pool)
    .await?)
}

/// Creates at [`BURST`], then how long after the last the audit log holds
/// them all, and how many the write function left to the relay.
pub async fn burst(bench: &Bench) -> anyhow::Result<Burst> {
    back_to_seeded(bench).await?;
    let (connections, seconds) = BURST;
    let relay_log = RelayLog(Some(bench.root.join("target/bench/bench-stack.log")));
    let relayed_before = relay_log.total("sent");
    creates(bench, connections, seconds).await?;
    let ended = Instant::now();
    caught_up(bench, Duration::from_secs(300)).await?;
    let caught_up_s = ended.elapsed().as_secs_f64();
    // The relay's next run may still be logging what it sent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let left_to_relay = relay_log.total("sent") - relayed_before;
    let creates: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks WHERE id > $1")
        .bind(bench.seeded)
        .fetch_one(&bench.pool)
        .await?;
    Ok(Burst {
        connections,
        seconds,
        creates: creates as u64,
        caught_up_s,
        left_to_relay,
    })
}

/// Kills the broker (SIGKILL), starts it again, and creates a task every
/// 100 ms: the time from the kill to the first audit row written after it.
async fn killed(bench: &Bench) -> anyhow::Result<f64> {
    let admin = AdminClient::new(&bench.stack);
    let client = bench.client().await?;
    let since: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&bench.pool)
        .await?;
    let start = Instant::now();
    admin
        .act("kafka", Action::Kill)
        .await
        .map_err(anyhow::Error::msg)?;
    admin
        .act("kafka", Action::Start)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut last_post = Instant::now() - Duration::from_secs(1);
    while start.elapsed() < Duration::from_secs(120) {
        if last_post.elapsed() >= Duration::from_millis(100) {
            last_post = Instant::now();
            let (client, url) = (
                client.clone(),
                format!("{}/api/tasks", bench.stack.gateway_url),
            );
            tokio::spawn(async move {
                let _ = client
                    .post(url)
                    .json(&serde_json::json!({"title": "after the kill"}))
                    .send()
                    .await;
            });
        }
        let delivered: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT min(processed_at) FROM task_audit_log WHERE processed_at > $1",
        )
        .bind(since)
        .fetch_one(&bench.pool)
        .await?;
        if let Some(at) = delivered {
            return Ok((at - since).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("no event was delivered within 2 minutes of the kill")
}

/// Creates at a steady rate through the gateway; a third of the way in,
/// the broker is killed (SIGKILL) and started again at once. Then a wait
/// for every create's audit row, past the relay's grace if one is missing,
/// and the count of what became of them.
async fn killed_under_load(bench: &Bench) -> anyhow::Result<KilledUnderLoad> {
    const RATE: u32 = 100;
    const SECONDS: u32 = 9;
    back_to_seeded(bench).await?;
    let relay_log = RelayLog(Some(bench.root.join("target/bench/bench-stack.log")));
    let (sent_before, requeued_before) = (relay_log.total("sent"), relay_log.total("requeued"));
    let admin = AdminClient::new(&bench.stack);
    let client = bench.client().await?;
    let kill = async {
        tokio::time::sleep(Duration::from_secs((SECONDS / 3).into())).await;
        admin.act("kafka", Action::Kill).await?;
        admin.act("kafka", Action::Start).await
    };
    let (load, killed) = tokio::join!(
        event_pipeline(
            &client,
            &bench.stack.gateway_url,
            &bench.pool,
            RATE,
            SECONDS
        ),
        kill
    );
    killed.map_err(anyhow::Error::msg)?;
    let acknowledged = load?.writes as u64;
    // The local stack's grace is a minute: an event the broker lost would
    // be sent again within it and the relay's next run.
    if caught_up(bench, Duration::from_secs(150)).await.is_err() {
        say("Kafka killed under load: some creates were never audited");
    }
    // The relay's next run may still be logging what it sent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (audited_once, duplicated, lost): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE rows = 1), coalesce(sum(rows - 1) FILTER (WHERE rows > 1), 0)::bigint, \
                count(*) FILTER (WHERE rows = 0) \
         FROM (SELECT (SELECT count(*) FROM task_audit_log a \
                       WHERE a.task_id = t.id AND a.event_type = 'task.created') AS rows \
               FROM tasks t WHERE t.id > $1) AS per_task",
    )
    .bind(bench.seeded)
    .fetch_one(&bench.pool)
    .await?;
    // A requeued event is sent again by the relay: what it sent beyond
    // those are the events the functions left it.
    let resent_by_relay = relay_log.total("requeued") - requeued_before;
    Ok(KilledUnderLoad {
        acknowledged,
        audited_once: audited_once as u64,
        duplicated: duplicated as u64,
        lost: lost as u64,
        left_to_relay: (relay_log.total("sent") - sent_before).saturating_sub(resent_by_relay),
        resent_by_relay,
        seconds: SECONDS,
    })
}

/// The resident memory of the stack's nisshi.
fn nisshi_rss_mib() -> anyhow::Result<f64> {
    for entry in std::fs::read_dir("/proc")?.filter_map(Result::ok) {
        let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        if comm.trim() != "nisshi" {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status"))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        return Ok(kib / 1024.0);
    }
    anyhow::bail!("no nisshi process found")
}
