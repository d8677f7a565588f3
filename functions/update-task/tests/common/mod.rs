//! What the tests of `PUT /api/tasks/{id}` share: the function over a fresh
//! database, one task to change, and the request with and without If-Match.

use reqwest::{Method, Response};
use task_core::task::{Task, TaskStatus};
use task_events::publisher::EventPublisher;
use test_support::TestApp;

/// The function, sending its events through `events`, over a fresh database.
pub async fn spawn(events: EventPublisher) -> TestApp {
    TestApp::spawn(update_task::FUNCTION, update_task::router(events)).await
}

/// [`spawn`], with one pending task titled `title`.
pub async fn seeded(events: EventPublisher, title: &str) -> (TestApp, Task) {
    let app = spawn(events).await;
    let task = app.db.insert_task(title, TaskStatus::Pending).await;
    (app, task)
}

pub async fn put(app: &TestApp, id: i64, body: &str) -> Response {
    app.send_json(Method::PUT, &format!("/api/tasks/{id}"), body)
        .await
}

pub async fn put_if_match(app: &TestApp, id: i64, if_match: &str, body: &str) -> Response {
    app.client
        .put(app.url(&format!("/api/tasks/{id}")))
        .header("content-type", "application/json")
        .header("if-match", if_match)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}
