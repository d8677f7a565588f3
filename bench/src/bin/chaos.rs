//! `chaos`: drives mixed creates, updates and deletes through the gateway
//! while, in turn, the Kafka broker is paused, the local Knative broker
//! (ingress and dispatcher) is stopped, the audit function is killed,
//! PostgreSQL restarts, and already-delivered events are replayed at the
//! audit function. Then it waits for the relay and checks that every change
//! acknowledged to a client has exactly one audit row, that no response other
//! than 2xx, 4xx or 503 was seen, and that every process recovered without a
//! restart. Exits 1 on any failure. Loopback only; bounded in time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bench::start_stack;
use clap::Parser;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use task_events::TaskEventType;

#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// How long the load runs, in seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// How long each part stays down, in seconds.
    #[arg(long, default_value_t = 10)]
    outage: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Pause between one client's requests, in milliseconds.
    #[arg(long, default_value_t = 40)]
    think_ms: u64,
    /// Which build's binaries to run (debug or release).
    #[arg(long, default_value = "debug")]
    profile: String,
}

/// A change: the task, what happened, and the version it left (0 for deletes).
type Change = (i64, TaskEventType, i32);

#[derive(Debug, Default, Clone)]
struct Tally {
    acknowledged: Vec<Change>,
    statuses: BTreeMap<u16, u64>,
    no_response: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(err) => {
            eprintln!("chaos: error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn say(message: &str) {
    println!("chaos | {message}");
}

async fn run(args: Args) -> anyhow::Result<bool> {
    say("starting the local stack (its log: target/bench/chaos-stack.log)");
    let running = start_stack(&args.profile, Duration::from_secs(1), "chaos-stack.log")?;
    let stack = running.stack.clone();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&stack.database_url)
        .await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let live = Arc::new(Mutex::new(Vec::<i64>::new()));
    let deadline = Instant::now() + Duration::from_secs(args.duration);

    say(&format!(
        "{} clients for {} s; each fault lasts {} s",
        args.clients, args.duration, args.outage
    ));
    let clients: Vec<_> = (0..args.clients)
        .map(|_| {
            let (client, tally, live) = (client.clone(), tally.clone(), live.clone());
            let gateway = stack.gateway_url.clone();
            let think = Duration::from_millis(args.think_ms);
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    one_change(&client, &gateway, &tally, &live).await;
                    tokio::time::sleep(think).await;
                }
            })
        })
        .collect();

    let faults = Faults {
        client: client.clone(),
        admin: stack.admin_url.clone(),
        audit: stack.functions["audit"].clone(),
        pool: pool.clone(),
        outage: Duration::from_secs(args.outage),
    };
    let spacing = Duration::from_secs(args.duration) / 6;
    let started = Instant::now();
    let mut replay = (0, 0);
    for step in 0..5 {
        let at = spacing * (step + 1);
        tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
        match step {
            0 => {
                faults
                    .outage_of(&["kafka"], "pause", "resume", "the Kafka broker paused")
                    .await?
            }
            1 => {
                faults
                    .outage_of(
                        &["broker-ingress", "broker-dispatch"],
                        "stop",
                        "start",
                        "the local Knative broker stopped",
                    )
                    .await?
            }
            2 => {
                faults
                    .outage_of(&["audit"], "kill", "start", "the audit function killed")
                    .await?
            }
            3 => faults.restart_postgres().await?,
            _ => replay = faults.replay(200).await?,
        }
    }
    for client in clients {
        client.await?;
    }

    say("load done; waiting for the relay and the broker to deliver everything");
    let drained = drain(&pool, Duration::from_secs(120)).await?;

    // Every process recovered by itself: none was restarted after a crash,
    // and every function answers /health.
    let services: Vec<Value> = client
        .get(format!("{}/services", stack.admin_url))
        .send()
        .await?
        .json()
        .await?;
    let restarted: Vec<String> = services
        .iter()
        .filter(|s| s["crash_restarts"].as_u64().unwrap_or(0) > 0)
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut unhealthy = Vec::new();
    for (name, url) in &stack.functions {
        let ok = client
            .get(format!("{url}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if !ok {
            unhealthy.push(name.clone());
        }
    }

    let rows: Vec<(String, i64, Option<i32>)> = sqlx::query_as(
        "SELECT event_type, task_id, (event_data->'data'->>'version')::int FROM task_audit_log",
    )
    .fetch_all(&pool)
    .await?;
    let mut recorded: BTreeMap<(i64, &str, i32), u32> = BTreeMap::new();
    for (event_type, task_id, version) in &rows {
        let version = if event_type == "task.deleted" {
            0
        } else {
            version.unwrap_or(-1)
        };
        *recorded
            .entry((*task_id, event_type.as_str(), version))
            .or_default() += 1;
    }
    let tally = tally.lock().expect("the tally lock").clone();
    let lost = tally
        .acknowledged
        .iter()
        .filter(|(task, kind, version)| !recorded.contains_key(&(*task, kind.as_str(), *version)))
        .count();
    let duplicated = recorded.values().filter(|n| **n > 1).count();
    let unexpected: u64 = tally
        .statuses
        .iter()
        .filter(|(status, _)| !(**status < 300 || (400..500).contains(*status) || **status == 503))
        .map(|(_, n)| n)
        .sum();

    println!();
    say("results");
    println!(
        "  changes acknowledged to clients  {}",
        tally.acknowledged.len()
    );
    println!("  audit rows                       {}", rows.len());
    println!("  lost (acknowledged, no row)      {lost}");
    println!("  duplicated (two rows, one event) {duplicated}");
    println!("  responses by status              {:?}", tally.statuses);
    println!("  requests without a response      {}", tally.no_response);
    println!("  unexpected statuses              {unexpected}");
    println!(
        "  replayed events (status 204/all) {}/{}",
        replay.0, replay.1
    );
    println!("  outbox drained                   {drained}");
    println!("  restarted after a crash          {restarted:?}");
    println!("  unhealthy at the end            {unhealthy:?}");
    let passed = lost == 0
        && duplicated == 0
        && unexpected == 0
        && drained
        && restarted.is_empty()
        && unhealthy.is_empty()
        && replay.0 == replay.1
        && !tally.acknowledged.is_empty();
    say(if passed { "PASSED" } else { "FAILED" });
    Ok(passed)
}

