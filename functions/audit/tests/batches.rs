//! Deliveries that arrive together are recorded together (`record.rs`), and
//! each is still recorded once and answered on its own.

use chrono::Utc;
use serde_json::Value;
use task_core::task::{Task, TaskStatus};
use test_support::TestApp;

fn task(id: i64) -> Value {
    let now = Utc::now();
    serde_json::to_value(Task {
        id,
        title: "Audit me".into(),
        description: None,
        status: TaskStatus::Pending,
        created_at: now,
        updated_at: now,
        version: 1,
    })
    .unwrap()
}

/// Delivers events `ids` (binary mode, one per task) all at once; the status of each.
async fn deliver_all(app: &TestApp, ids: &[String]) -> Vec<u16> {
    let deliveries = ids.iter().enumerate().map(|(n, id)| async move {
        let subject = (n as i64 + 1).to_string();
        let response = app
            .client
            .post(app.url("/"))
            .header("content-type", "application/json")
            .header("ce-specversion", "1.0")
            .header("ce-id", id)
            .header("ce-type", "task.created")
            .header("ce-source", "/functions/create-task")
            .header("ce-subject", &subject)
            .header("ce-partitionkey", &subject)
            .body(task(n as i64 + 1).to_string())
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    });
    futures::future::join_all(deliveries).await
}

#[tokio::test]
async fn deliveries_that_arrive_together_share_commits_and_an_event_sent_twice_is_one_row() {
    let app = TestApp::spawn(audit::FUNCTION, audit::router()).await;
    let mut ids: Vec<String> = (0..60).map(|n| format!("evt-{n}")).collect();
    // One event delivered five times at once (resends racing the first).
    for n in [40, 45, 50, 55] {
        ids[n] = "evt-30".into();
    }

    let statuses = deliver_all(&app, &ids).await;

    assert!(statuses.iter().all(|status| *status == 204), "{statuses:?}");
    assert_eq!(app.db.count_audit_rows().await, 56);
    let deliveries: i32 =
        sqlx::query_scalar("SELECT deliveries FROM task_audit_log WHERE event_id = 'evt-30'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(deliveries, 5, "each delivery counted");
    let transactions: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM task_audit_log")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(
        transactions < 56,
        "56 events at once took {transactions} commits"
    );
}

#[tokio::test]
async fn an_event_the_database_refuses_fails_only_its_own_delivery() {
    let app = TestApp::spawn(audit::FUNCTION, audit::router()).await;
    // A rule the parsing does not know: only the database refuses it.
    sqlx::query(
        "ALTER TABLE task_audit_log ADD CONSTRAINT no_refused CHECK (event_id <> 'refused')",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    // Late among deliveries sent at once: recorded in a batch with others.
    let mut ids: Vec<String> = (0..40).map(|n| format!("evt-{n}")).collect();
    ids[30] = "refused".into();

    let statuses = deliver_all(&app, &ids).await;

    for (n, status) in statuses.iter().enumerate() {
        assert_eq!(*status, if n == 30 { 500 } else { 204 }, "delivery {n}");
    }
    assert_eq!(app.db.count_audit_rows().await, 39);
}
