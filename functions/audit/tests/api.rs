//! The audit function against a real PostgreSQL: binary and structured mode,
//! redelivery, bad events, percent-encoded headers, a database that is down,
//! deliveries that arrive together (recorded together, each answered alone).
//! Events posted by hand come from a test source (recorded unverified);
//! `provenance.rs` has the app's own events, checked against the outbox.

use chrono::Utc;
use serde_json::{Value, json};
use task_core::task::{Task, TaskStatus};
use test_support::{TestApp, TestDatabase, assert_problem};

async fn app() -> TestApp {
    TestApp::spawn(audit::FUNCTION, audit::router()).await
}

fn task(id: i64) -> Value {
    let now = Utc::now();
    serde_json::to_value(Task {
        id,
        title: "Audit me".into(),
        description: None,
        status: TaskStatus::Pending,
        created_at: now,
        updated_at: now,
        version: 1,
        owner: "someone".into(),
    })
    .unwrap()
}

async fn post_binary(app: &TestApp, headers: &[(&str, &str)], body: &Value) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/"))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// The source of the events these tests post by hand.
const BY_HAND: &str = "/tests/audit";

fn binary_headers<'a>(id: &'a str, ty: &'a str, subject: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ce-specversion", "1.0"),
        ("ce-id", id),
        ("ce-type", ty),
        ("ce-source", BY_HAND),
        ("ce-subject", subject),
        ("ce-time", "2026-11-24T06:00:00Z"),
        ("ce-partitionkey", subject),
    ]
}

async fn rows(db: &TestDatabase) -> Vec<(String, i64, String, String, Value)> {
    sqlx::query_as(
        "SELECT event_type, task_id, event_id, event_source, event_data FROM task_audit_log ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn records_a_binary_mode_event_and_answers_an_empty_204() {
    let app = app().await;
    let data = task(3);
    let response = post_binary(&app, &binary_headers("evt-1", "task.created", "3"), &data).await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());

    let rows = rows(&app.db).await;
    assert_eq!(rows.len(), 1);
    let (event_type, task_id, event_id, source, event) = &rows[0];
    assert_eq!((event_type.as_str(), *task_id), ("task.created", 3));
    assert_eq!((event_id.as_str(), source.as_str()), ("evt-1", BY_HAND));
    // The whole event, in structured form.
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["subject"], "3");
    assert_eq!(event["partitionkey"], "3");
    assert_eq!(event["time"], "2026-11-24T06:00:00Z");
    assert_eq!(event["data"], data);
}

#[tokio::test]
async fn records_a_structured_mode_event() {
    let app = app().await;
    let data = task(8);
    let event = json!({
        "specversion": "1.0",
        "id": "structured-1",
        "type": "task.deleted",
        "source": "/tests/by-hand",
        "subject": "8",
        "datacontenttype": "application/json",
        "data": data,
    });
    let response = app
        .client
        .post(app.url("/"))
        .header("content-type", "application/cloudevents+json")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let rows = rows(&app.db).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "task.deleted");
    assert_eq!(rows[0].4["data"], data);
}

#[tokio::test]
async fn the_same_event_delivered_three_times_is_one_row() {
    let app = app().await;
    let data = task(4);
    for _ in 0..3 {
        let response =
            post_binary(&app, &binary_headers("evt-dup", "task.created", "4"), &data).await;
        assert_eq!(response.status(), 204);
    }
    assert_eq!(app.db.count_audit_rows().await, 1);
    let deliveries: i32 = sqlx::query_scalar("SELECT deliveries FROM task_audit_log")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(deliveries, 3, "each redelivery is counted");
    // The same id from another source is another event.
    let mut headers = binary_headers("evt-dup", "task.created", "4");
    headers[3] = ("ce-source", "/tests/another");
    assert_eq!(post_binary(&app, &headers, &data).await.status(), 204);
    assert_eq!(app.db.count_audit_rows().await, 2);
}

