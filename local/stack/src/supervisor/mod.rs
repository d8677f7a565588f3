//! `stack up`: starts PostgreSQL, every function and the edge router in order,
//! waits for each to be ready, then keeps them running until Ctrl-C or SIGTERM.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use task_core::routes::{Duty, FUNCTIONS, OUTBOX_RELAY};

use crate::function_env::{AuthEnv, function_env, log_env};
use tokio::signal::unix::{SignalKind, signal};

use crate::admin::{Action, Request};
use crate::database::{self, Credentials};
use crate::lock::StackLock;
use crate::service::{Service, log};
use crate::stack_file::{AuthInfo, AuthUser, StackFile};
use knative_contract::edge_router::{GatewayConfig, SIGN_IN_PAGE_POLICY, SignIn, Upstream};
use servers::kafka::{
    STORAGE_DATABASE, broker_command, find_nisshi, keep_catalog_statistics, prepare_storage,
};
use servers::oidc::{AUDIENCE, OidcProvider, WEB_CLIENT};
use servers::ports::wait_listening;
use servers::postgres::{LOCAL_SETTINGS, PostgresCluster};

mod control;
mod edge;
mod start;

use control::handle;
use edge::start_gateway;
use start::*;

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Where everything lives and listens.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub state_dir: PathBuf,
    pub bin_dir: PathBuf,
    pub web_dir: PathBuf,
    pub gateway_port: u16,
    pub functions_base_port: u16,
    pub postgres_port: u16,
    /// The Kafka-protocol broker's port (nisshi).
    pub kafka_port: u16,
    /// The OpenID Provider's own port (the gateway serves it under /oidc/).
    pub oidc_port: u16,
    /// The broker's ingress; its dispatcher's health check takes the next port.
    pub broker_port: u16,
    /// Where the Broker, Trigger and KafkaSink manifests are.
    pub manifests_dir: PathBuf,
    /// How often the outbox relay is invoked (a PingSource on Knative).
    pub relay_interval: Duration,
    /// Overrides every Trigger's `delivery.retry` (a short retry budget, for
    /// runs that outlast it on purpose).
    pub trigger_retry: Option<u32>,
}

impl StackOptions {
    /// Each function's port, in [`FUNCTIONS`] order from the base port.
    pub fn function_ports(&self) -> Vec<(&'static str, u16)> {
        FUNCTIONS
            .iter()
            .zip(self.functions_base_port..)
            .map(|(name, port)| (*name, port))
            .collect()
    }
}

/// Why `up` stopped; each has its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum StackExit {
    #[error("{0}")]
    AlreadyRunning(String),
    #[error("{0} kept crashing; the stack was stopped")]
    Crashing(String),
}

/// Runs the stack until asked to stop.
pub async fn up(options: &StackOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&options.state_dir)
        .with_context(|| format!("cannot create {}", options.state_dir.display()))?;
    let state_dir = options.state_dir.canonicalize()?;
    let _lock = match StackLock::acquire(&state_dir) {
        Ok(lock) => lock,
        Err(err @ crate::lock::LockError::Held { .. }) => {
            let gateway = StackFile::read(&state_dir)
                .map(|stack| format!(" at {}", stack.gateway_url))
                .unwrap_or_default();
            return Err(StackExit::AlreadyRunning(format!(
                "{err}{gateway}. Use it as it is, or stop it first with `task down`."
            ))
            .into());
        }
        Err(err) => return Err(err.into()),
    };
    StackFile::remove(&state_dir);
    check_ports_free(options)?;

    let mut services: Vec<Service> = Vec::new();
    let result = start_and_supervise(options, &state_dir, &mut services).await;
    log("stack", "stopping");
    // The edge router first, then the functions, then the database.
    for service in services.iter_mut().rev() {
        service.stop(STOP_GRACE).await;
        log("stack", &format!("{} stopped", service.name));
    }
    StackFile::remove(&state_dir);
    result
}

async fn start_and_supervise(
    options: &StackOptions,
    state_dir: &Path,
    services: &mut Vec<Service>,
) -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let started = Instant::now();

    let identity = start_identity(options, state_dir, services).await?;
    let database = start_postgres(options, state_dir, &identity, services).await?;
    let kafka_bootstrap = start_kafka(options, &database, services).await?;
    let broker_url = start_broker_receiver(options, &kafka_bootstrap, services).await?;
    let functions =
        start_functions(options, &database, &broker_url, &identity.env, services).await?;
    start_broker_dispatcher(options, &kafka_bootstrap, &functions, services).await?;
    let gateway_url = start_gateway(options, state_dir, &functions, services).await?;
    let auth = identity.info(state_dir)?;

    let (admin_requests, mut admin) = tokio::sync::mpsc::channel(16);
    let admin_token = servers::postgres::random_password();
    let admin_address = crate::admin::serve(admin_requests, admin_token.clone()).await?;
    let stack = StackFile {
        gateway_url: gateway_url.clone(),
        database_url: database.admin_url.clone(),
        broker_url,
        kafka_bootstrap,
        functions: functions
            .iter()
            .map(|(name, port)| (name.to_string(), format!("http://127.0.0.1:{port}")))
            .collect(),
        pid: std::process::id(),
        admin_url: format!("http://{admin_address}"),
        admin_token,
        auth,
    };
    stack.write(state_dir)?;
    log(
        "stack",
        &format!(
            "ready in {:.1} s: open {gateway_url}  (details in {}; Ctrl-C or `task down` stops it)",
            started.elapsed().as_secs_f64(),
            StackFile::path(state_dir).display()
        ),
    );

    let relay_url = stack.functions[OUTBOX_RELAY].clone();
    let client = reqwest::Client::new();
    let mut last_relay = Instant::now();
    loop {
        tokio::select! {
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            Some(request) = admin.recv() => handle(request, services).await,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        if last_relay.elapsed() >= options.relay_interval {
            last_relay = Instant::now();
            // Like a PingSource: fire and forget; the relay logs what it sent.
            tokio::spawn(client.post(format!("{relay_url}/")).send());
        }
        for service in services.iter_mut().filter(|s| !s.is_held()) {
            if let Some(status) = service.exited() {
                log(
                    "stack",
                    &format!("{} exited ({status}); restarting it", service.name),
                );
                if !service.restart()? {
                    return Err(StackExit::Crashing(service.name.clone()).into());
                }
            }
        }
    }
}
