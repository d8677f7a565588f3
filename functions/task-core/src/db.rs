//! The database pool and the migrations.

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool, Postgres, Transaction};

use crate::config::Config;

/// The migrations under `migrations/`, embedded at build time. The code never
/// creates tables by itself; the local stack and the tests apply these.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Applies the migrations on `conn`. Tasks made before tasks had owners
/// become `existing_owner`'s (the migration that adds owners reads it from
/// the session's `task_app.existing_owner`).
pub async fn migrate(
    conn: &mut sqlx::PgConnection,
    existing_owner: &str,
) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::query("SELECT set_config('task_app.existing_owner', $1, false)")
        .bind(existing_owner)
        .execute(&mut *conn)
        .await?;
    MIGRATOR.run(conn).await
}

/// The schema version this build expects: the newest embedded migration.
pub fn expected_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Connections idle longer than this are checked before use.
pub(crate) const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// A pool that connects on first use, so a function starts (and answers 503)
/// while the database is down, and recovers by itself when it returns.
pub fn lazy_pool(config: &Config) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = config.database_url.expose_secret().parse()?;
    // No query may hold a connection (and the database) for long: past the
    // timeout PostgreSQL cancels it (57014), which is answered 503.
    let options = options.options([(
        "statement_timeout",
        config.database_statement_timeout.as_millis().to_string(),
    )]);
    Ok(PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(config.database_acquire_timeout)
        // Ping only a connection that sat idle for a while (it may have died
        // with a database restart): a ping before every use doubled the round
        // trips of a busy function's requests.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < IDLE_BEFORE_PING {
                    return Ok(true);
                }
                Ok(conn.ping().await.is_ok())
            })
        })
        .connect_lazy_with(options))
}

/// In this transaction each statement is planned for its own values: the
/// absent filters fold away and the owner narrows the indexes. A plan kept
/// for any values (which PostgreSQL switches to after five runs when it
/// looks no dearer, and keeps as the table grows) can do neither with
/// `$n IS NULL OR ...`: a search read the newest tasks of every user (a
/// count at 1,000,000 tasks of 1,000 users took 162 ms), a page of a
/// history sorted the task's every entry (170 ms for 20,000 entries). These
/// cost milliseconds; planning them, a tenth of one.
pub(crate) async fn planned_for_its_values(
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(PLANNED_FOR_ITS_VALUES)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What [`planned_for_its_values`] sets (the search's bitmap-only
/// transaction sends it in the same round trip as its own settings).
pub(crate) const PLANNED_FOR_ITS_VALUES: &str = "SET LOCAL plan_cache_mode = force_custom_plan";
