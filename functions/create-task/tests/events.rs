//! What `create-task` sends to `K_SINK`, pinned with a wiremock sink.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use task_core::serve::serve;
use task_core::{AppState, build_app};
use test_support::{SinkMock, TestApp, TestDatabase, dead_url, publisher};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn app_with_sink(sink: &str, bound_ms: u64) -> TestApp {
    let events = publisher(create_task::FUNCTION, Some(sink), bound_ms);
    TestApp::spawn(create_task::FUNCTION, create_task::router(events)).await
}

async fn create(app: &TestApp, body: &str) -> reqwest::Response {
    app.send_json(Method::POST, "/api/tasks", body).await
}

/// A create made within the trace [`TRACEPARENT`].
async fn create_traced(app: &TestApp, task: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/tasks"))
        .header("traceparent", TRACEPARENT)
        .json(&task)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_create_sends_one_binary_mode_task_created_event() {
    let sink = SinkMock::accepting().await;
    let app = app_with_sink(&sink.url(), 500).await;
    let response = create_traced(
        &app,
        serde_json::json!({"title": "Buy milk", "description": "oat"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let task: Value = response.json().await.unwrap();

    app.settle().await;
    let events = sink.events().await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    let id = task["id"].to_string();
    assert_eq!(event.header("ce-specversion"), "1.0");
    assert_eq!(event.header("ce-type"), "task.created");
    assert_eq!(event.header("ce-source"), "/functions/create-task");
    assert_eq!(event.header("ce-subject"), id);
    assert_eq!(event.header("ce-partitionkey"), id);
    assert_eq!(event.header("content-type"), "application/json");
    assert_eq!(event.header("ce-traceparent"), TRACEPARENT);
    assert_eq!(event.header("traceparent"), TRACEPARENT);
    let event_id = uuid::Uuid::parse_str(event.header("ce-id")).expect("a UUID id");
    assert_eq!(event_id.get_version_num(), 7);
    assert!(event.header("ce-time").contains('T'));
    assert!(!event.has_header("ce-datacontenttype"));
    assert_eq!(event.body, task, "the data is the task as created");

    assert_eq!(app.db.count_events().await, 1);
    assert_eq!(
        app.db.count_unsent_events().await,
        0,
        "acknowledged: marked sent"
    );
}

/// The event is built in the statement that inserts the task: what the
/// outbox holds (and the relay would send) is what the function sent, and
/// its data reads exactly as the function's answer.
#[tokio::test]
async fn the_stored_event_is_the_sent_event() {
    let sink = SinkMock::accepting().await;
    let app = app_with_sink(&sink.url(), 500).await;
    let body = serde_json::json!({"title": "  Renew passport ", "status": "in_progress"});
    let response = create_traced(&app, body).await;
    let task: Value = response.json().await.unwrap();
    app.settle().await;
    let sent = &sink.events().await[0];
    let stored: Value = sqlx::query_scalar("SELECT event FROM event_outbox")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let id = task["id"].to_string();
    assert_eq!(stored["data"], task);
    assert_eq!(stored["data"], sent.body);
    assert_eq!(stored["id"], sent.header("ce-id"));
    // The same instant (binary mode writes its offset as +00:00).
    let instant = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap();
    assert_eq!(
        instant(stored["time"].as_str().unwrap()),
        instant(sent.header("ce-time"))
    );
    assert_eq!(stored["subject"], id.as_str());
    assert_eq!(stored["partitionkey"], id.as_str());
    assert_eq!(stored["type"], "task.created");
    assert_eq!(stored["source"], "/functions/create-task");
    assert_eq!(stored["traceparent"], TRACEPARENT);
    assert_eq!(stored["datacontenttype"], "application/json");
}

/// `rfc3339` (a migration) writes a timestamp as chrono does: the fraction
/// in as few of 0, 3 or 6 digits as keep it exact.
#[tokio::test]
async fn the_database_writes_timestamps_as_the_functions_do() {
    let db = TestDatabase::new().await;
    let second = chrono::DateTime::parse_from_rfc3339("2026-11-29T23:58:33Z")
        .unwrap()
        .to_utc();
    for micros in [0, 1, 120_000, 123_000, 123_456, 500_000, 999_999] {
        let time = second + chrono::Duration::microseconds(micros);
        let written: String = sqlx::query_scalar("SELECT rfc3339($1)")
            .bind(time)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(Value::from(written), serde_json::to_value(time).unwrap());
    }
    // Inlined into the statement that calls it: a call of a SQL function the
    // planner cannot inline is planned anew each time (0.15 ms, measured).
    let plan: Vec<String> = sqlx::query_scalar("EXPLAIN VERBOSE SELECT rfc3339(now())")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(!plan.concat().contains("rfc3339"), "{plan:?}");
}

#[tokio::test]
async fn without_a_traceparent_none_is_invented() {
    let sink = SinkMock::accepting().await;
    let app = app_with_sink(&sink.url(), 500).await;
    create(&app, r#"{"title":"x"}"#).await;
    app.settle().await;
    let events = sink.events().await;
    assert!(!events[0].has_header("ce-traceparent"));
    assert!(!events[0].has_header("traceparent"));
}

#[tokio::test]
async fn a_refused_create_sends_nothing_and_stores_nothing() {
    let sink = SinkMock::accepting().await;
    let app = app_with_sink(&sink.url(), 500).await;
    for body in [r#"{"title":""}"#, "{", r#"{"title":"x","extra":1}"#] {
        let status = create(&app, body).await.status();
        assert!(status.is_client_error(), "{body}: {status}");
    }
    app.settle().await;
    assert!(sink.events().await.is_empty());
    assert_eq!(app.db.count_events().await, 0);
}

#[tokio::test]
async fn a_sink_that_is_down_does_not_fail_the_request_and_the_event_waits() {
    let app = app_with_sink(&dead_url(), 500).await;
    for i in 0..5 {
        let response = create(&app, &format!(r#"{{"title":"t{i}"}}"#)).await;
        assert_eq!(response.status(), 201);
    }
    app.settle().await;
    assert_eq!(app.db.count_unsent_events().await, 5);
}

#[tokio::test]
async fn a_sink_that_refuses_leaves_the_event_unsent() {
    let sink = SinkMock::answering(wiremock::ResponseTemplate::new(503)).await;
    let app = app_with_sink(&sink.url(), 500).await;
    assert_eq!(create(&app, r#"{"title":"x"}"#).await.status(), 201);
    app.settle().await;
    assert_eq!(sink.events().await.len(), 1);
    assert_eq!(app.db.count_unsent_events().await, 1);
}

/// The function answers once the change has committed; the event is sent
/// after the response, and a sink slower than the bound leaves it to the relay.
#[tokio::test]
async fn the_answer_does_not_wait_for_the_sink() {
    let sink = SinkMock::slow(Duration::from_secs(10)).await;
    let app = app_with_sink(&sink.url(), 300).await;
    let start = Instant::now();
    assert_eq!(create(&app, r#"{"title":"x"}"#).await.status(), 201);
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    app.settle().await;
    assert_eq!(sink.events().await.len(), 1, "the send was tried");
    assert_eq!(app.db.count_unsent_events().await, 1);
}

/// A function stopping (Knative's SIGTERM) first finishes the sends it
/// started after its responses, within a bound.
async fn stopping_function(sink: &SinkMock, drain: Duration) -> (TestDatabase, bool) {
    let db = TestDatabase::new().await;
    let state = AppState::new(create_task::FUNCTION, db.pool.clone())
        .with_auth(test_support::identity::authenticator());
    let background = state.background.clone();
    let events = publisher(create_task::FUNCTION, Some(&sink.url()), 10_000);
    let app = build_app(create_task::router(events), state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/tasks", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(create_task::FUNCTION, listener, app, async {
        let _ = stopped.await;
    }));
    let response = test_support::client_as("alice")
        .await
        .post(url)
        .json(&serde_json::json!({"title": "made just before the stop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let finished = background.drain(drain).await;
    (db, finished)
}

#[tokio::test]
async fn a_stopping_function_finishes_its_sends_first() {
    let sink = SinkMock::slow(Duration::from_millis(300)).await;
    let (db, finished) = stopping_function(&sink, Duration::from_secs(5)).await;
    assert!(finished);
    assert_eq!(sink.events().await.len(), 1);
    assert_eq!(
        db.count_unsent_events().await,
        0,
        "sent and marked before exiting"
    );
}

#[tokio::test]
async fn a_stopping_function_leaves_what_it_cannot_finish_to_the_relay() {
    let sink = SinkMock::slow(Duration::from_secs(30)).await;
    let start = Instant::now();
    let (db, finished) = stopping_function(&sink, Duration::from_millis(200)).await;
    assert!(!finished);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the stop waited for the sink"
    );
    assert_eq!(
        db.count_unsent_events().await,
        1,
        "in the outbox, for the relay"
    );
}

/// A client that goes away while its change commits (wrk stopping, a
/// browser tab closed) drops the request; a commit that went through still
/// sends its event at once, not through the relay seconds later.
#[tokio::test]
async fn a_change_whose_client_went_away_during_the_commit_is_still_sent() {
    let sink = SinkMock::accepting().await;
    let db = TestDatabase::new().await;
    let state = AppState::new(create_task::FUNCTION, db.pool.clone());
    let events = publisher(create_task::FUNCTION, Some(&sink.url()), 10_000);
    let request: task_core::task::CreateTaskRequest =
        serde_json::from_str(r#"{"title":"the client left"}"#).unwrap();
    let mut change = events.begin(&state).await.unwrap();
    let task = task_core::TaskRepository::insert(change.conn(), &request.validate().unwrap(), "u1")
        .await
        .unwrap();
    // Polled once (the commit is under way), then dropped, as axum drops the
    // handler of a closed connection. Exactly once: a zero timeout fires on
    // the timer's next millisecond, by which the commit may have finished.
    let commit = change.commit(task_events::TaskEvent::Created(task), "u1", None);
    assert!(futures::FutureExt::now_or_never(commit).is_none());
    assert!(state.background.drain(Duration::from_secs(5)).await);
    assert_eq!(sink.events().await.len(), 1, "sent by the function itself");
    assert_eq!(db.count_unsent_events().await, 0);
}

/// Three creates, one after the other, by a create-task that may hold
/// `held` sends at once, to `sink`; the app once they are all answered.
async fn three_creates_holding(sink: &SinkMock, held: &str) -> TestApp {
    let url = sink.url();
    let events = task_events::publisher::EventPublisher::from_lookup(
        create_task::FUNCTION,
        |name| match name {
            "K_SINK" => Some(url.clone()),
            "EVENT_SENDS_HELD" => Some(held.into()),
            _ => None,
        },
    )
    .unwrap();
    let app = TestApp::spawn(create_task::FUNCTION, create_task::router(events)).await;
    for title in ["one", "two", "three"] {
        let body = format!(r#"{{"title":"{title}"}}"#);
        assert_eq!(create(&app, &body).await.status(), 201);
    }
    app.settle().await;
    app
}

/// Past `EVENT_SENDS_HELD` sends under way, and none done within the wait,
/// an event is not queued in memory: it waits in the outbox for the relay,
/// never sent by the function.
#[tokio::test]
async fn past_the_sends_it_may_hold_a_function_leaves_events_to_the_relay() {
    let sink = SinkMock::slow(Duration::from_secs(1)).await;
    let app = three_creates_holding(&sink, "2").await;
    assert_eq!(sink.events().await.len(), 2, "the third was never sent");
    assert_eq!(
        app.db.count_unsent_events().await,
        1,
        "it waits for the relay"
    );
}

/// A create that finds every send slot taken waits for one rather than
/// leave its event to the relay: under a burst the function goes at the
/// event path's pace, and sends its events itself.
#[tokio::test]
async fn a_create_waits_for_a_send_slot_that_comes_free() {
    let sink = SinkMock::slow(Duration::from_millis(200)).await;
    let app = three_creates_holding(&sink, "1").await;
    assert_eq!(sink.events().await.len(), 3, "each sent by the function");
    assert_eq!(app.db.count_unsent_events().await, 0);
}