/// One random change through the gateway, recorded in `tally`.
async fn one_change(
    client: &reqwest::Client,
    gateway: &str,
    tally: &Mutex<Tally>,
    live: &Mutex<Vec<i64>>,
) {
    let pick = fastrand::u8(0..100);
    let target = {
        let mut live = live.lock().expect("the live lock");
        if live.is_empty() || pick < 45 {
            None
        } else if pick < 80 {
            Some((live[fastrand::usize(0..live.len())], TaskEventType::Updated))
        } else {
            let index = fastrand::usize(0..live.len());
            Some((live.swap_remove(index), TaskEventType::Deleted))
        }
    };
    let request = match target {
        None => client
            .post(format!("{gateway}/api/tasks"))
            .json(&json!({"title": format!("chaos {}", fastrand::u64(..))})),
        Some((id, TaskEventType::Updated)) => {
            let status = ["pending", "in_progress", "complete"][fastrand::usize(0..3)];
            client
                .put(format!("{gateway}/api/tasks/{id}"))
                .json(&json!({"title": format!("chaos {}", fastrand::u64(..)), "status": status}))
        }
        Some((id, _)) => client.delete(format!("{gateway}/api/tasks/{id}")),
    };
    let Ok(response) = request.send().await else {
        tally.lock().expect("the tally lock").no_response += 1;
        return;
    };
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let mut tally = tally.lock().expect("the tally lock");
    *tally.statuses.entry(status).or_default() += 1;
    if !(200..300).contains(&status) {
        return;
    }
    let version = body["version"].as_i64().unwrap_or(0) as i32;
    match target {
        None => {
            if let Some(id) = body["id"].as_i64() {
                tally
                    .acknowledged
                    .push((id, TaskEventType::Created, version));
                live.lock().expect("the live lock").push(id);
            }
        }
        Some((id, TaskEventType::Updated)) => {
            tally
                .acknowledged
                .push((id, TaskEventType::Updated, version))
        }
        Some((id, _)) => tally.acknowledged.push((id, TaskEventType::Deleted, 0)),
    }
}

/// The faults, through the supervisor's control API.
struct Faults {
    client: reqwest::Client,
    admin: String,
    audit: String,
    pool: PgPool,
    outage: Duration,
}

impl Faults {
    async fn act(&self, service: &str, action: &str) -> anyhow::Result<()> {
        let response = self
            .client
            .post(format!("{}/services/{service}/{action}", self.admin))
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{action} {service}: {}",
            response.text().await.unwrap_or_default()
        );
        Ok(())
    }

    async fn outage_of(
        &self,
        services: &[&str],
        down: &str,
        up: &str,
        what: &str,
    ) -> anyhow::Result<()> {
        say(&format!("fault: {what} for {} s", self.outage.as_secs()));
        for service in services {
            self.act(service, down).await?;
        }
        tokio::time::sleep(self.outage).await;
        for service in services {
            self.act(service, up).await?;
        }
        say(&format!("fault over: {what}"));
        Ok(())
    }

    async fn restart_postgres(&self) -> anyhow::Result<()> {
        say("fault: PostgreSQL restarts");
        self.act("postgres", "restart").await?;
        say("fault over: PostgreSQL is back");
        Ok(())
    }

    /// Posts `count` already-recorded events to the audit function again;
    /// returns (answered 204, sent).
    async fn replay(&self, count: i64) -> anyhow::Result<(usize, usize)> {
        say(&format!(
            "fault: replaying up to {count} delivered events at the audit function"
        ));
        let events: Vec<(Value,)> =
            sqlx::query_as("SELECT event_data FROM task_audit_log ORDER BY id LIMIT $1")
                .bind(count)
                .fetch_all(&self.pool)
                .await
                .context("reading delivered events")?;
        let mut accepted = 0;
        for (event,) in &events {
            let response = self
                .client
                .post(format!("{}/", self.audit))
                .header("content-type", "application/cloudevents+json")
                .body(event.to_string())
                .send()
                .await;
            if response.is_ok_and(|r| r.status().as_u16() == 204) {
                accepted += 1;
            }
        }
        say(&format!(
            "fault over: {accepted} of {} replayed events answered 204",
            events.len()
        ));
        Ok((accepted, events.len()))
    }
}

/// Waits until the outbox is empty and the audit log has stopped growing.
async fn drain(pool: &PgPool, limit: Duration) -> anyhow::Result<bool> {
    let start = Instant::now();
    let mut last = -1;
    let mut stable = 0;
    while start.elapsed() < limit {
        let (unsent, rows): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM event_outbox WHERE sent_at IS NULL), (SELECT count(*) FROM task_audit_log)",
        )
        .fetch_one(pool)
        .await?;
        stable = if unsent == 0 && rows == last {
            stable + 1
        } else {
            0
        };
        if stable >= 3 {
            say(&format!(
                "drained after {:.0} s",
                start.elapsed().as_secs_f64()
            ));
            return Ok(true);
        }
        last = rows;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(false)
}
