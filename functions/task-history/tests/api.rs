//! `GET /api/tasks/{id}/history` against a real PostgreSQL.

use serde_json::{Value, json};
use task_core::AuditLog;
use task_core::audit_log::AuditRecord;
use task_core::task::TaskStatus;
use test_support::{TestApp, assert_problem, identity};

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
    let alice = identity::sub("alice");
    AuditLog::new(app.db.pool.clone())
        .record(&AuditRecord {
            actor: Some(&alice),
            owner: Some(&alice),
            verified: true,
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
    assert!(response.headers().get("link").is_none());
    let history: Vec<Value> = response.json().await.unwrap();
    let ids: Vec<&str> = history
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e3", "e2", "e1"], "the newest change first");
    let types: Vec<&str> = history
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["task.deleted", "task.updated", "task.created"]);
    assert_eq!(history[1]["data"]["changes"]["title"]["new"], "b");
    assert_eq!(history[2]["time"], "2026-11-24T10:00:01Z");
    assert_eq!(history[2]["sequence"], 1);
    assert!(history[2]["processed_at"].is_string());
}

/// A task with 45 recorded changes, read 20 at a time by following the links.
#[tokio::test]
async fn a_long_history_comes_a_page_at_a_time_newest_first() {
    let app = app().await;
    for sequence in 1..=45 {
        let id = format!("e{sequence}");
        record(
            &app,
            (7, sequence),
            "task.updated",
            &id,
            "2026-11-24T10:00:00Z",
            json!({"id": 7, "version": sequence}),
        )
        .await;
    }
    let mut path = "/api/tasks/7/history".to_string();
    let mut pages = Vec::new();
    loop {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200);
        let link = response
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_string());
        let page: Vec<Value> = response.json().await.unwrap();
        pages.push(
            page.iter()
                .map(|e| e["sequence"].as_i64().unwrap())
                .collect::<Vec<_>>(),
        );
        match link {
            Some(link) => {
                assert!(link.ends_with("; rel=\"next\""), "{link}");
                path = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [20, 20, 5]);
    let all: Vec<i64> = pages.concat();
    assert_eq!(all, (1..=45).rev().collect::<Vec<_>>());
    let small: Vec<Value> = app
        .get("/api/tasks/7/history?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(small.len(), 2);
    for bad in ["limit=0", "limit=51", "cursor=abc", "cursor=1"] {
        let problem =
            assert_problem(app.get(&format!("/api/tasks/7/history?{bad}")).await, 422).await;
        assert!(!problem["errors"].as_array().unwrap().is_empty(), "{bad}");
    }
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
