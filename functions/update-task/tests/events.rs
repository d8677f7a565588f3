//! What `update-task` sends to `K_SINK`, pinned with a wiremock sink.

use serde_json::{Value, json};
use task_core::task::Task;
use test_support::{SinkMock, TestApp, publisher};

mod common;

use common::{put, put_if_match};

async fn seeded(sink: &SinkMock) -> (TestApp, Task) {
    let events = publisher(update_task::FUNCTION, Some(&sink.url()), 500);
    common::seeded(events, "Paint fence").await
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

    app.settle().await;

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
    app.settle().await;
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
    let stale = put_if_match(&app, task.id, "\"9\"", r#"{"title":"x"}"#).await;
    assert_eq!(stale.status(), 412);
    app.settle().await;
    assert!(sink.events().await.is_empty());
    assert_eq!(app.db.count_events().await, 0);
}

/// The event is sent after the response; a function's quick successive
/// changes of one task still reach the sink in the order they were made.
#[tokio::test]
async fn quick_successive_updates_leave_in_order() {
    let sink = SinkMock::slow(std::time::Duration::from_millis(100)).await;
    let (app, task) = seeded(&sink).await;
    for n in 1..=5 {
        let body = format!(r#"{{"title":"take {n}"}}"#);
        assert_eq!(put(&app, task.id, &body).await.status(), 200);
    }
    app.settle().await;
    let versions: Vec<i64> = sink
        .events()
        .await
        .iter()
        .map(|e| e.body["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [2, 3, 4, 5, 6]);
    assert_eq!(app.db.count_unsent_events().await, 0);
}
