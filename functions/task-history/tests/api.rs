//! `GET /api/tasks/{id}/history` against a real PostgreSQL.

use serde_json::{Value, json};
use task_core::AuditLog;
use task_core::audit_log::AuditRecord;
use task_core::task::TaskStatus;
use test_support::{TestApp, assert_problem};

async fn app() -> TestApp {
    TestApp::spawn(task_history::FUNCTION, task_history::router()).await
}

/// Records event `id`, the change number `sequence` of task `task_id`.
async fn record(
    app: &TestApp,
    (task_id, sequence): (i64, i32),
    event_type: &str,
    id: &str,
    time: &str,
    data: Value,
) {
    let event = json!({"specversion": "1.0", "id": id, "type": event_type, "data": data});
    AuditLog::new(app.db.pool.clone())
        .record(&AuditRecord {
            event_type,
            task_id,
            task_sequence: sequence,
            event: &event,
            event_id: id,
            event_source: "/functions/test",
            event_time: Some(time.parse().unwrap()),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn lists_a_tasks_changes_in_the_order_made_whatever_their_arrival_and_clocks() {
    let app = app().await;
    // Arrived last-first; the update's clock ran behind the create's.
    record(
        &app,
        (5, 3),
        "task.deleted",
        "e3",
        "2026-11-24T10:00:03Z",
        json!({"id": 5}),
    )
    .await;
    record(
        &app,
        (5, 1),
        "task.created",
        "e1",
        "2026-11-24T10:00:01Z",
        json!({"id": 5, "title": "a"}),
    )
    .await;
    record(
        &app,
        (5, 2),
        "task.updated",
        "e2",
        "2026-11-24T10:00:00Z",
        json!({"id": 5, "changes": {"title": {"old": "a", "new": "b"}}}),
    )
    .await;
    record(
        &app,
        (6, 1),
        "task.created",
        "other",
        "2026-11-24T10:00:00Z",
        json!({"id": 6}),
    )
    .await;

    let response = app.get("/api/tasks/5/history").await;
    assert_eq!(response.status(), 200);
    let history: Vec<Value> = response.json().await.unwrap();
    let ids: Vec<&str> = history
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    let types: Vec<&str> = history
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["task.created", "task.updated", "task.deleted"]);
    assert_eq!(history[1]["data"]["changes"]["title"]["new"], "b");
    assert_eq!(history[0]["time"], "2026-11-24T10:00:01Z");
    assert!(history[0]["processed_at"].is_string());
}

#[tokio::test]
async fn a_task_whose_events_have_not_arrived_yet_has_an_empty_history() {
    let app = app().await;
    let task = app.db.insert_task("Fresh", TaskStatus::Pending).await;
    let history: Vec<Value> = app
        .get(&format!("/api/tasks/{}/history", task.id))
        .await
        .json()
        .await
        .unwrap();
    assert!(history.is_empty());
}

#[tokio::test]
async fn a_task_that_never_existed_is_404_and_a_bad_id_400() {
    let app = app().await;
    assert_problem(app.get("/api/tasks/999/history").await, 404).await;
    assert_problem(app.get("/api/tasks/0/history").await, 400).await;
    assert_problem(app.get("/api/tasks/abc/history").await, 400).await;
}
