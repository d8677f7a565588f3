//! `POST /api/tasks` over HTTP against a real PostgreSQL.

use reqwest::Method;
use serde_json::{Value, json};
use test_support::{TestApp, assert_problem, error_fields};

async fn app() -> TestApp {
    TestApp::spawn(
        create_task::FUNCTION,
        create_task::router(test_support::publisher(create_task::FUNCTION, None, 500)),
    )
    .await
}

async fn post(app: &TestApp, body: &str) -> reqwest::Response {
    app.send_json(Method::POST, "/api/tasks", body).await
}

#[tokio::test]
async fn creates_a_task_with_201_location_and_etag() {
    let app = app().await;
    let response = post(&app, r#"{"title":"Buy milk","description":"2 litres"}"#).await;

    assert_eq!(response.status(), 201);
    let id = 1; // the first task of a fresh database
    assert_eq!(response.headers()["location"], format!("/api/tasks/{id}"));
    assert_eq!(response.headers()["etag"], "\"1\"");
    let task: Value = response.json().await.unwrap();
    assert_eq!(task["id"], id);
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["description"], "2 litres");
    assert_eq!(task["status"], "pending");
    assert_eq!(task["version"], 1);
    for stamp in ["created_at", "updated_at"] {
        let text = task[stamp].as_str().unwrap();
        assert!(chrono_like_rfc3339(text), "{stamp} is not RFC 3339: {text}");
    }
    let keys: Vec<_> = task.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "created_at",
            "description",
            "id",
            "owner",
            "status",
            "title",
            "updated_at",
            "version"
        ]
    );
    assert_eq!(task["owner"], test_support::identity::sub("alice"));
    assert_eq!(app.db.count_tasks().await, 1);
}

fn chrono_like_rfc3339(text: &str) -> bool {
    text.len() >= 20 && text.as_bytes()[10] == b'T' && (text.ends_with('Z') || text.contains('+'))
}

#[tokio::test]
async fn accepts_a_status_and_defaults_a_missing_description_to_null() {
    let app = app().await;
    let task: Value = post(&app, r#"{"title":"Ship it","status":"in_progress"}"#)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(task["status"], "in_progress");
    assert_eq!(task["description"], Value::Null);
}

#[tokio::test]
async fn stores_strings_exactly_as_sent_apart_from_trimming_the_title() {
    let app = app().await;
    let description =
        "  <script>alert('x')</script> \"quoted\" '; DROP TABLE tasks; -- 🦀 ünïcödé\n";
    let body = json!({"title": "  Ünïcödé 🦀 <b>bold</b> ' \" %_\\  ", "description": description});
    let created: Value = post(&app, &body.to_string()).await.json().await.unwrap();
    assert_eq!(created["title"], "Ünïcödé 🦀 <b>bold</b> ' \" %_\\");
    assert_eq!(created["description"], description);

    let stored: (String, Option<String>) =
        sqlx::query_as("SELECT title, description FROM tasks WHERE id = $1")
            .bind(created["id"].as_i64().unwrap())
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored.0, "Ünïcödé 🦀 <b>bold</b> ' \" %_\\");
    assert_eq!(stored.1.as_deref(), Some(description));
}

#[tokio::test]
async fn accepts_the_longest_title_and_description() {
    let app = app().await;
    let body = json!({"title": "é".repeat(255), "description": "d".repeat(10_000)});
    assert_eq!(post(&app, &body.to_string()).await.status(), 201);
}

#[tokio::test]
async fn malformed_json_wrong_types_and_unknown_fields_are_400() {
    let app = app().await;
    for body in [
        "{",
        "",
        "null",
        "[]",
        r#"{"title": 5}"#,
        r#"{"title": "x", "description": 7}"#,
        r#"{"title": "x", "status": true}"#,
        r#"{"title": "x", "priority": "high"}"#,
        r#"{"title": "x", "id": 9}"#,
        r#"{"title": "\ud800"}"#,
    ] {
        let problem = assert_problem(post(&app, body).await, 400).await;
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{body}");
    }
    assert_eq!(app.db.count_tasks().await, 0);
}

#[tokio::test]
async fn invalid_fields_are_422_naming_each_one() {
    let app = app().await;
    let body = json!({
        "title": "   ",
        "description": "d".repeat(10_001),
        "status": "done",
    });
    let problem = assert_problem(post(&app, &body.to_string()).await, 422).await;
    assert_eq!(error_fields(&problem), ["title", "description", "status"]);

    for (body, field) in [
        (json!({"title": "t".repeat(256)}), "title"),
        (json!({}), "title"),
        (json!({"title": null}), "title"),
        (json!({"title": "a\u{0}b"}), "title"),
        (json!({"title": "x", "status": "PENDING"}), "status"),
        (json!({"title": "x", "status": null}), "status"),
    ] {
        let problem = assert_problem(post(&app, &body.to_string()).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    assert_eq!(app.db.count_tasks().await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = app().await;
    let response = app
        .client
        .post(app.url("/api/tasks"))
        .header("content-type", "text/plain")
        .body(r#"{"title":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(response, 415).await;
    let response = app
        .client
        .post(app.url("/api/tasks"))
        .body(r#"{"title":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(response, 415).await;
    assert_eq!(app.db.count_tasks().await, 0);
}

/// The largest valid task, every character written as a JSON surrogate
/// pair escape (12 bytes each), as some clients send it.
#[tokio::test]
async fn the_largest_valid_task_fits_however_its_json_is_escaped() {
    let app = app().await;
    let escaped = |n: usize| "\\ud83d\\ude00".repeat(n);
    let body = format!(
        r#"{{"title": "{}", "description": "{}", "status": "in_progress"}}"#,
        escaped(255),
        escaped(10_000)
    );
    assert!(body.len() > 120_000);
    let response = post(&app, &body).await;
    assert_eq!(response.status(), 201);
    let task: serde_json::Value = response.json().await.unwrap();
    assert_eq!(task["description"], "😀".repeat(10_000));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = app().await;
    let body = json!({"title": "x", "description": "d".repeat(task_core::BODY_LIMIT_BYTES)});
    assert_problem(post(&app, &body.to_string()).await, 413).await;
    assert_eq!(app.db.count_tasks().await, 0);
}

#[tokio::test]
async fn other_methods_are_405_and_other_paths_404() {
    let app = app().await;
    let response = app.client.get(app.url("/api/tasks")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    assert_problem(response, 405).await;
    assert_problem(app.get("/api/nothing").await, 404).await;
}

#[tokio::test]
async fn database_down_is_503_and_the_function_recovers_when_it_returns() {
    let db = test_support::TestDatabase::new().await;
    let (pool, proxy) = db.behind_proxy().await;
    let app = TestApp::spawn_with_pool(
        create_task::FUNCTION,
        create_task::router(test_support::publisher(create_task::FUNCTION, None, 500)),
        pool,
        db,
    )
    .await;
    assert_eq!(post(&app, r#"{"title":"before"}"#).await.status(), 201);

    proxy.switch_off();
    let response = post(&app, r#"{"title":"during"}"#).await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503).await;
    assert_problem(app.get("/health").await, 503).await;

    proxy.switch_on();
    assert_eq!(post(&app, r#"{"title":"after"}"#).await.status(), 201);
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.db.count_tasks().await, 2);
}

#[tokio::test]
async fn a_field_named_twice_is_400() {
    let app = app().await;
    let problem = assert_problem(post(&app, r#"{"title":"a","title":"b"}"#).await, 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("duplicate field"),
        "{problem}"
    );
    assert_eq!(app.db.count_tasks().await, 0);
}
