//! `chaos`: mixed creates, updates and deletes through the gateway while, one
//! after another, parts of the stack fail, some for longer than the Trigger's
//! retry budget. After each fault it waits until every change acknowledged so
//! far is in the audit log (the time to converge); at the end it checks, per
//! fault, that no acknowledged change was lost or recorded twice, that no
//! task's recorded life has a gap, that the poison rows (and only they) are
//! parked, that every process recovered by itself, and that the changes
//! are in their tasks' histories as a person reads them (through the
//! gateway). `--audit-outage` runs one fault only, the audit function down
//! for long, on the stack exactly as `task up` runs it.

mod faults;
mod history;
mod load;
mod plan;
mod report;
mod verdict;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use local_stack::admin::AdminClient;
use local_stack::tokens::Tokens;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use task_core::routes::OUTBOX_RELAY;
use task_events::outbox::Outbox;
use task_events::outbox::ledger::OutboxStatus;

use crate::measure::relay_log::RelayLog;
use crate::stack_launch;
use faults::{Injected, Injector};
use history::HistoryCheck;
use load::Load;
pub use plan::RunKind;
use plan::Timing;
use verdict::AuditView;

/// Histories read at the end of a run with every fault (all of them after
/// an audit outage alone).
const HISTORY_SAMPLE: usize = 500;

/// How a run is paced.
#[derive(Debug, Clone)]
pub struct Options {
    pub kind: RunKind,
    pub clients: usize,
    /// Pause between one client's requests.
    pub think: Duration,
    /// Which build's binaries to run (debug or release).
    pub profile: String,
}

pub(crate) fn say(message: &str) {
    println!("chaos | {message}");
}

/// How one fault went.
pub(crate) struct Phase {
    name: String,
    injected: Injected,
    converged: Option<Duration>,
    /// Events the relay sent again because the audit log lacked them after
    /// the broker had taken them (from the relay's log).
    requeued: u64,
}

/// How the stack stood once the load had stopped.
pub(crate) struct End {
    /// How long after the load the outbox took to settle.
    settled: Option<Duration>,
    outbox: OutboxStatus,
    parked: Vec<i64>,
    /// Services the supervisor restarted after a crash.
    restarted: Vec<String>,
    /// Functions not answering /health.
    unhealthy: Vec<String>,
    /// The acknowledged changes in their tasks' histories.
    history: HistoryCheck,
}

/// Runs the faults; true when every check passed.
pub async fn run(options: &Options) -> anyhow::Result<bool> {
    let timing = Timing::of(options.kind);
    say("starting the local stack (its log: target/bench/chaos-stack.log)");
    let mut launch = stack_launch(&options.profile, timing.relay_interval, "chaos-stack.log")?;
    launch.trigger_retry = timing.trigger_retry;
    launch.env = timing
        .relay
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let log_file = launch.log_file.clone();
    let running = launch.start().map_err(anyhow::Error::msg)?;
    let stack = running.stack.clone();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&stack.database_url)
        .await?;
    let load = Arc::new(Load::default());
    say(&format!(
        "{} clients; the Trigger retries {}; relay settings {}",
        options.clients,
        timing
            .trigger_retry
            .map_or("as the manifest says".into(), |n| format!("{n} times")),
        if timing.relay.is_empty() {
            "as `task up` has them".into()
        } else {
            format!("{:?}", timing.relay)
        }
    ));
    let tokens = Tokens::new(&stack);
    let subs: report::Subs = stack
        .auth
        .users
        .iter()
        .map(|user| (user.username.clone(), user.sub.clone()))
        .collect();
    let clients = load.start(options.clients, &stack.gateway_url, options.think, &tokens);
    let injector = Injector {
        admin: AdminClient::new(&stack),
        pool: pool.clone(),
        load: load.clone(),
        audit_url: stack.functions["audit"].clone(),
        relay_url: stack.functions[OUTBOX_RELAY].clone(),
        client: reqwest::Client::new(),
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    let relay_log = RelayLog(log_file);
    let (phases, poison) = run_faults(&timing, &injector, &pool, &load, &relay_log).await?;
    load.stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await?;
    }
    say("load stopped; waiting until the outbox is settled");
    let acknowledged = load.tally().acknowledged.len();
    let settled = converge(
        &pool,
        &load,
        acknowledged,
        poison.len(),
        timing.converge_limit,
    )
    .await?;
    let end = End {
        settled,
        outbox: Outbox::status(&pool).await?,
        parked: Outbox::parked(&pool, 100)
            .await?
            .iter()
            .map(|p| p.outbox_id)
            .collect(),
        restarted: injector
            .admin
            .status()
            .await
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .filter(|s| s.crash_restarts > 0)
            .map(|s| s.name)
            .collect(),
        unhealthy: unhealthy(&injector.client, &stack.functions).await,
        history: history::check(
            &injector.client,
            &tokens,
            &stack.gateway_url,
            &load.tally().acknowledged,
            (!matches!(options.kind, RunKind::AuditOutage(_))).then_some(HISTORY_SAMPLE),
        )
        .await,
    };
    let audit = AuditView::read(&pool).await?;
    let tally = load.tally();
    let passed = report::per_fault(&phases, &tally, &audit, &subs)
        & report::whole_run(&phases, &tally, &audit, poison, &end, &subs);
    say(if passed { "PASSED" } else { "FAILED" });
    Ok(passed)
}

