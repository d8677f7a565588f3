//! The audit function takes who made a change from the outbox row the change
//! wrote, never from the wire: the app's own events are recorded only when
//! they match that row (then with its actor and owner, verified); one that
//! claims the app's source but does not match is parked as suspect; an event
//! posted by hand from another source is recorded unverified, under the
//! owner the database gives its task.

use serde_json::{Value, json};
use task_core::AppState;
use task_core::task::CreateTaskRequest;
use task_events::publisher::NewTaskBy;
use test_support::identity::sub;
use test_support::{TestApp, TestDatabase, publisher};

/// A task alice created through create-task's own path, and its event as
/// the outbox holds it (nothing sends it: no sink).
async fn created_by_alice(db: &TestDatabase) -> Value {
    let state = AppState::new("create-task", db.pool.clone());
    let request: CreateTaskRequest = serde_json::from_str(r#"{"title":"Audit me"}"#).unwrap();
    let task = request.validate().unwrap();
    let alice = sub("alice");
    publisher("create-task", None, 500)
        .create_tasks(
            &state,
            &[NewTaskBy {
                task: &task,
                creator: &alice,
                traceparent: None,
            }],
        )
        .await
        .unwrap();
    sqlx::query_scalar("SELECT event FROM event_outbox ORDER BY id DESC LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn post(app: &TestApp, event: &Value) -> u16 {
    app.client
        .post(app.url("/"))
        .header("content-type", "application/cloudevents+json")
        .body(event.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn records(db: &TestDatabase) -> Vec<(String, Option<String>, Option<String>, bool, i32)> {
    sqlx::query_as(
        "SELECT event_id, actor, owner, verified, deliveries FROM task_audit_log ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn suspects(db: &TestDatabase) -> Vec<(String, String)> {
    sqlx::query_as("SELECT event_id, reason FROM suspect_events ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_apps_own_event_is_recorded_once_with_the_actor_its_change_fixed() {
    let app = TestApp::spawn(audit::FUNCTION, audit::router()).await;
    let event = created_by_alice(&app.db).await;
    assert_eq!(event["authtype"], "app_user");
    assert_eq!(event["authid"], sub("alice"));
    assert_eq!(event["data"]["owner"], sub("alice"));
    for _ in 0..3 {
        assert_eq!(post(&app, &event).await, 204);
    }
    let id = event["id"].as_str().unwrap().to_string();
    assert_eq!(
        records(&app.db).await,
        [(id, Some(sub("alice")), Some(sub("alice")), true, 3)]
    );
    assert!(suspects(&app.db).await.is_empty());
}

#[tokio::test]
async fn an_event_that_does_not_match_its_change_is_parked_as_suspect() {
    let app = TestApp::spawn(audit::FUNCTION, audit::router()).await;
    let real = created_by_alice(&app.db).await;
    let forged_actor = json!({"authid": sub("bob")});
    let mut forged_data = real.clone();
    forged_data["data"]["title"] = json!("Not what alice wrote");
    let mut no_such_change = real.clone();
    no_such_change["id"] = json!("0190b5a0-0000-7000-8000-00000000dead");
    let mut cases = vec![forged_data, no_such_change];
    let mut forged = real.clone();
    forged
        .as_object_mut()
        .unwrap()
        .extend(forged_actor.as_object().unwrap().clone());
    cases.push(forged);
    for event in &cases {
        assert_eq!(post(&app, event).await, 204, "parked, not refused: {event}");
    }
    assert!(records(&app.db).await.is_empty(), "a suspect was recorded");
    let parked = suspects(&app.db).await;
    assert_eq!(
        parked.len(),
        2,
        "the forged data and actor share the real event's id: {parked:?}"
    );
    assert!(
        parked
            .iter()
            .any(|(_, reason)| reason.contains("no outbox row"))
    );
    // The real event still gets recorded, with its own actor.
    assert_eq!(post(&app, &real).await, 204);
    assert_eq!(records(&app.db).await[0].1, Some(sub("alice")));
}

#[tokio::test]
async fn an_event_posted_by_hand_is_recorded_unverified_under_the_tasks_owner() {
    let app = TestApp::spawn(audit::FUNCTION, audit::router()).await;
    let task = app
        .db
        .insert_task("alice's", task_core::task::TaskStatus::Pending)
        .await;
    let mut data = serde_json::to_value(&task).unwrap();
    data["owner"] = json!("mallory");
    let event = json!({
        "specversion": "1.0", "id": "by-hand-1", "type": "task.created",
        "source": "/tests/by-hand", "subject": task.id.to_string(),
        "authtype": "app_user", "authid": "mallory",
        "datacontenttype": "application/json", "data": data,
    });
    assert_eq!(post(&app, &event).await, 204);
    assert_eq!(
        records(&app.db).await,
        [(
            "by-hand-1".into(),
            Some("mallory".into()),
            Some(sub("alice")),
            false,
            1
        )]
    );
}
