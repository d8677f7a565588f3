//! `stack up`: starts PostgreSQL, every function and the edge router in order,
//! waits for each to be ready, then keeps them running until Ctrl-C or SIGTERM.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use task_core::routes::{Duty, FUNCTIONS, OUTBOX_RELAY};

use crate::function_env::{function_env, log_env};
use tokio::signal::unix::{SignalKind, signal};

use crate::admin::{Action, Request};
use crate::database::{self, Credentials};
use crate::gateway::{GatewayConfig, Upstream};
use servers::ports::wait_listening;
use servers::tansu::{find_tansu, tansu_command};
use crate::lock::StackLock;
use servers::postgres::{LOCAL_SETTINGS, PostgresCluster};
use crate::service::{Service, log};
use crate::stack_file::StackFile;

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
    /// tansu's port.
    pub kafka_port: u16,
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

    let database = start_postgres(options, state_dir, services).await?;
    let kafka_bootstrap = start_kafka(options, services).await?;
    let broker_url = start_broker_receiver(options, &kafka_bootstrap, services).await?;
    let functions = start_functions(options, &database, &broker_url, services).await?;
    start_broker_dispatcher(options, &kafka_bootstrap, &functions, services).await?;
    let gateway_url = start_gateway(options, state_dir, &functions, services).await?;

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
    let mut restarted = Vec::new();
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
                restarted.push(service.name.clone());
            }
        }
        for name in restarted.drain(..) {
            restart_dependents(&name, services).await?;
        }
    }
}

/// Carries out one control API request.
async fn handle(request: Request, services: &mut [Service]) {
    match request {
        Request::Status(reply) => {
            let _ = reply.send(services.iter().map(Service::status).collect());
        }
        Request::Act {
            service,
            action,
            reply,
        } => {
            let Some(target) = services.iter_mut().find(|s| s.name == service) else {
                let _ = reply.send(Err(format!("no service {service:?}")));
                return;
            };
            log("stack", &format!("{service}: {action:?} (requested)"));
            let result = match action {
                Action::Stop => {
                    target.hold(false, STOP_GRACE).await;
                    Ok(())
                }
                Action::Kill => {
                    target.hold(true, STOP_GRACE).await;
                    Ok(())
                }
                Action::Start => target.release(),
                Action::Restart => {
                    target.hold(false, STOP_GRACE).await;
                    target.release()
                }
                Action::Pause => target.signal(Signal::SIGSTOP),
                Action::Resume => target.signal(Signal::SIGCONT),
            };
            let result = match (result, action) {
                (Ok(()), Action::Start | Action::Restart) => {
                    restart_dependents(&service, services).await
                }
                (result, _) => result,
            };
            let _ = reply.send(result.map_err(|err| err.to_string()));
        }
    }
}

/// tansu keeps its data in memory: when it starts again it has no topics and
/// no consumer offsets, so the local broker's halves start again too (and
/// create the topic anew). What tansu held is lost; the relay's
/// reconciliation sends it again. (Kafka on a cluster keeps its data.)
async fn restart_dependents(service: &str, services: &mut [Service]) -> std::io::Result<()> {
    if service != "kafka" {
        return Ok(());
    }
    for dependent in services
        .iter_mut()
        .filter(|s| matches!(s.name.as_str(), "broker-ingress" | "broker-dispatch") && !s.is_held())
    {
        log(
            "stack",
            &format!(
                "{}: restarting (Kafka started again, empty)",
                dependent.name
            ),
        );
        dependent.hold(false, STOP_GRACE).await;
        dependent.release()?;
    }
    Ok(())
}

/// Every port must be free before anything starts, with a hint when it is not.
fn check_ports_free(options: &StackOptions) -> anyhow::Result<()> {
    let mut wanted = vec![
        ("the gateway", options.gateway_port, "GATEWAY_PORT"),
        ("PostgreSQL", options.postgres_port, "POSTGRES_PORT"),
        ("Kafka", options.kafka_port, "KAFKA_PORT"),
        ("the broker ingress", options.broker_port, "BROKER_PORT"),
        (
            "the broker dispatcher",
            options.broker_port + 1,
            "BROKER_PORT",
        ),
    ];
    for (name, port) in options.function_ports() {
        wanted.push((name, port, "FUNCTIONS_BASE_PORT"));
    }
    for (what, port, setting) in wanted {
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            bail!(
                "port {port} (for {what}) is already in use on 127.0.0.1; \
                 stop what uses it or choose another port with {setting}=..."
            );
        }
    }
    Ok(())
}

