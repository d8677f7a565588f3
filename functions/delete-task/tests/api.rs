//! `DELETE /api/tasks/{id}` over HTTP against a real PostgreSQL.

use task_core::task::TaskStatus;
use test_support::{TestApp, assert_problem};

async fn app() -> TestApp {
    TestApp::spawn(
        delete_task::FUNCTION,
        delete_task::router(test_support::publisher(delete_task::FUNCTION, None, 500)),
    )
    .await
}

async fn delete(app: &TestApp, id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/api/tasks/{id}")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn deletes_a_task_with_204_then_it_is_404() {
    let app = app().await;
    let kept = app.db.insert_task("Keep me", TaskStatus::Pending).await;
    let task = app.db.insert_task("Delete me", TaskStatus::Pending).await;

    let response = delete(&app, &task.id.to_string()).await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(app.db.count_tasks().await, 1);

    assert_problem(delete(&app, &task.id.to_string()).await, 404).await;
    assert_eq!(app.db.count_tasks().await, 1, "{} must remain", kept.id);
}

#[tokio::test]
async fn a_missing_task_is_404() {
    let app = app().await;
    assert_problem(delete(&app, "77").await, 404).await;
}

#[tokio::test]
async fn a_bad_id_is_400_and_deletes_nothing() {
    let app = app().await;
    app.db.insert_task("Still here", TaskStatus::Pending).await;
    for id in ["0", "-1", "x", "99999999999999999999"] {
        assert_problem(delete(&app, id).await, 400).await;
    }
    assert_eq!(app.db.count_tasks().await, 1);
}
