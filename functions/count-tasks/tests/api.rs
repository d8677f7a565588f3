//! `GET /api/task-counts` against a real PostgreSQL.

use serde_json::{Value, json};
use task_core::task::TaskStatus;
use test_support::{TestApp, assert_problem, error_fields};

async fn app() -> TestApp {
    TestApp::spawn(count_tasks::FUNCTION, count_tasks::router()).await
}

#[tokio::test]
async fn counts_every_status_and_the_total() {
    let app = app().await;
    let empty: Value = app.get("/api/task-counts").await.json().await.unwrap();
    assert_eq!(
        empty,
        json!({"total": 0, "pending": 0, "in_progress": 0, "complete": 0})
    );

    for (title, status) in [
        ("Buy milk", TaskStatus::Pending),
        ("Buy bread", TaskStatus::Complete),
        ("Call mum", TaskStatus::Pending),
        ("Fix bike", TaskStatus::InProgress),
    ] {
        app.db.insert_task(title, status).await;
    }
    let counts: Value = app.get("/api/task-counts").await.json().await.unwrap();
    assert_eq!(
        counts,
        json!({"total": 4, "pending": 2, "in_progress": 1, "complete": 1})
    );
    let counts: Value = app
        .get("/api/task-counts?q=BUY")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        counts,
        json!({"total": 2, "pending": 1, "in_progress": 0, "complete": 1})
    );
}

#[tokio::test]
async fn a_bad_search_is_422() {
    let app = app().await;
    let long = "x".repeat(256);
    let problem = assert_problem(app.get(&format!("/api/task-counts?q={long}")).await, 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
    assert_problem(app.get("/api/task-counts?q=a&q=b").await, 400).await;
}
