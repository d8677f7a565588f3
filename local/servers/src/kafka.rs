//! The local Kafka-protocol broker: nisshi (tansu's successor), keeping its
//! topics in PostgreSQL, in a database and role of its own on the server the
//! stack or the tests already run.
//!
//! Durable: a restart, even after SIGKILL, keeps every record it
//! acknowledged and every committed consumer offset. And flat: a fetch reads
//! a primary-key range with a limit, so its cost does not grow with the topic
//! (nisshi's memory storage lists a partition's every record per fetch).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::postgres::{PostgresCluster, PostgresError};

/// The nisshi version the project is tested with (`task setup` installs it).
pub const NISSHI_VERSION: &str = "0.8.1";

/// The broker's database and login role on the PostgreSQL server.
pub const STORAGE_DATABASE: &str = "kafka";
const STORAGE_ROLE: &str = "kafka";

/// How often nisshi applies the topics' retention (its default is 10 min).
const MAINTENANCE_INTERVAL: &str = "1m";

/// nisshi is not installed.
#[derive(Debug, thiserror::Error)]
#[error(
    "nisshi is not installed; run `task setup` (cargo install nisshi --version {NISSHI_VERSION} --locked --no-default-features --features postgres)"
)]
pub struct NisshiNotInstalled;

/// `nisshi` on the PATH or in cargo's bin directory.
pub fn find_nisshi() -> Result<PathBuf, NisshiNotInstalled> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin"));
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join("nisshi"))
        .find(|path| path.exists())
        .ok_or(NisshiNotInstalled)
}

/// Makes the broker's login role (with `password`) and its database on
/// `cluster` unless they exist; returns the storage URL nisshi is started
/// with. nisshi creates its own schema in it on first start.
pub fn prepare_storage(cluster: &PostgresCluster, password: &str) -> Result<String, PostgresError> {
    // The name is ours and the password letters and digits: nothing to escape.
    cluster.psql(
        "postgres",
        &format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{STORAGE_ROLE}') \
             THEN CREATE ROLE {STORAGE_ROLE} LOGIN; END IF; END $$; \
             ALTER ROLE {STORAGE_ROLE} LOGIN PASSWORD '{password}';"
        ),
    )?;
    let exists = cluster.psql(
        "postgres",
        &format!("SELECT 1 FROM pg_database WHERE datname = '{STORAGE_DATABASE}'"),
    )?;
    if exists.trim().is_empty() {
        cluster.psql(
            "postgres",
            &format!("CREATE DATABASE {STORAGE_DATABASE} OWNER {STORAGE_ROLE}"),
        )?;
    }
    // nisshi's maintenance statements are planned over the whole record
    // table, and PostgreSQL compiled them with JIT on every sweep: 0.4-0.7 s
    // each at 1,200,000 records, for statements that then ran in 1-2 ms.
    cluster.psql(
        "postgres",
        &format!("ALTER DATABASE {STORAGE_DATABASE} SET jit = off"),
    )?;
    Ok(format!(
        "{}?maintenance_interval={MAINTENANCE_INTERVAL}",
        cluster.url_as(STORAGE_ROLE, password, STORAGE_DATABASE)
    ))
}

/// nisshi's catalog: a handful of rows, too few changes for autovacuum's
/// default threshold (50) ever to analyze them.
const CATALOG_TABLES: [&str; 5] = [
    "cluster",
    "topic",
    "topition",
    "topic_configuration",
    "watermark",
];

/// Has autovacuum analyze nisshi's catalog tables after any change, and
/// analyzes them now; call it once nisshi listens (it creates its tables
/// before). Without their statistics, two of nisshi's retention statements
/// joined the catalog to every record: at 1,200,000 records 1.3-1.6 s and
/// 0.45-0.75 s of PostgreSQL per sweep, against 0.4 ms each with them.
pub fn keep_catalog_statistics(cluster: &PostgresCluster) -> Result<(), PostgresError> {
    let sql: String = CATALOG_TABLES
        .iter()
        .map(|table| {
            format!(
                "ALTER TABLE {table} SET (autovacuum_analyze_threshold = 0, \
                 autovacuum_analyze_scale_factor = 0); ANALYZE {table};"
            )
        })
        .collect();
    cluster.psql(STORAGE_DATABASE, &sql).map(drop)
}

/// The command that runs nisshi in the foreground on 127.0.0.1:`port`,
/// storing in `storage` (from [`prepare_storage`]).
pub fn broker_command(nisshi: &Path, port: u16, storage: &str) -> Command {
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(nisshi);
    command
        .arg("broker")
        .args(["--listener-url", &url, "--advertised-listener-url", &url])
        // Through the environment, not the command line: the URL holds a
        // password, and a process's arguments are readable by every user.
        .env("STORAGE_ENGINE", storage)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}
