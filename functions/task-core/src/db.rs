//! The database pool and the migrations.

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::Config;

/// The migrations under `migrations/`, embedded at build time. The code never
/// creates tables by itself; the local stack and the tests apply these.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The schema version this build expects: the newest embedded migration.
pub fn expected_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// A pool that connects on first use, so a function starts (and answers 503)
/// while the database is down, and recovers by itself when it returns.
pub fn lazy_pool(config: &Config) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = config.database_url.parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(config.database_acquire_timeout)
        .connect_lazy_with(options))
}
