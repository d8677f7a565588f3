//! `bench`: speed and memory of the functions on the local stack (release
//! builds), each figure the median and spread of repeated runs, beside the
//! limit the database alone reaches with the same SQL (pgbench). Writes
//! bench/results.json and bench/results.md.

mod cold_start;
mod event_path;
mod live_streams;
mod memory;
mod pipeline;
mod throughput;
mod web_app;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bench::measure::scale::{SPREAD_OWNERS, ScaleData, ScaleRow, Side, measure_side_by_side};
use bench::results::{Machine, Results};
use bench::{repository, stack_launch};
use clap::Parser;
use local_stack::launch::RunningStack;
use local_stack::stack_file::StackFile;
use local_stack::tokens::Tokens;
use sqlx::postgres::PgPoolOptions;

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
    #[arg(long, group = "only")]
    only_scale: bool,
    /// Only the event pipeline (with the audit ingest and the outbox under
    /// load), printed (bench/results.* are left as they are).
    #[arg(long, group = "only")]
    only_pipeline: bool,
    /// Only the memory of each function, printed (bench/results.* are left
    /// as they are).
    #[arg(long, group = "only")]
    only_memory: bool,
    /// Only the throughput beside pgbench, printed (bench/results.* are
    /// left as they are).
    #[arg(long, group = "only")]
    only_throughput: bool,
    /// Only the event path as the topic grows (and the broker killed),
    /// printed (bench/results.* are left as they are).
    #[arg(long, group = "only")]
    only_event_path: bool,
    /// Only the burst of creates of the event path (on an empty topic) and
    /// how soon the audit log catches up, printed (bench/results.* are left
    /// as they are).
    #[arg(long, group = "only")]
    only_burst: bool,
    /// Only the live-update streams (1,000 open through the gateway),
    /// printed (bench/results.* are left as they are).
    #[arg(long, group = "only")]
    only_live_streams: bool,
}

pub const CONNECTIONS: [u32; 3] = [1, 8, 32];
/// The demo account every request is made as (a user: it sees its own
/// tasks), and so the owner of the seeded tasks.
pub const USER: &str = "alice";
/// How long the bench stack keeps audited outbox rows (7 days by default):
/// short enough to see the outbox stay flat within a minute of load.
pub const OUTBOX_RETENTION: Duration = Duration::from_secs(10);

/// A local stack the bench started, and what its requests and queries use.
struct Started {
    /// Held while the stack is used: dropped, it stops the stack.
    running: RunningStack,
    pool: sqlx::PgPool,
    /// Tokens of [`USER`] from this stack's provider.
    tokens: Tokens,
    /// [`USER`]'s `sub` on this stack.
    sub: String,
}

/// Starts a local stack from the release build, its log in
/// `target/bench/<log>`, and connects to its database.
async fn start_stack(log: &str) -> anyhow::Result<Started> {
    say(&format!(
        "starting a local stack from the release build (log: target/bench/{log})"
    ));
    let mut launch = stack_launch("release", Duration::from_secs(2), log)?;
    launch.env = vec![(
        "OUTBOX_RETENTION_MS".into(),
        OUTBOX_RETENTION.as_millis().to_string(),
    )];
    let running = launch.start().map_err(anyhow::Error::msg)?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&running.stack.database_url)
        .await?;
    let tokens = Tokens::new(&running.stack);
    let sub = tokens
        .sub(USER)
        .ok_or_else(|| anyhow::anyhow!("the stack has no account {USER}"))?
        .to_string();
    Ok(Started {
        running,
        pool,
        tokens,
        sub,
    })
}

pub fn say(message: &str) {
    println!("bench | {message}");
}

/// What every section measures with.
pub struct Bench {
    pub root: PathBuf,
    pub release: PathBuf,
    pub scripts: PathBuf,
    pub pg_bin: PathBuf,
    pub stack: StackFile,
    /// Tokens of [`USER`], signed in for again before they expire.
    pub tokens: Tokens,
    /// [`USER`]'s `sub`: the owner of its tasks.
    pub sub: String,
    pub pool: sqlx::PgPool,
    /// The highest id of the seeded tasks.
    pub seeded: i64,
    pub runs: usize,
    pub seconds: u32,
    pub starts: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = repository();
    let Started {
        running,
        pool,
        tokens,
        sub,
    } = start_stack("bench-stack.log").await?;
    let stack = running.stack.clone();
    sqlx::query("INSERT INTO tasks (title, description, owner) SELECT 'seeded ' || n, 'for the list benchmark', $2 FROM generate_series(1, $1) AS n")
        .bind(args.rows)
        .bind(&sub)
        .execute(&pool)
        .await?;
    say(&format!("{} tasks in the table, {USER}'s", args.rows));
    let seeded: i64 = sqlx::query_scalar("SELECT max(id) FROM tasks")
        .fetch_one(&pool)
        .await?;
    let bench = Bench {
        release: root.join("target/release"),
        scripts: root.join("bench/scripts"),
        pg_bin: servers::postgres::find_bin_dir()?,
        root,
        stack,
        tokens,
        sub,
        pool,
        seeded,
        runs: args.runs,
        seconds: args.seconds,
        starts: args.starts,
    };

