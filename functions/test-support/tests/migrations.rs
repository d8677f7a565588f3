//! Upgrading a database that holds tasks from before tasks had owners: the
//! migration that adds them gives every existing task the configured owner
//! (no task lost), counts them for that owner, and leaves the audit records
//! readable in their tasks' histories.

use sqlx::{AssertSqlSafe, Executor};
use task_core::db::MIGRATOR;

/// The migration that adds owners and actors.
const OWNERS: i64 = 20261204000001;

#[tokio::test]
async fn existing_tasks_get_the_configured_owner() {
    let db = test_support::TestDatabase::empty().await;
    let mut tx = db.pool.begin().await.unwrap();
    // The migrations' own ledger (a migration grants reading it).
    tx.execute("CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, success boolean)")
        .await
        .unwrap();
    for migration in MIGRATOR.iter().filter(|m| m.version < OWNERS) {
        tx.execute(sqlx::raw_sql(AssertSqlSafe(
            migration.sql.as_str().to_string(),
        )))
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // What the app held before: tasks and their audit records, no owners.
    sqlx::raw_sql(
        "INSERT INTO tasks (title, status) SELECT 'old ' || n, 'pending' FROM generate_series(1, 5) n;
         INSERT INTO task_audit_log (event_type, task_id, task_sequence, event_data, event_id, event_source)
             VALUES ('task.created', 1, 1, '{}', 'e1', '/functions/create-task'),
                    ('task.created', 2, 1, '{}', 'e2', '/tests/by-hand');",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let owners = MIGRATOR.iter().find(|m| m.version == OWNERS).unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('task_app.existing_owner', 'the-first-user', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.execute(sqlx::raw_sql(AssertSqlSafe(
        owners.sql.as_str().to_string(),
    )))
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let tasks: Vec<(String, i64)> =
        sqlx::query_as("SELECT owner, count(*) FROM tasks GROUP BY owner")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(tasks, [("the-first-user".to_string(), 5)]);
    let counted: i64 = sqlx::query_scalar(
        "SELECT sum(count)::bigint FROM task_owner_status_counts WHERE owner = 'the-first-user'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(counted, 5);
    let audit: Vec<(String, Option<String>, bool)> =
        sqlx::query_as("SELECT event_id, owner, verified FROM task_audit_log ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        [
            ("e1".into(), Some("the-first-user".into()), true),
            ("e2".into(), Some("the-first-user".into()), false),
        ]
    );
    // New tasks need an owner of their own: the default was only for the old ones.
    let refused = sqlx::query("INSERT INTO tasks (title) VALUES ('no owner')")
        .execute(&db.pool)
        .await;
    assert!(refused.is_err());
}
