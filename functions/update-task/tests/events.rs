//! What `update-task` sends to `K_SINK`, pinned with a wiremock sink.

use reqwest::Method;
use serde_json::{Value, json};
use task_core::task::{Task, TaskStatus};
use test_support::{SinkMock, TestApp, publisher};

async fn seeded(sink: &SinkMock) -> (TestApp, Task) {
    let events = publisher(update_task::FUNCTION, Some(&sink.url()), 500);
    let app = TestApp::spawn(update_task::FUNCTION, update_task::router(events)).await;
    let task = app.db.insert_task("Paint fence", TaskStatus::Pending).await;
    (app, task)
}

async fn put(app: &TestApp, id: i64, body: &str) -> reqwest::Response {
    app.send_json(Method::PUT, &format!("/api/tasks/{id}"), body)
        .await
}

#[tokio::test]
async fn an_update_sends_task_updated_with_the_changed_fields() {
    let sink = SinkMock::accepting().await;
    let (app, task) = seeded(&sink).await;
    let response = put(
        &app,
        task.id,
        r#"{"status":"complete","description":"white"}"#,
    )
    .await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();

    let events = sink.events().await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.header("ce-type"), "task.updated");
    assert_eq!(event.header("ce-source"), "/functions/update-task");
    assert_eq!(event.header("ce-subject"), task.id.to_string());
    assert_eq!(event.header("ce-partitionkey"), task.id.to_string());
    assert_eq!(event.header("content-type"), "application/json");

    let mut expected = updated.clone();
    expected["changes"] = json!({
        "description": {"old": null, "new": "white"},
        "status": {"old": "pending", "new": "complete"},
    });
    assert_eq!(event.body, expected);
    assert_eq!(app.db.count_unsent_events().await, 0);
}

#[tokio::test]
async fn an_update_that_changes_nothing_sends_nothing() {
    let sink = SinkMock::accepting().await;
    let (app, task) = seeded(&sink).await;
    let response = put(
        &app,
        task.id,
        r#"{"title":"Paint fence","status":"pending"}"#,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(sink.events().await.is_empty());
    assert_eq!(app.db.count_events().await, 0);
}

#[tokio::test]
async fn a_refused_update_sends_nothing() {
    let sink = SinkMock::accepting().await;
    let (app, task) = seeded(&sink).await;
    assert_eq!(
        put(&app, task.id, r#"{"status":"nope"}"#).await.status(),
        422
    );
    assert_eq!(
        put(&app, task.id + 1000, r#"{"title":"x"}"#).await.status(),
        404
    );
    let stale = app
        .client
        .put(app.url(&format!("/api/tasks/{}", task.id)))
        .header("if-match", "\"9\"")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    assert!(sink.events().await.is_empty());
    assert_eq!(app.db.count_events().await, 0);
}

#[tokio::test]
async fn an_update_behind_an_unsent_event_of_its_task_leaves_both_to_the_relay() {
    let sink = SinkMock::accepting().await;
    let (app, task) = seeded(&sink).await;
    // An earlier change whose event could not be sent (its sink was down).
    let unsent = publisher(update_task::FUNCTION, Some(&test_support::dead_url()), 500);
    let earlier =
        TestApp::spawn_on(&app.db, update_task::FUNCTION, update_task::router(unsent)).await;
    assert_eq!(
        put(&earlier, task.id, r#"{"title":"first"}"#)
            .await
            .status(),
        200
    );
    assert_eq!(app.db.count_unsent_events().await, 1);

    // Sending the next one now would overtake it: the relay sends both, in order.
    assert_eq!(
        put(&app, task.id, r#"{"title":"second"}"#).await.status(),
        200
    );
    assert!(sink.events().await.is_empty());
    assert_eq!(app.db.count_unsent_events().await, 2);
}