/// PostgreSQL with the migrated database and the duties' login users.
async fn start_postgres(
    options: &StackOptions,
    state_dir: &Path,
    services: &mut Vec<Service>,
) -> anyhow::Result<Database> {
    let credentials = Credentials::load_or_create(state_dir)?;
    let cluster = PostgresCluster::new(
        state_dir.join("postgres"),
        options.postgres_port,
        credentials.postgres.clone(),
    )?;
    if !cluster.is_initialized() {
        log(
            "stack",
            &format!(
                "creating the database cluster in {}",
                cluster.data_dir().display()
            ),
        );
    }
    let init = cluster.clone();
    tokio::task::spawn_blocking(move || init.ensure_initialized()).await??;

    log(
        "stack",
        &format!("starting PostgreSQL on 127.0.0.1:{}", cluster.port()),
    );
    let server = cluster.clone();
    let mut service = Service::new("postgres", Signal::SIGINT, move || {
        server.server_command(LOCAL_SETTINGS)
    });
    service.start()?;
    services.push(service);
    let ready = cluster.clone();
    tokio::task::spawn_blocking(move || ready.wait_ready(READY_TIMEOUT)).await??;

    let admin_url = database::prepare(&cluster, &credentials).await?;
    log(
        "stack",
        &format!(
            "database ready on 127.0.0.1:{} (passwords in {})",
            cluster.port(),
            state_dir.join("credentials.json").display()
        ),
    );
    Ok(Database {
        admin_url,
        cluster,
        credentials,
    })
}

/// The running database: the superuser's URL (for tools) and what the
/// functions' URLs are made of.
struct Database {
    admin_url: String,
    cluster: PostgresCluster,
    credentials: Credentials,
}

impl Database {
    /// The URL `function` connects with: its duty's login user.
    fn url_for(&self, function: &str) -> String {
        database::url_for(&self.cluster, &self.credentials, Duty::of(function))
    }
}

/// A binary of the workspace, or an error saying how to build it.
fn binary(options: &StackOptions, name: &str) -> anyhow::Result<PathBuf> {
    let binary = options.bin_dir.join(name);
    if !binary.exists() {
        bail!(
            "{} is missing; build it first (`task build`, or `cargo build --workspace --bins`)",
            binary.display()
        );
    }
    Ok(binary)
}

/// tansu, in memory, on its own port; returns the bootstrap address.
async fn start_kafka(
    options: &StackOptions,
    services: &mut Vec<Service>,
) -> anyhow::Result<String> {
    let tansu = find_tansu()?;
    let port = options.kafka_port;
    log(
        "stack",
        &format!("starting the Kafka-protocol broker (tansu, in memory) on 127.0.0.1:{port}"),
    );
    let mut service = Service::new("kafka", Signal::SIGTERM, move || {
        tansu_command(&tansu, port)
    });
    service.start()?;
    services.push(service);
    let bootstrap = format!("127.0.0.1:{port}");
    let address = bootstrap.clone();
    tokio::task::spawn_blocking(move || wait_listening(&address, READY_TIMEOUT)).await??;
    Ok(bootstrap)
}

/// One half of the local Knative broker, as a service.
fn broker_service(
    options: &StackOptions,
    name: &str,
    kafka_bootstrap: &str,
    listen: u16,
    role_args: Vec<OsString>,
) -> anyhow::Result<Service> {
    let mut args: Vec<OsString> = vec![
        "--bootstrap".into(),
        kafka_bootstrap.into(),
        "--manifests".into(),
        options.manifests_dir.clone().into(),
        "--listen".into(),
        format!("127.0.0.1:{listen}").into(),
    ];
    args.extend(role_args);
    Ok(Service::program(
        name,
        Signal::SIGTERM,
        binary(options, "broker")?,
        args,
        log_env(),
    ))
}

/// The broker's ingress: the write functions' `K_SINK`.
async fn start_broker_receiver(
    options: &StackOptions,
    kafka_bootstrap: &str,
    services: &mut Vec<Service>,
) -> anyhow::Result<String> {
    let mut service = broker_service(
        options,
        "broker-ingress",
        kafka_bootstrap,
        options.broker_port,
        vec!["receiver".into()],
    )?;
    service.start()?;
    services.push(service);
    let url = format!("http://127.0.0.1:{}", options.broker_port);
    wait_http_ok(
        &reqwest::Client::new(),
        "broker-ingress",
        &format!("{url}/health"),
        services,
    )
    .await?;
    Ok(format!("{url}/"))
}