#[tokio::test]
async fn percent_encoded_header_values_are_decoded() {
    let app = app().await;
    let data = task(5);
    let mut headers = binary_headers("id%20with%20spaces%25", "task.created", "5");
    headers[3] = ("ce-source", "/tests/caf%C3%A9");
    headers.push(("ce-comment", "%22quoted%22%20%E2%9C%93"));
    assert_eq!(post_binary(&app, &headers, &data).await.status(), 204);
    let rows = rows(&app.db).await;
    assert_eq!(rows[0].2, "id with spaces%");
    assert_eq!(rows[0].3, "/tests/café");
    assert_eq!(rows[0].4["comment"], "\"quoted\" ✓");
}

#[tokio::test]
async fn malformed_and_foreign_events_are_400_and_write_nothing() {
    let app = app().await;
    let good = task(6);
    let cases: Vec<(Vec<(&str, &str)>, Value)> = vec![
        // Not a CloudEvent at all.
        (vec![], good.clone()),
        // A foreign type.
        (
            binary_headers("a", "com.example.order.placed", "6"),
            good.clone(),
        ),
        // A subject that is no task id.
        (binary_headers("b", "task.created", "six"), good.clone()),
        (binary_headers("c", "task.created", "-6"), good.clone()),
        // Data about another task than the subject.
        (binary_headers("d", "task.created", "7"), good.clone()),
        // Data of the wrong shape.
        (binary_headers("e", "task.created", "6"), json!({"id": 6})),
        (binary_headers("f", "task.updated", "6"), good.clone()),
        // Bad percent-encoding.
        (binary_headers("%FF%FE", "task.created", "6"), good.clone()),
        // A missing required attribute.
        (
            vec![("ce-specversion", "1.0"), ("ce-type", "task.created")],
            good.clone(),
        ),
    ];
    for (headers, body) in cases {
        let response = post_binary(&app, &headers, &body).await;
        assert_problem(response, 400).await;
    }
    let response = app
        .client
        .post(app.url("/"))
        .header("content-type", "application/cloudevents+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(response, 400).await;
    assert_eq!(app.db.count_audit_rows().await, 0);
}

#[tokio::test]
async fn a_database_that_is_down_is_503_so_the_broker_retries() {
    let db = TestDatabase::new().await;
    let (pool, proxy) = db.behind_proxy().await;
    let app = TestApp::spawn_with_pool(audit::FUNCTION, audit::router(), pool, db).await;
    proxy.switch_off();
    let response = post_binary(&app, &binary_headers("x", "task.created", "9"), &task(9)).await;
    assert_problem(response, 503).await;
    proxy.switch_on();
    let response = post_binary(&app, &binary_headers("x", "task.created", "9"), &task(9)).await;
    assert_eq!(response.status(), 204);
    assert_eq!(app.db.count_audit_rows().await, 1);
}

#[tokio::test]
async fn every_change_has_its_place_in_the_tasks_life() {
    let app = app().await;
    let mut updated = task(9);
    updated["version"] = json!(4);
    updated["changes"] = json!({"title": {"old": "a", "new": "Audit me"}});
    let mut deleted = task(9);
    deleted["version"] = json!(4);
    for (id, ty, data) in [
        ("s1", "task.created", task(9)),
        ("s4", "task.updated", updated),
        ("s5", "task.deleted", deleted),
    ] {
        assert_eq!(
            post_binary(&app, &binary_headers(id, ty, "9"), &data)
                .await
                .status(),
            204
        );
    }
    let sequences: Vec<(String, i32)> =
        sqlx::query_as("SELECT event_id, task_sequence FROM task_audit_log ORDER BY id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let expected = [("s1", 1), ("s4", 4), ("s5", 5)].map(|(id, n)| (id.to_string(), n));
    assert_eq!(sequences, expected);
}

/// The largest event a valid API request can cause (a 255-character title
/// and a 10,000-character description both replaced, every character one
/// that JSON escapes to six bytes) is larger than any API request;
/// the audit function takes it. Only what the broker cannot carry is 413.
#[tokio::test]
async fn the_largest_valid_change_is_recorded_and_only_what_no_broker_carries_is_413() {
    let app = app().await;
    let text = |c: char, n: usize| c.to_string().repeat(n);
    let mut data = task(10);
    data["title"] = json!(text('\u{2}', 255));
    data["description"] = json!(text('\u{2}', 10_000));
    data["version"] = json!(2);
    data["changes"] = json!({
        "title": {"old": text('\u{1}', 255), "new": text('\u{2}', 255)},
        "description": {"old": text('\u{1}', 10_000), "new": text('\u{2}', 10_000)},
    });
    let body = data.to_string();
    assert!(body.len() > 180_000, "{} bytes", body.len());
    let response = post_binary(&app, &binary_headers("big", "task.updated", "10"), &data).await;
    assert_eq!(response.status(), 204);
    assert_eq!(rows(&app.db).await[0].4["data"], data);

    let mut huge = task(11);
    huge["description"] = json!("x".repeat(task_events::MAX_EVENT_BYTES));
    let response = post_binary(&app, &binary_headers("huge", "task.created", "11"), &huge).await;
    assert_problem(response, 413).await;
}

/// Delivers events `ids` (binary mode, one per task) all at once; the status of each.
async fn deliver_all(app: &TestApp, ids: &[String]) -> Vec<u16> {
    let deliveries = ids.iter().enumerate().map(|(n, id)| async move {
        let subject = (n as i64 + 1).to_string();
        let response = app
            .client
            .post(app.url("/"))
            .header("content-type", "application/json")
            .header("ce-specversion", "1.0")
            .header("ce-id", id)
            .header("ce-type", "task.created")
            .header("ce-source", BY_HAND)
            .header("ce-subject", &subject)
            .header("ce-partitionkey", &subject)
            .body(task(n as i64 + 1).to_string())
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    });
    futures::future::join_all(deliveries).await
}

#[tokio::test]
async fn deliveries_that_arrive_together_share_commits_and_an_event_sent_twice_is_one_row() {
    let app = TestApp::spawn(audit::FUNCTION, audit::router()).await;
    let mut ids: Vec<String> = (0..60).map(|n| format!("evt-{n}")).collect();
    // One event delivered five times at once (resends racing the first).
    for n in [40, 45, 50, 55] {
        ids[n] = "evt-30".into();
    }

    let statuses = deliver_all(&app, &ids).await;

    assert!(statuses.iter().all(|status| *status == 204), "{statuses:?}");
    assert_eq!(app.db.count_audit_rows().await, 56);
    let deliveries: i32 =
        sqlx::query_scalar("SELECT deliveries FROM task_audit_log WHERE event_id = 'evt-30'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(deliveries, 5, "each delivery counted");
    let transactions: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM task_audit_log")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(
        transactions < 56,
        "56 events at once took {transactions} commits"
    );
}

#[tokio::test]
async fn an_event_the_database_refuses_fails_only_its_own_delivery() {
    let app = TestApp::spawn(audit::FUNCTION, audit::router()).await;
    // A rule the parsing does not know: only the database refuses it.
    sqlx::query(
        "ALTER TABLE task_audit_log ADD CONSTRAINT no_refused CHECK (event_id <> 'refused')",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    // Late among deliveries sent at once: recorded in a batch with others.
    let mut ids: Vec<String> = (0..40).map(|n| format!("evt-{n}")).collect();
    ids[30] = "refused".into();

    let statuses = deliver_all(&app, &ids).await;

    for (n, status) in statuses.iter().enumerate() {
        assert_eq!(*status, if n == 30 { 500 } else { 204 }, "delivery {n}");
    }
    assert_eq!(app.db.count_audit_rows().await, 39);
}
