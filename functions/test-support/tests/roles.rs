//! Least privilege in the database: each function connects as a member of
//! its duty's role (the migrations create the roles and their grants), and a
//! duty can do what its functions need and nothing else. Every function's
//! own tests run connected the same way.

use task_core::routes::Duty;
use test_support::TestDatabase;

/// Runs `sql` as `duty`; Ok, or the error's SQLSTATE.
async fn run(db: &TestDatabase, duty: Duty, sql: &str) -> Result<(), String> {
    let pool = db.pool_as(duty).await;
    let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await;
    pool.close().await;
    result.map(|_| ()).map_err(|err| match err {
        sqlx::Error::Database(db) => db.code().unwrap_or_default().into_owned(),
        other => other.to_string(),
    })
}

const DENIED: &str = "42501"; // insufficient_privilege

async fn seeded() -> TestDatabase {
    let db = TestDatabase::new().await;
    sqlx::raw_sql(
        "INSERT INTO tasks (title, owner) VALUES ('seeded', 'u1');
         INSERT INTO event_outbox (event_id, event, task_id) VALUES (gen_random_uuid(), '{}', 1);
         INSERT INTO task_audit_log (event_type, task_id, task_sequence, event_data, event_id, event_source, verified)
             VALUES ('task.created', 1, 1, '{}', 'e1', '/test', false);",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    db
}

#[tokio::test]
async fn a_reading_function_cannot_write_anything() {
    let db = seeded().await;
    for allowed in [
        "SELECT * FROM tasks",
        "SELECT * FROM task_status_counts",
        "SELECT * FROM task_owner_status_counts",
        "SELECT * FROM task_audit_log",
        "SELECT max(version) FROM _sqlx_migrations",
    ] {
        assert_eq!(run(&db, Duty::Read, allowed).await, Ok(()), "{allowed}");
    }
    for denied in [
        "INSERT INTO tasks (title, owner) VALUES ('x', 'u1')",
        "UPDATE tasks SET title = 'x'",
        "DELETE FROM tasks",
        "SELECT * FROM event_outbox",
        "UPDATE task_audit_log SET event_type = 'x'",
        "DELETE FROM task_audit_log",
        "UPDATE task_status_counts SET count = 0",
        "SELECT * FROM suspect_events",
        "CREATE TABLE mine (x int)",
        "DROP TABLE tasks",
    ] {
        assert_eq!(
            run(&db, Duty::Read, denied).await,
            Err(DENIED.into()),
            "{denied}"
        );
    }
}

#[tokio::test]
async fn a_writing_function_changes_tasks_and_the_outbox_only() {
    let db = seeded().await;
    for allowed in [
        "INSERT INTO tasks (title, owner) VALUES ('x', 'u1')",
        "UPDATE tasks SET status = 'complete'",
        "DELETE FROM tasks WHERE title = 'x'",
        "INSERT INTO event_outbox (event_id, event, task_id) VALUES (gen_random_uuid(), '{}', 1)",
        "UPDATE event_outbox SET sent_at = now()",
    ] {
        assert_eq!(run(&db, Duty::Write, allowed).await, Ok(()), "{allowed}");
    }
    for denied in [
        "SELECT * FROM task_audit_log",
        "INSERT INTO task_audit_log (event_type, task_id, task_sequence, event_data, event_id, event_source, verified) VALUES ('x', 1, 1, '{}', 'forged', '/x', true)",
        "DELETE FROM event_outbox",
        "UPDATE task_status_counts SET count = 0",
        "TRUNCATE tasks",
    ] {
        assert_eq!(
            run(&db, Duty::Write, denied).await,
            Err(DENIED.into()),
            "{denied}"
        );
    }
    // The counters follow the writers' changes, through the triggers' rights.
    let counted: i64 = sqlx::query_scalar("SELECT sum(count)::bigint FROM task_status_counts")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(counted, 1);
}

#[tokio::test]
async fn the_audit_function_records_but_never_rewrites_the_log() {
    let db = seeded().await;
    for allowed in [
        "INSERT INTO task_audit_log (event_type, task_id, task_sequence, event_data, event_id, event_source, verified) VALUES ('task.created', 2, 1, '{}', 'e2', '/test', false)",
        "UPDATE task_audit_log SET deliveries = deliveries + 1 WHERE event_id = 'e1'",
        // The check of a delivery against the change that wrote it.
        "SELECT event_id, actor, owner, event FROM event_outbox",
        "SELECT id, owner FROM tasks",
        "INSERT INTO suspect_events (event_source, event_id, reason, event) VALUES ('/functions/x', 'f', 'forged', '{}')",
    ] {
        assert_eq!(run(&db, Duty::Audit, allowed).await, Ok(()), "{allowed}");
    }
    for denied in [
        "UPDATE task_audit_log SET event_data = '{}'",
        "DELETE FROM task_audit_log",
        "SELECT * FROM tasks",
        "SELECT * FROM event_outbox",
        "UPDATE event_outbox SET actor = 'someone else'",
        "DELETE FROM suspect_events",
    ] {
        assert_eq!(
            run(&db, Duty::Audit, denied).await,
            Err(DENIED.into()),
            "{denied}"
        );
    }
}

#[tokio::test]
async fn the_relay_works_the_outbox_and_only_reads_the_log() {
    let db = seeded().await;
    for allowed in [
        "UPDATE event_outbox SET leased_until = now()",
        "SELECT count(*) FROM task_audit_log",
        "SELECT count(*) FROM suspect_events",
        "DELETE FROM event_outbox",
    ] {
        assert_eq!(run(&db, Duty::Relay, allowed).await, Ok(()), "{allowed}");
    }
    for denied in [
        "INSERT INTO task_audit_log (event_type, task_id, task_sequence, event_data, event_id, event_source, verified) VALUES ('x', 1, 1, '{}', 'forged', '/x', true)",
        "UPDATE tasks SET title = 'x'",
        "SELECT * FROM tasks",
    ] {
        assert_eq!(
            run(&db, Duty::Relay, denied).await,
            Err(DENIED.into()),
            "{denied}"
        );
    }
}
