//! Creates that arrive together are written together (`CreateQueue`), and
//! each is still answered, stored and sent as its own.

use reqwest::Method;
use serde_json::Value;
use test_support::{SinkMock, TestApp, publisher};

async fn app_with_sink(sink: &str) -> TestApp {
    let events = publisher(create_task::FUNCTION, Some(sink), 5_000);
    TestApp::spawn(create_task::FUNCTION, create_task::router(events)).await
}

/// Sends `titles` as creates all at once; the status and body of each.
async fn create_all(app: &TestApp, titles: &[String]) -> Vec<(u16, Value)> {
    let creates = titles.iter().map(|title| async move {
        let body = serde_json::json!({ "title": title }).to_string();
        let response = app.send_json(Method::POST, "/api/tasks", &body).await;
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    });
    futures::future::join_all(creates).await
}

/// Transactions that wrote the tasks: rows one transaction inserted share its xmin.
async fn writing_transactions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM tasks")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn creates_that_arrive_together_share_commits_and_each_gets_its_own_task_and_event() {
    let sink = SinkMock::accepting().await;
    let app = app_with_sink(&sink.url()).await;
    let titles: Vec<String> = (0..60).map(|n| format!("task {n}")).collect();

    let answers = create_all(&app, &titles).await;

    for ((status, task), title) in answers.iter().zip(&titles) {
        assert_eq!(*status, 201, "{task}");
        assert_eq!(
            task["title"], *title,
            "each create answered with its own task"
        );
    }
    let mut ids: Vec<i64> = answers
        .iter()
        .map(|(_, task)| task["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 60);
    let transactions = writing_transactions(&app).await;
    assert!(
        transactions < 60,
        "60 creates at once took {transactions} commits"
    );

    app.settle().await;
    let events = sink.events().await;
    assert_eq!(events.len(), 60, "one event per create");
    for event in &events {
        let id = event.body["id"].to_string();
        assert_eq!(
            event.header("ce-subject"),
            id,
            "each event carries its own task"
        );
    }
    let outbox_matches: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM event_outbox o JOIN tasks t ON t.id = o.task_id \
         WHERE (o.event -> 'data' ->> 'title') = t.title AND o.sent_at IS NOT NULL",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        outbox_matches, 60,
        "each task's outbox row holds its own event, sent"
    );
}

#[tokio::test]
async fn a_row_the_database_refuses_fails_only_its_own_create() {
    let sink = SinkMock::accepting().await;
    let app = app_with_sink(&sink.url()).await;
    // A rule the request's validation does not know: only the database refuses it.
    sqlx::query("ALTER TABLE tasks ADD CONSTRAINT no_refused CHECK (title <> 'refused')")
        .execute(&app.db.pool)
        .await
        .unwrap();
    // Late among creates sent at once: it queues behind the first writers
    // and is written in a batch with others (as the test above shows).
    let mut titles: Vec<String> = (0..40).map(|n| format!("task {n}")).collect();
    titles[30] = "refused".into();

    let answers = create_all(&app, &titles).await;

    for (n, (status, body)) in answers.iter().enumerate() {
        let expected = if n == 30 { 500 } else { 201 };
        assert_eq!(*status, expected, "create {n}: {body}");
    }
    assert_eq!(app.db.count_tasks().await, 39);
    app.settle().await;
    assert_eq!(
        app.db.count_events().await,
        39,
        "no event for the refused create"
    );
    assert_eq!(sink.events().await.len(), 39);
}
