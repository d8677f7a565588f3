//! What `delete-task` sends to `K_SINK`, pinned with a wiremock sink.

use task_core::task::TaskStatus;
use test_support::{SinkMock, TestApp, publisher};

async fn app(sink: &SinkMock) -> TestApp {
    let events = publisher(delete_task::FUNCTION, Some(&sink.url()), 500);
    TestApp::spawn(delete_task::FUNCTION, delete_task::router(events)).await
}

#[tokio::test]
async fn a_delete_sends_task_deleted_with_the_task_as_it_was() {
    let sink = SinkMock::accepting().await;
    let app = app(&sink).await;
    let task = app
        .db
        .insert_task("Old chore", TaskStatus::InProgress)
        .await;
    let response = app
        .client
        .delete(app.url(&format!("/api/tasks/{}", task.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    app.settle().await;

    let events = sink.events().await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.header("ce-type"), "task.deleted");
    assert_eq!(event.header("ce-source"), "/functions/delete-task");
    assert_eq!(event.header("ce-subject"), task.id.to_string());
    assert_eq!(event.header("ce-partitionkey"), task.id.to_string());
    assert_eq!(event.body, serde_json::to_value(&task).unwrap());
    assert_eq!(app.db.count_unsent_events().await, 0);
}

#[tokio::test]
async fn deleting_a_missing_task_sends_nothing() {
    let sink = SinkMock::accepting().await;
    let app = app(&sink).await;
    let response = app
        .client
        .delete(app.url("/api/tasks/5"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    app.settle().await;
    assert!(sink.events().await.is_empty());
    assert_eq!(app.db.count_events().await, 0);
}
