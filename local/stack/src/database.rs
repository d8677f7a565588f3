//! The local stack's database: a private PostgreSQL cluster with password
//! authentication, the `tasks` database migrated, and one login user per
//! duty (a member of the duty's role, which the migrations create), so that
//! each function connects with only the rights its duty needs, as on Knative.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use task_core::routes::Duty;

use servers::postgres::{PostgresCluster, random_password, write_private};

/// The database the functions use.
pub const DATABASE: &str = "tasks";

/// The passwords of the local cluster, made once and kept in
/// `<state dir>/credentials.json`, readable by its owner only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The superuser's (the stack itself, migrations, operator tools).
    pub postgres: String,
    /// Each duty's login user (`reader`, `writer`, ...) -> its password.
    pub users: BTreeMap<String, String>,
    /// The Kafka-protocol broker's login user (its own database: `kafka`).
    #[serde(default = "random_password")]
    pub kafka: String,
}

impl Credentials {
    fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("credentials.json")
    }

    /// Reads the passwords, or makes and stores them on first use.
    pub fn load_or_create(state_dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path(state_dir);
        if let Ok(text) = std::fs::read_to_string(&path) {
            let mut credentials: Self = serde_json::from_str(&text).with_context(|| {
                format!("{} is not valid; delete it to start over", path.display())
            })?;
            credentials.complete();
            return Ok(credentials);
        }
        let mut credentials = Self {
            postgres: random_password(),
            users: BTreeMap::new(),
            kafka: random_password(),
        };
        credentials.complete();
        write_private(&path, &serde_json::to_string_pretty(&credentials)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(credentials)
    }

    fn complete(&mut self) {
        for duty in Duty::ALL {
            self.users
                .entry(duty.name().to_string())
                .or_insert_with(random_password);
        }
    }

    /// The login user of `duty`.
    pub fn user(duty: Duty) -> String {
        format!("task_app_{}", duty.name())
    }

    pub fn password(&self, duty: Duty) -> &str {
        &self.users[duty.name()]
    }
}

/// Creates the `tasks` database unless it exists, applies the migrations
/// (tasks made before tasks had owners become `existing_owner`'s), and makes
/// each duty's login user (with its password, a member of its role).
/// Returns the superuser's URL.
pub async fn prepare(
    cluster: &PostgresCluster,
    credentials: &Credentials,
    existing_owner: &str,
) -> anyhow::Result<String> {
    let mut admin = PgConnection::connect(&cluster.url("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::query("CREATE DATABASE tasks")
            .execute(&mut admin)
            .await?;
    }
    admin.close().await?;

    let url = cluster.url(DATABASE);
    let mut conn = PgConnection::connect(&url).await?;
    task_core::db::migrate(&mut conn, existing_owner)
        .await
        .context("applying the migrations")?;
    for duty in Duty::ALL {
        let user = Credentials::user(duty);
        // Names are ours and passwords letters and digits: nothing to escape.
        let statements = [
            format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') \
                 THEN CREATE ROLE {user} LOGIN; END IF; END $$"
            ),
            format!(
                "ALTER ROLE {user} LOGIN PASSWORD '{}'",
                credentials.password(duty)
            ),
            format!("GRANT {} TO {user}", duty.role()),
        ];
        for statement in statements {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .with_context(|| format!("creating the login user {user}"))?;
        }
    }
    conn.close().await?;
    Ok(url)
}

/// The URL a function of `duty` connects with.
pub fn url_for(cluster: &PostgresCluster, credentials: &Credentials, duty: Duty) -> String {
    cluster.url_as(
        &Credentials::user(duty),
        credentials.password(duty),
        DATABASE,
    )
}