/// Injects each fault of the plan in turn under the load, and waits after
/// each until everything acknowledged so far is audited. Returns how each
/// went, and the poison rows they left.
async fn run_faults(
    timing: &Timing,
    injector: &Injector,
    pool: &PgPool,
    load: &Load,
    relay_log: &RelayLog,
) -> anyhow::Result<(Vec<Phase>, Vec<i64>)> {
    let mut phases: Vec<Phase> = Vec::new();
    let mut poison: Vec<i64> = Vec::new();
    for (index, step) in timing.plan().into_iter().enumerate() {
        load.phase.store(index, Ordering::SeqCst);
        let requeued_before = relay_log.total("requeued");
        say(&format!("fault {}: {}", index + 1, step.name));
        let injected = injector.inject(&step.fault).await?;
        poison.extend(&injected.poison);
        let acknowledged = load.tally().acknowledged.len();
        let limit = if injected.poison.is_empty() {
            timing.converge_limit
        } else {
            timing.poison_limit
        };
        let converged = converge(pool, load, acknowledged, poison.len(), limit).await?;
        match converged {
            Some(after) => say(&format!(
                "  converged {:.1} s after the fault",
                after.as_secs_f64()
            )),
            None => say(&format!("  NOT converged within {limit:?}")),
        }
        // A relay run under way at convergence logs what it requeued when it
        // ends: let it end, and one more run, so that this fault's re-sends
        // are counted here and not against the next fault.
        injector.relay_run().await;
        phases.push(Phase {
            name: step.name,
            injected,
            converged,
            requeued: relay_log.total("requeued") - requeued_before,
        });
    }
    Ok((phases, poison))
}

/// The functions that do not answer /health with a 2xx.
async fn unhealthy(
    client: &reqwest::Client,
    functions: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let mut unhealthy = Vec::new();
    for (name, url) in functions {
        let ok = client
            .get(format!("{url}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if !ok {
            unhealthy.push(name.clone());
        }
    }
    unhealthy
}

/// Waits until the first `acknowledged` changes are all in the audit log and
/// exactly `parked` rows are parked (and, once the load has stopped, nothing
/// else is left in the outbox); returns how long it took, or `None` past `limit`.
async fn converge(
    pool: &PgPool,
    load: &Load,
    acknowledged: usize,
    parked: usize,
    limit: Duration,
) -> anyhow::Result<Option<Duration>> {
    let start = Instant::now();
    let stopped = load.stop.load(Ordering::SeqCst);
    while start.elapsed() < limit {
        let audit = AuditView::read(pool).await;
        let status = Outbox::status(pool).await;
        if let (Ok(audit), Ok(status)) = (audit, status) {
            let changes = load.tally().acknowledged;
            let all_audited = audit.lost(&changes[..acknowledged]) == 0;
            let settled = !stopped || (status.unsent == 0 && status.unaudited == 0);
            if all_audited && settled && status.parked == parked as i64 {
                return Ok(Some(start.elapsed()));
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(None)
}
