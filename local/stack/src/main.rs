//! `stack`: the local stack's supervisor. `task up` runs `stack up`, `task down`
//! runs `stack down`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use knative_contract::edge_router::GatewayConfig;
use local_stack::admin::{Action, AdminClient};
use local_stack::lock::StackLock;
use local_stack::service::log;
use local_stack::stack_file::StackFile;
use local_stack::supervisor::{StackExit, StackOptions, up};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use task_core::routes::OUTBOX_RELAY;
use task_events::outbox::ledger::{OutboxReport, Retried};

/// Runs the task app on this machine the way Knative would run it.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Where the stack keeps its database, logs and `stack.json`.
    #[arg(long, env = "STACK_STATE_DIR", default_value = ".local", global = true)]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start PostgreSQL, every function and the edge router; stop them all on Ctrl-C.
    Up {
        /// The edge router's port: the app's only public entry point.
        #[arg(long, env = "GATEWAY_PORT", default_value_t = 8080)]
        gateway_port: u16,
        /// The first function's port; the others follow one by one.
        #[arg(long, env = "FUNCTIONS_BASE_PORT", default_value_t = 8081)]
        functions_base_port: u16,
        #[arg(long, env = "POSTGRES_PORT", default_value_t = 55432)]
        postgres_port: u16,
        /// The Kafka-protocol broker (nisshi).
        #[arg(long, env = "KAFKA_PORT", default_value_t = 19092)]
        kafka_port: u16,
        /// The OpenID Provider's own port (the gateway serves it under /oidc/).
        #[arg(long, env = "OIDC_PORT", default_value_t = 8069)]
        oidc_port: u16,
        /// The local Knative broker's ingress; its dispatcher takes the next port.
        #[arg(long, env = "BROKER_PORT", default_value_t = 8070)]
        broker_port: u16,
        /// The Broker, Trigger and KafkaSink manifests the local broker plays.
        #[arg(long, env = "STACK_MANIFESTS", default_value = "knative/base")]
        manifests: PathBuf,
        /// How often the outbox relay runs, in milliseconds.
        #[arg(long, env = "RELAY_INTERVAL_MS", default_value_t = 2000)]
        relay_interval_ms: u64,
        /// Overrides every Trigger's `delivery.retry` for this stack (a short
        /// retry budget, to see what happens beyond it).
        #[arg(long, env = "TRIGGER_RETRY")]
        trigger_retry: Option<u32>,
        /// Where the function binaries are.
        #[arg(long, env = "STACK_BIN_DIR", default_value = "target/debug")]
        bin_dir: PathBuf,
        /// The built web app (served at `/`).
        #[arg(long, env = "STACK_WEB_DIR", default_value = "web/dist")]
        web_dir: PathBuf,
    },
    /// Stop a stack running in the background from the same state directory.
    Down,
    /// Print a fresh access token for USERNAME (alice, bob or carol), signed
    /// in for through the running stack's OpenID Provider, as a person does.
    Token { username: String },
    /// Show every service of the running stack (pid, held, crash restarts)
    /// and where the outbox's events stand (unsent, unaudited, parked).
    Status,
    /// Where the outbox's events stand, with every parked event; with
    /// `--retry-parked`, give the parked events a fresh set of attempts.
    Outbox {
        #[arg(long)]
        retry_parked: bool,
    },
    /// Act on one service of the running stack: stop, kill, start, restart,
    /// pause (SIGSTOP) or resume (SIGCONT).
    Service { name: String, action: String },
    /// Print the name of every image the build produces, one per line.
    Images,
    /// Print the Knative edge router's nginx.conf, generated from the route
    /// table (`task knative:generate` writes it to knative/base/edge-router/).
    KnativeGatewayConfig {
        /// The namespace the functions run in.
        #[arg(long, default_value = "task-app")]
        namespace: String,
    },
}

/// Exit codes: 0 stopped cleanly, 1 failed, 3 already running, 4 a process
/// kept crashing.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Up {
            gateway_port,
            functions_base_port,
            postgres_port,
            kafka_port,
            oidc_port,
            broker_port,
            manifests,
            relay_interval_ms,
            trigger_retry,
            bin_dir,
            web_dir,
        } => {
            let options = StackOptions {
                state_dir: cli.state_dir,
                bin_dir,
                web_dir,
                gateway_port,
                functions_base_port,
                postgres_port,
                kafka_port,
                oidc_port,
                broker_port,
                manifests_dir: manifests,
                relay_interval: Duration::from_millis(relay_interval_ms),
                trigger_retry,
            };
            match up(&options).await {
                Ok(()) => {
                    log("stack", "stopped");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    let code = match err.downcast_ref::<StackExit>() {
                        Some(StackExit::AlreadyRunning(_)) => 3,
                        Some(StackExit::Crashing(_)) => 4,
                        None => 1,
                    };
                    log("stack", &format!("error: {err:#}"));
                    ExitCode::from(code)
                }
            }
        }
        Command::Down => down(&cli.state_dir).await,
        Command::Token { username } => match token(&cli.state_dir, &username).await {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                log("stack", &format!("error: {err}"));
                ExitCode::FAILURE
            }
        },
        Command::Status => {
            let services = admin(&cli.state_dir, None).await;
            if services == ExitCode::SUCCESS {
                outbox(&cli.state_dir, false, false).await
            } else {
                services
            }
        }
        Command::Outbox { retry_parked } => outbox(&cli.state_dir, true, retry_parked).await,
        Command::Service { name, action } => admin(&cli.state_dir, Some((name, action))).await,
        Command::Images => {
            for image in knative_contract::images::built_images() {
                println!("{image}");
            }
            ExitCode::SUCCESS
        }
        Command::KnativeGatewayConfig { namespace } => {
            print!("{}", GatewayConfig::knative(&namespace).render());
            ExitCode::SUCCESS
        }
    }
}

