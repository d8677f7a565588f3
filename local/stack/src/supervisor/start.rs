//! Starting each part of the stack, in order, and waiting until it is ready.

use super::*;

/// Every port must be free before anything starts, with a hint when it is not.
pub(super) fn check_ports_free(options: &StackOptions) -> anyhow::Result<()> {
    let mut wanted = vec![
        ("the gateway", options.gateway_port, "GATEWAY_PORT"),
        ("the OpenID Provider", options.oidc_port, "OIDC_PORT"),
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

/// The OpenID Provider (`local/oidc`), its key and demo accounts kept in
/// `<state dir>/oidc`; served on the gateway's origin under /oidc/.
pub(super) async fn start_identity(
    options: &StackOptions,
    state_dir: &Path,
    services: &mut Vec<Service>,
) -> anyhow::Result<Identity> {
    let origin = format!("http://127.0.0.1:{}", options.gateway_port);
    let provider = OidcProvider::new(state_dir.join("oidc"), options.oidc_port, Some(&origin));
    // Fails here, with its hint, when the provider's packages are missing.
    provider.command(&[&origin])?;
    log(
        "stack",
        &format!(
            "starting the OpenID Provider on 127.0.0.1:{} (issuer {})",
            options.oidc_port,
            provider.issuer()
        ),
    );
    let (service_provider, service_origin) = (provider.clone(), origin.clone());
    let mut service = Service::new("oidc", Signal::SIGTERM, move || {
        service_provider
            .command(&[&service_origin])
            .expect("the provider's packages were found at start")
    });
    service.start()?;
    services.push(service);
    provider.wait_ready(READY_TIMEOUT).await?;
    let env = AuthEnv {
        issuer: provider.issuer().to_string(),
        jwks_file: provider.jwks_path(),
        jwks_url: format!("{}/jwks", provider.direct_issuer()),
    };
    Ok(Identity { provider, env })
}

/// The running OpenID Provider, and what the functions are told of it.
pub(super) struct Identity {
    provider: OidcProvider,
    pub(super) env: AuthEnv,
}

impl Identity {
    /// Who owns the tasks made before tasks had owners:
    /// `EXISTING_TASKS_OWNER`, or the first demo user (alice), so that
    /// signing in as her shows them.
    fn existing_owner(&self) -> anyhow::Result<String> {
        if let Ok(owner) = std::env::var("EXISTING_TASKS_OWNER")
            && !owner.trim().is_empty()
        {
            return Ok(owner);
        }
        let accounts = self.provider.accounts()?;
        let first = accounts
            .first()
            .context("the OpenID Provider has no accounts")?;
        Ok(first.sub.clone())
    }

    /// The `auth` block of `stack.json`.
    pub(super) fn info(&self, state_dir: &Path) -> anyhow::Result<AuthInfo> {
        let stack = std::env::current_exe().context("the stack binary's path")?;
        Ok(AuthInfo {
            issuer: self.provider.issuer().to_string(),
            audience: AUDIENCE.to_string(),
            client_id: WEB_CLIENT.to_string(),
            users: self
                .provider
                .accounts()?
                .into_iter()
                .map(|account| AuthUser {
                    username: account.username,
                    password: account.password,
                    roles: account.roles,
                    sub: account.sub,
                })
                .collect(),
            token_command: vec![
                stack.display().to_string(),
                "token".into(),
                "--state-dir".into(),
                state_dir.display().to_string(),
            ],
            jwks_file: self.env.jwks_file.display().to_string(),
            jwks_url: self.env.jwks_url.clone(),
        })
    }
}

/// PostgreSQL with the migrated database and the duties' login users.
pub(super) async fn start_postgres(
    options: &StackOptions,
    state_dir: &Path,
    identity: &Identity,
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

    let admin_url = database::prepare(&cluster, &credentials, &identity.existing_owner()?).await?;
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
pub(super) struct Database {
    pub(super) admin_url: String,
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
pub(super) fn binary(options: &StackOptions, name: &str) -> anyhow::Result<PathBuf> {
    let binary = options.bin_dir.join(name);
    if !binary.exists() {
        bail!(
            "{} is missing; build it first (`task build`, or `cargo build --workspace --bins`)",
            binary.display()
        );
    }
    Ok(binary)
}

/// nisshi on its own port, storing in its own database on the stack's
/// PostgreSQL server; returns the bootstrap address.
pub(super) async fn start_kafka(
    options: &StackOptions,
    database: &Database,
    services: &mut Vec<Service>,
) -> anyhow::Result<String> {
    let nisshi = find_nisshi()?;
    let (cluster, password) = (database.cluster.clone(), database.credentials.kafka.clone());
    let storage =
        tokio::task::spawn_blocking(move || prepare_storage(&cluster, &password)).await??;
    let port = options.kafka_port;
    log(
        "stack",
        &format!(
            "starting the Kafka-protocol broker (nisshi, stored in PostgreSQL database {STORAGE_DATABASE}) on 127.0.0.1:{port}"
        ),
    );
    let mut service = Service::new("kafka", Signal::SIGTERM, move || {
        broker_command(&nisshi, port, &storage)
    });
    service.start()?;
    services.push(service);
    let bootstrap = format!("127.0.0.1:{port}");
    let address = bootstrap.clone();
    tokio::task::spawn_blocking(move || wait_listening(&address, READY_TIMEOUT)).await??;
    let cluster = database.cluster.clone();
    tokio::task::spawn_blocking(move || keep_catalog_statistics(&cluster)).await??;
    Ok(bootstrap)
}

/// The local topic's partitions, instead of the manifests' 3. Each costs
/// nisshi one query per fetch round, records found or not; the dispatcher
/// delivers a partition's events side by side anyway (one task's in order),
/// so one is enough for one machine.
const LOCAL_TOPIC_PARTITIONS: u16 = 1;

/// One half of the local Knative broker, as a service.
pub(super) fn broker_service(
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
        "--partitions".into(),
        LOCAL_TOPIC_PARTITIONS.to_string().into(),
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
pub(super) async fn start_broker_receiver(
    options: &StackOptions,
    kafka_bootstrap: &str,
    services: &mut Vec<Service>,
) -> anyhow::Result<String> {
    let mut service = broker_service(
        options,
        "broker-ingress",
        kafka_bootstrap,
        options.broker_port,
        // The dispatcher (on the next port) pauses idle Triggers; the
        // receiver wakes them (`local_broker::idle`).
        vec![
            "receiver".into(),
            "--wake-dispatcher".into(),
            format!("http://127.0.0.1:{}/wake", options.broker_port + 1).into(),
        ],
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
pub(super) async fn start_broker_dispatcher(
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

pub(super) async fn start_functions(
    options: &StackOptions,
    database: &Database,
    event_sink: &str,
    auth: &AuthEnv,
    services: &mut Vec<Service>,
) -> anyhow::Result<Vec<(&'static str, u16)>> {
    let functions = options.function_ports();
    for (name, port) in &functions {
        let binary = binary(options, name)?;
        let env = function_env(name, *port, &database.url_for(name), event_sink, auth);
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

/// Polls `url` until it answers 200, failing early if the service dies.
pub(super) async fn wait_http_ok(
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
