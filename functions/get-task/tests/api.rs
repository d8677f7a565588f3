//! `GET /api/tasks/{id}` over HTTP against a real PostgreSQL.

use serde_json::Value;
use task_core::task::TaskStatus;
use test_support::{TestApp, assert_problem};

async fn app() -> TestApp {
    TestApp::spawn(get_task::FUNCTION, get_task::router()).await
}

#[tokio::test]
async fn returns_the_task_with_its_etag() {
    let app = app().await;
    let task = app
        .db
        .insert_task("Water plants", TaskStatus::Complete)
        .await;

    let response = app.get(&format!("/api/tasks/{}", task.id)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], task.id);
    assert_eq!(body["title"], "Water plants");
    assert_eq!(body["status"], "complete");
    assert_eq!(body["description"], Value::Null);
    assert_eq!(body["version"], 1);
}

#[tokio::test]
async fn a_missing_task_is_404() {
    let app = app().await;
    let problem = assert_problem(app.get("/api/tasks/424242").await, 404).await;
    assert!(problem["detail"].as_str().unwrap().contains("424242"));
}

#[tokio::test]
async fn an_id_that_is_not_a_positive_64_bit_integer_is_400() {
    let app = app().await;
    // Only the canonical form: one task, one URL.
    app.db
        .insert_task("One", task_core::task::TaskStatus::Pending)
        .await;
    assert_eq!(app.get("/api/tasks/1").await.status(), 200);
    for id in [
        "0",
        "-1",
        "abc",
        "1.0",
        "9223372036854775808",
        "%20",
        "1e3",
        "+1",
        "%2B1",
        "0001",
        "01",
    ] {
        assert_problem(app.get(&format!("/api/tasks/{id}")).await, 400).await;
    }
}