    if args.only_scale {
        let scale = scale(&bench, args.scale_tasks).await?;
        println!("{}", serde_json::to_string_pretty(&scale)?);
        return Ok(());
    }
    if args.only_memory {
        let memory = memory::measure(&bench).await?;
        println!("{}", serde_json::to_string_pretty(&memory.memory)?);
        return Ok(());
    }
    if args.only_throughput {
        let throughput = throughput::measure(&bench).await?;
        println!("{}", serde_json::to_string_pretty(&throughput)?);
        return Ok(());
    }
    if args.only_event_path {
        let event_path = event_path::measure(&bench).await?;
        println!("{}", serde_json::to_string_pretty(&event_path)?);
        return Ok(());
    }
    if args.only_burst {
        let burst = event_path::burst(&bench).await?;
        println!("{}", serde_json::to_string_pretty(&burst)?);
        return Ok(());
    }
    if args.only_live_streams {
        let live = live_streams::measure(&bench).await?;
        println!("{}", serde_json::to_string_pretty(&live)?);
        return Ok(());
    }
    if args.only_pipeline {
        let (pipeline, outbox) = pipeline::measure(&bench).await?;
        println!("{}", serde_json::to_string_pretty(&(pipeline, outbox))?);
        return Ok(());
    }
    let machine = machine(&bench.root)?;
    let cold_start_ms = cold_start::measure(&bench)?;
    let (event_pipeline, outbox_under_load) = pipeline::measure(&bench).await?;
    let throughput = throughput::measure(&bench).await?;
    let memory = memory::measure(&bench).await?;
    let event_path = event_path::measure(&bench).await?;
    let live_streams = live_streams::measure(&bench).await?;
    let web = web_app::measure(&bench)?;
    // Cost as the data grows: last, as it replaces the table.
    let scale = scale(&bench, args.scale_tasks).await?;
    let results = Results {
        binary_bytes: memory.binary_bytes,
        cold_start_ms,
        event_pipeline,
        event_path: Some(event_path),
        image_sizes: memory.image_sizes,
        live_streams: Some(live_streams),
        machine,
        memory: memory.memory,
        outbox_under_load: Some(outbox_under_load),
        scale: Some(scale),
        throughput,
        web,
    };

    let out = bench.root.join("bench");
    let json = serde_json::to_string_pretty(&results)? + "\n";
    std::fs::write(out.join("results.json"), &json)?;
    // The report shows the figures as the file holds them (NaN and the
    // infinities are null there), as a later render from the file would.
    let written: Results = serde_json::from_str(&json)?;
    std::fs::write(out.join("results.md"), bench::report::markdown(&written))?;
    say("wrote bench/results.json and bench/results.md");
    Ok(())
}

/// Every read route and a create as [`USER`] at 10,000 tasks and at
/// `large` tasks, side by side: a second stack holds the small table, the
/// bench's own grows to the large one, and each route's requests alternate
/// between the two ([`measure_side_by_side`]). First with every task
/// [`USER`]'s, then with the tasks spread over [`SPREAD_OWNERS`] users
/// ([`USER`] among them, with about
/// [`bench::measure::scale::SPREAD_USER_TASKS`] of each size's new tasks).
async fn scale(bench: &Bench, large: i64) -> anyhow::Result<Vec<ScaleRow>> {
    let small = 10_000;
    say("scale: a second stack holds the small table");
    let beside = start_stack("bench-scale-small.log").await?;
    let mut rows = Vec::new();
    for owners in [1, SPREAD_OWNERS] {
        say(&format!(
            "scale: {small} tasks of {owners} user(s) and a history of 20,000 entries, on both stacks"
        ));
        let small_data = ScaleData::start(&beside.pool, small, USER, &beside.sub, owners).await?;
        let data = ScaleData::start(&bench.pool, small, USER, &bench.sub, owners).await?;
        say(&format!(
            "scale: growing the bench stack's table to {large} tasks"
        ));
        data.grow(&bench.pool, small, large).await?;
        say("scale: measuring both sizes side by side");
        let [at_small, at_large] = measure_side_by_side([
            Side {
                gateway: &beside.running.stack.gateway_url,
                pool: &beside.pool,
                tokens: &beside.tokens,
                data: &small_data,
            },
            Side {
                gateway: &bench.stack.gateway_url,
                pool: &bench.pool,
                tokens: &bench.tokens,
                data: &data,
            },
        ])
        .await?;
        rows.extend(small_data.rows(&at_small));
        rows.extend(data.rows(&at_large));
    }
    Ok(rows)
}

/// Removes the tasks the measurements before added: each measurement starts
/// from the seeded rows (and counting does not scan what earlier loads left).
async fn back_to_seeded(bench: &Bench) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM tasks WHERE id > $1")
        .bind(bench.seeded)
        .execute(&bench.pool)
        .await?;
    sqlx::query("VACUUM ANALYZE tasks")
        .execute(&bench.pool)
        .await?;
    Ok(())
}

impl Bench {
    /// The `Authorization` header of [`USER`], with minutes left to live,
    /// as [`bench::measure::load::wrk`] takes headers.
    pub async fn authorization(&self) -> anyhow::Result<(&'static str, String)> {
        let token = self.tokens.of(USER).await.map_err(anyhow::Error::msg)?;
        Ok(("Authorization", format!("Bearer {token}")))
    }

    /// A client that sends a fresh token of [`USER`] with every request (for
    /// a measurement shorter than the token's five minutes).
    pub async fn client(&self) -> anyhow::Result<reqwest::Client> {
        self.stack.client_as(USER).await.map_err(anyhow::Error::msg)
    }
}

fn machine(root: &Path) -> anyhow::Result<Machine> {
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
    Ok(Machine {
        commit: String::from_utf8_lossy(&commit.stdout).trim().to_string(),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu,
        date: chrono::Utc::now().to_rfc3339(),
    })
}
