//! `migrate`: applies the migrations to `DATABASE_URL`, waiting (up to
//! `MIGRATE_WAIT_SECS`, default 300) for the database to accept connections.
//! Tasks made before tasks had owners become `EXISTING_TASKS_OWNER`'s (a
//! user's `sub`; default `unowned`, which only an admin sees).
//! Run by the Knative deployment's Job; the local stack and the tests apply
//! the same embedded migrations themselves.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use task_core::config::{ConfigError, setting};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    task_core::serve::init_tracing();
    let lookup = |name: &str| std::env::var(name).ok();
    let Some(url) = lookup("DATABASE_URL").filter(|url| !url.is_empty()) else {
        let err = ConfigError::Missing("DATABASE_URL", "a PostgreSQL URL");
        tracing::error!(error = %err, "invalid configuration");
        return ExitCode::from(2);
    };
    let wait = match setting(&lookup, "MIGRATE_WAIT_SECS", 300u64) {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(err) => {
            tracing::error!(error = %err, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let mut conn = loop {
        match PgConnection::connect(&url).await {
            Ok(conn) => break conn,
            Err(err) if start.elapsed() < wait => {
                tracing::info!(error = %err, "waiting for the database");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(err) => {
                tracing::error!(error = %err, "the database did not become reachable");
                return ExitCode::FAILURE;
            }
        }
    };
    let existing_owner = lookup("EXISTING_TASKS_OWNER").unwrap_or_else(|| "unowned".into());
    match task_core::db::migrate(&mut conn, &existing_owner).await {
        Ok(()) => {
            tracing::info!(
                schema_version = task_core::db::expected_schema_version(),
                "migrations applied"
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %err, "migrations failed");
            ExitCode::FAILURE
        }
    }
}