/// Calls the running stack's control API: does `act` (service, action), then
/// lists every service.
async fn admin(state_dir: &std::path::Path, act: Option<(String, String)>) -> ExitCode {
    let Ok(stack) = StackFile::read(state_dir) else {
        log(
            "stack",
            &format!("no stack is running from {}", state_dir.display()),
        );
        return ExitCode::FAILURE;
    };
    let client = AdminClient::new(&stack);
    if let Some((name, action)) = act {
        let Some(action) = Action::parse(&action) else {
            log(
                "stack",
                &format!(
                    "error: unknown action {action:?}: stop, kill, start, restart, pause or resume"
                ),
            );
            return ExitCode::FAILURE;
        };
        if let Err(err) = client.act(&name, action).await {
            log("stack", &format!("error: {err}"));
            return ExitCode::FAILURE;
        }
    }
    match client.status().await {
        Ok(services) => {
            println!(
                "{:<16} {:>8}  {:<8} crash restarts",
                "service", "pid", "state"
            );
            for s in services {
                let pid = s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
                let state = if s.held {
                    "stopped"
                } else if s.pid.is_some() {
                    "running"
                } else {
                    "exited"
                };
                println!("{:<16} {pid:>8}  {state:<8} {}", s.name, s.crash_restarts);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            log("stack", &format!("error: {err}"));
            ExitCode::FAILURE
        }
    }
}

/// Asks the running stack's outbox relay where the outbox stands (and, with
/// `retry_parked`, to give parked events a fresh set of attempts).
async fn outbox(state_dir: &std::path::Path, list_parked: bool, retry_parked: bool) -> ExitCode {
    match outbox_report(state_dir, list_parked, retry_parked).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            log("stack", &format!("error: {err}"));
            ExitCode::FAILURE
        }
    }
}

async fn outbox_report(
    state_dir: &std::path::Path,
    list_parked: bool,
    retry_parked: bool,
) -> Result<(), String> {
    let stack = StackFile::read(state_dir)
        .map_err(|_| format!("no stack is running from {}", state_dir.display()))?;
    let relay = stack
        .functions
        .get(OUTBOX_RELAY)
        .ok_or("the stack has no outbox relay")?;
    let client = reqwest::Client::new();
    if retry_parked {
        let retried: Retried =
            relay_answer(client.post(format!("{relay}/outbox/retry-parked"))).await?;
        println!(
            "{} parked event(s) queued again; the next relay run sends them",
            retried.retried
        );
    }
    let report: OutboxReport = relay_answer(client.get(format!("{relay}/outbox"))).await?;
    let status = report.status;
    println!(
        "\noutbox: {} unsent, {} sent and not yet audited, {} parked",
        status.unsent, status.unaudited, status.parked
    );
    if status.suspect > 0 {
        println!(
            "  {} suspect event(s): they claim to come from the app but match no change it made; \
             not recorded (table suspect_events)",
            status.suspect
        );
    }
    if list_parked {
        for event in &report.parked_events {
            println!(
                "  parked: outbox row {} event {} (task {}), {} attempts: {}",
                event.outbox_id,
                event.event_id,
                event.task_id,
                event.attempts,
                event.last_error.as_deref().unwrap_or("-")
            );
        }
    }
    if status.parked > 0 && !retry_parked {
        println!("  fix the cause, then queue them again: task outbox:retry");
    }
    Ok(())
}

/// Sends a request to the relay and reads its JSON answer.
async fn relay_answer<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, String> {
    let response = request
        .send()
        .await
        .map_err(|err| format!("the relay does not answer: {err}"))?;
    if !response.status().is_success() {
        return Err(format!("the relay answered {}", response.status()));
    }
    response
        .json()
        .await
        .map_err(|err| format!("the relay's answer: {err}"))
}

/// Signs `username` in through the running stack's provider (its sign-in
/// page, with the password in `stack.json`) and returns the access token.
async fn token(state_dir: &std::path::Path, username: &str) -> Result<String, String> {
    StackFile::read(state_dir)
        .map_err(|_| format!("no stack is running from {}", state_dir.display()))?
        .access_token(username)
        .await
}

async fn down(state_dir: &std::path::Path) -> ExitCode {
    let Some(pid) = StackLock::holder(state_dir) else {
        log(
            "stack",
            &format!("no stack is running from {}", state_dir.display()),
        );
        return ExitCode::SUCCESS;
    };
    log(
        "stack",
        &format!("stopping the stack (supervisor pid {pid})"),
    );
    if let Err(err) = kill(Pid::from_raw(pid), Signal::SIGTERM) {
        log("stack", &format!("error: cannot signal pid {pid}: {err}"));
        return ExitCode::FAILURE;
    }
    let start = Instant::now();
    while StackLock::holder(state_dir).is_some() {
        if start.elapsed() > Duration::from_secs(60) {
            log("stack", "error: the stack did not stop within 60 s");
            return ExitCode::FAILURE;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    log("stack", "stopped");
    ExitCode::SUCCESS
}
