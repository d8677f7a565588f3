//! `PUT /api/tasks/{id}` over HTTP against a real PostgreSQL.

use reqwest::Method;
use serde_json::{Value, json};
use task_core::task::{Task, TaskStatus};
use test_support::{TestApp, assert_problem, error_fields};

mod common;

use common::{put, put_if_match};

fn events() -> task_events::publisher::EventPublisher {
    test_support::publisher(update_task::FUNCTION, None, 500)
}

async fn app() -> TestApp {
    common::spawn(events()).await
}

async fn stored(app: &TestApp, id: i64) -> Task {
    task_core::TaskRepository::new(app.db.pool.clone())
        .find(id, None)
        .await
        .unwrap()
        .expect("the task exists")
}

async fn seeded() -> (TestApp, Task) {
    common::seeded(events(), "Write report").await
}

#[tokio::test]
async fn changes_only_the_fields_sent_and_bumps_the_version() {
    let (app, task) = seeded().await;
    let response = put(&app, task.id, r#"{"status":"in_progress"}"#).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["title"], "Write report");
    assert_eq!(body["status"], "in_progress");
    assert_eq!(body["version"], 2);

    let after = stored(&app, task.id).await;
    assert_eq!(after.status, TaskStatus::InProgress);
    assert_eq!(after.version, 2);
    assert!(after.updated_at > task.updated_at);
    assert_eq!(after.created_at, task.created_at);

    let body: Value = put(
        &app,
        task.id,
        r#"{"title":"  Final report ","description":"By Friday"}"#,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["title"], "Final report");
    assert_eq!(body["description"], "By Friday");
    assert_eq!(body["status"], "in_progress");
    assert_eq!(body["version"], 3);
}

#[tokio::test]
async fn a_null_description_clears_it() {
    let (app, task) = seeded().await;
    put(&app, task.id, r#"{"description":"temporary"}"#).await;
    let body: Value = put(&app, task.id, r#"{"description":null}"#)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["description"], Value::Null);
    assert_eq!(stored(&app, task.id).await.description, None);
}

#[tokio::test]
async fn a_change_that_changes_nothing_keeps_the_version() {
    let (app, task) = seeded().await;
    let response = put(
        &app,
        task.id,
        r#"{"title":"Write report","status":"pending"}"#,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let after = stored(&app, task.id).await;
    assert_eq!(after, task);
}

#[tokio::test]
async fn stores_strings_exactly_as_sent() {
    let (app, task) = seeded().await;
    let description = "<img src=x onerror=alert(1)> \\ \" ' `; SELECT 1; -- ✓";
    let body = json!({"description": description});
    let response: Value = put(&app, task.id, &body.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(response["description"], description);
    assert_eq!(
        stored(&app, task.id).await.description.as_deref(),
        Some(description)
    );
}

#[tokio::test]
async fn if_match_with_the_current_version_updates() {
    let (app, task) = seeded().await;
    let response = put_if_match(&app, task.id, "\"1\"", r#"{"status":"complete"}"#).await;
    assert_eq!(response.status(), 200);
    let response = put_if_match(&app, task.id, "*", r#"{"status":"pending"}"#).await;
    assert_eq!(response.status(), 200);
    let response = put_if_match(&app, task.id, "\"7\", \"3\"", r#"{"status":"complete"}"#).await;
    assert_eq!(response.status(), 200);
    assert_eq!(stored(&app, task.id).await.version, 4);
}

#[tokio::test]
async fn if_match_with_a_stale_version_is_412_with_the_current_task() {
    let (app, task) = seeded().await;
    put(&app, task.id, r#"{"title":"Changed elsewhere"}"#).await;

    let response = put_if_match(&app, task.id, "\"1\"", r#"{"status":"complete"}"#).await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let problem = assert_problem(response, 412).await;
    assert_eq!(problem["current"]["title"], "Changed elsewhere");
    assert_eq!(problem["current"]["version"], 2);
    assert_eq!(stored(&app, task.id).await.status, TaskStatus::Pending);
}

#[tokio::test]
async fn a_missing_task_is_404() {
    let app = app().await;
    assert_problem(put(&app, 31337, r#"{"title":"x"}"#).await, 404).await;
}

#[tokio::test]
async fn invalid_fields_are_422_naming_each_one_and_change_nothing() {
    let (app, task) = seeded().await;
    let body = json!({"title": "", "description": "d".repeat(10_001), "status": "archived"});
    let problem = assert_problem(put(&app, task.id, &body.to_string()).await, 422).await;
    assert_eq!(error_fields(&problem), ["title", "description", "status"]);

    for (body, field) in [
        ("{}", "body"),
        (r#"{"title":null}"#, "title"),
        (r#"{"status":null}"#, "status"),
    ] {
        let problem = assert_problem(put(&app, task.id, body).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    assert_eq!(stored(&app, task.id).await, task);
}

#[tokio::test]
async fn malformed_requests_are_400_415_or_413_and_change_nothing() {
    let (app, task) = seeded().await;
    for body in [
        "{",
        r#"{"title":1}"#,
        r#"{"done":true}"#,
        r#"{"status":["complete"]}"#,
    ] {
        assert_problem(put(&app, task.id, body).await, 400).await;
    }
    let response = app
        .client
        .put(app.url(&format!("/api/tasks/{}", task.id)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("title=x")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415).await;
    let big = json!({"description": "x".repeat(task_core::BODY_LIMIT_BYTES)});
    assert_problem(put(&app, task.id, &big.to_string()).await, 413).await;
    for id in ["0", "-5", "abc", "18446744073709551616"] {
        let response = app
            .send_json(Method::PUT, &format!("/api/tasks/{id}"), r#"{"title":"x"}"#)
            .await;
        assert_problem(response, 400).await;
    }
    assert_eq!(stored(&app, task.id).await, task);
}