/// The Triggers, each subscriber resolved to its function's local URL.
async fn start_broker_dispatcher(
    options: &StackOptions,
    kafka_bootstrap: &str,
    functions: &[(&'static str, u16)],
    services: &mut Vec<Service>,
) -> anyhow::Result<()> {
    let port = options.broker_port + 1;
    let mut args: Vec<OsString> = vec!["dispatcher".into()];
    if let Some(retry) = options.trigger_retry {
        args.extend(["--retry".into(), retry.to_string().into()]);
    }
    for (name, function_port) in functions {
        args.push("--service".into());
        args.push(format!("{name}=http://127.0.0.1:{function_port}/").into());
    }
    let mut service = broker_service(options, "broker-dispatch", kafka_bootstrap, port, args)?;
    service.start()?;
    services.push(service);
    let url = format!("http://127.0.0.1:{port}/health");
    wait_http_ok(&reqwest::Client::new(), "broker-dispatch", &url, services).await
}

/// `RUST_LOG`, passed on when set.
async fn start_functions(
    options: &StackOptions,
    database: &Database,
    event_sink: &str,
    services: &mut Vec<Service>,
) -> anyhow::Result<Vec<(&'static str, u16)>> {
    let functions = options.function_ports();
    for (name, port) in &functions {
        let binary = binary(options, name)?;
        let env = function_env(name, *port, &database.url_for(name), event_sink);
        let mut service = Service::program(*name, Signal::SIGTERM, binary, Vec::new(), env);
        service.start()?;
        services.push(service);
    }
    let client = reqwest::Client::new();
    for (name, port) in &functions {
        wait_http_ok(
            &client,
            name,
            &format!("http://127.0.0.1:{port}/health"),
            services,
        )
        .await?;
    }
    log("stack", &format!("{} functions ready", functions.len()));
    Ok(functions)
}

async fn start_gateway(
    options: &StackOptions,
    state_dir: &Path,
    functions: &[(&'static str, u16)],
    services: &mut Vec<Service>,
) -> anyhow::Result<String> {
    let runtime_dir = state_dir.join("nginx");
    std::fs::create_dir_all(&runtime_dir)?;
    let config = GatewayConfig {
        listen: format!("127.0.0.1:{}", options.gateway_port),
        upstreams: functions
            .iter()
            .map(|(name, port)| {
                let upstream = Upstream {
                    address: format!("127.0.0.1:{port}"),
                    host_header: None,
                };
                (name.to_string(), upstream)
            })
            .collect(),
        web_root: web_root(options, state_dir)?,
        runtime_dir: runtime_dir.clone(),
        foreground: true,
    };
    let conf_path = runtime_dir.join("nginx.conf");
    std::fs::write(&conf_path, config.render())?;

    let nginx = find_nginx()?;
    let test = std::process::Command::new(&nginx)
        .arg("-t")
        .arg("-q")
        .arg("-p")
        .arg(&runtime_dir)
        .arg("-c")
        .arg(&conf_path)
        .output()?;
    if !test.status.success() {
        bail!(
            "the generated nginx configuration {} does not load: {}",
            conf_path.display(),
            String::from_utf8_lossy(&test.stderr).trim()
        );
    }
    log(
        "stack",
        &format!(
            "starting the edge router on 127.0.0.1:{}",
            options.gateway_port
        ),
    );
    let mut service = Service::new("gateway", Signal::SIGQUIT, move || {
        let mut command = std::process::Command::new(&nginx);
        command
            .arg("-p")
            .arg(&runtime_dir)
            .arg("-c")
            .arg(&conf_path);
        command
    });
    service.start()?;
    services.push(service);
    let url = format!("http://127.0.0.1:{}", options.gateway_port);
    let client = reqwest::Client::new();
    wait_http_ok(&client, "gateway", &format!("{url}/health"), services).await?;
    Ok(url)
}

/// `web/dist` once the SPA is built; until then a page that says so.
fn web_root(options: &StackOptions, state_dir: &Path) -> anyhow::Result<PathBuf> {
    if options.web_dir.join("index.html").exists() {
        return Ok(options.web_dir.canonicalize()?);
    }
    let placeholder = state_dir.join("www");
    std::fs::create_dir_all(&placeholder)?;
    std::fs::write(placeholder.join("index.html"), PLACEHOLDER_PAGE)?;
    log(
        "stack",
        &format!(
            "{} has no index.html yet; serving a placeholder page",
            options.web_dir.display()
        ),
    );
    Ok(placeholder)
}

const PLACEHOLDER_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Tasks</title></head><body>\n<h1>Tasks</h1>\n<p>The web app has not been built yet. \
The API is up: try <a href=\"/api/tasks\">/api/tasks</a>, \
<a href=\"/health\">/health</a> or <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>\n\
</body></html>\n";

fn find_nginx() -> anyhow::Result<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")]);
    for dir in candidates {
        let nginx = dir.join("nginx");
        if nginx.exists() {
            return Ok(nginx);
        }
    }
    bail!("nginx not found; install it with `task setup` (Debian: apt-get install nginx-light)")
}

/// Polls `url` until it answers 200, failing early if the service dies.
async fn wait_http_ok(
    client: &reqwest::Client,
    name: &str,
    url: &str,
    services: &mut [Service],
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let response = client.get(url).timeout(Duration::from_secs(2)).send().await;
        if matches!(&response, Ok(r) if r.status().is_success()) {
            return Ok(());
        }
        if let Some(service) = services.iter_mut().find(|s| s.name == name)
            && let Some(status) = service.exited()
        {
            bail!("{name} exited while starting ({status}); see its output above");
        }
        if start.elapsed() > READY_TIMEOUT {
            let last = match response {
                Ok(r) => format!("it answered {}", r.status()),
                Err(err) => format!("last error: {err}"),
            };
            bail!("{name} was not ready at {url} within {READY_TIMEOUT:?}; {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
