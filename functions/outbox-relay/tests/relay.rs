//! The outbox relay, and the promise it keeps with the write functions and
//! the audit function: every committed change reaches the audit log exactly
//! once, whatever was down when it happened.

use std::collections::HashSet;
use std::time::Duration;

use outbox_relay::handler::{RelayReport, RelaySettings, relay_outbox};
use reqwest::Method;
use serde_json::{Value, json};
use task_events::sink::EventSink;
use test_support::{SinkMock, TestApp, TestDatabase, dead_url, publisher};

fn settings(sink: &str) -> RelaySettings {
    RelaySettings {
        sink: EventSink::new(sink, Duration::from_secs(5)),
        batch_size: 25,
        min_age: Duration::ZERO,
        budget: Duration::from_secs(30),
    }
}

/// The three write functions on one database, sending to `sink`.
struct Writers {
    create: TestApp,
    update: TestApp,
    delete: TestApp,
}

impl Writers {
    async fn start(db: &TestDatabase, sink: &str) -> Self {
        Self {
            create: TestApp::spawn_on(
                db,
                create_task::FUNCTION,
                create_task::router(publisher(create_task::FUNCTION, Some(sink), 500)),
            )
            .await,
            update: TestApp::spawn_on(
                db,
                update_task::FUNCTION,
                update_task::router(publisher(update_task::FUNCTION, Some(sink), 500)),
            )
            .await,
            delete: TestApp::spawn_on(
                db,
                delete_task::FUNCTION,
                delete_task::router(publisher(delete_task::FUNCTION, Some(sink), 500)),
            )
            .await,
        }
    }

    /// `changes` task changes (creates, updates, deletes), each acknowledged
    /// with a 2xx; returns how many of each type.
    async fn make_changes(&self, changes: usize) -> (usize, usize, usize) {
        let (mut created, mut updated, mut deleted) = (0, 0, 0);
        let mut live: Vec<i64> = Vec::new();
        for i in 0..changes {
            let response = match (i % 4, live.last().copied()) {
                (1 | 2, Some(id)) => {
                    updated += 1;
                    self.update
                        .send_json(
                            Method::PUT,
                            &format!("/api/tasks/{id}"),
                            &json!({"title": format!("v{i}")}).to_string(),
                        )
                        .await
                }
                (3, Some(id)) => {
                    deleted += 1;
                    live.pop();
                    self.delete
                        .client
                        .delete(self.delete.url(&format!("/api/tasks/{id}")))
                        .send()
                        .await
                        .unwrap()
                }
                _ => {
                    created += 1;
                    let response = self
                        .create
                        .send_json(
                            Method::POST,
                            "/api/tasks",
                            &json!({"title": format!("t{i}")}).to_string(),
                        )
                        .await;
                    assert_eq!(response.status(), 201);
                    let task: Value = response.json().await.unwrap();
                    live.push(task["id"].as_i64().unwrap());
                    continue;
                }
            };
            assert!(
                response.status().is_success(),
                "change {i}: {}",
                response.status()
            );
        }
        (created, updated, deleted)
    }
}

/// Each audit row's (source, id) once, and the count per type.
async fn audit_summary(db: &TestDatabase) -> (usize, Vec<(String, i64)>) {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT event_source, event_id FROM task_audit_log")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let distinct: HashSet<_> = rows.iter().collect();
    assert_eq!(distinct.len(), rows.len(), "an event was recorded twice");
    let per_type: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, count(*) FROM task_audit_log GROUP BY event_type ORDER BY event_type",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    (rows.len(), per_type)
}

fn expected(created: usize, updated: usize, deleted: usize) -> Vec<(String, i64)> {
    let mut expected = vec![
        ("task.created".to_string(), created as i64),
        ("task.deleted".to_string(), deleted as i64),
        ("task.updated".to_string(), updated as i64),
    ];
    expected.retain(|(_, n)| *n > 0);
    expected
}

#[tokio::test]
async fn with_the_sink_down_changes_succeed_and_the_relay_delivers_each_once() {
    let db = TestDatabase::new().await;
    let writers = Writers::start(&db, &dead_url()).await;
    let (created, updated, deleted) = writers.make_changes(200).await;
    assert_eq!(db.count_unsent_events().await, 200);
    assert_eq!(db.count_audit_rows().await, 0);

    let audit = TestApp::spawn_on(&db, audit::FUNCTION, audit::router()).await;
    let report = relay_outbox(&db.pool, &settings(&audit.url("/")))
        .await
        .unwrap();
    assert_eq!(
        report,
        RelayReport {
            sent: 200,
            unsent: 0,
            error: None
        }
    );
    let (rows, per_type) = audit_summary(&db).await;
    assert_eq!(rows, 200);
    assert_eq!(per_type, expected(created, updated, deleted));

    // A second run finds nothing left to send.
    let again = relay_outbox(&db.pool, &settings(&audit.url("/")))
        .await
        .unwrap();
    assert_eq!(again.sent, 0);
    assert_eq!(db.count_audit_rows().await, 200);
}

#[tokio::test]
async fn with_the_audit_function_answering_503_events_wait_until_it_recovers() {
    let db = TestDatabase::new().await;
    // The audit function loses its database: it answers 503 to every event.
    let (audit_pool, audit_db_link) = db.behind_proxy().await;
    let audit =
        TestApp::spawn_with_pool(audit::FUNCTION, audit::router(), audit_pool, db.clone()).await;
    audit_db_link.switch_off();

    let writers = Writers::start(&db, &audit.url("/")).await;
    let (created, updated, deleted) = writers.make_changes(60).await;
    assert_eq!(db.count_unsent_events().await, 60);

    let failed = relay_outbox(&db.pool, &settings(&audit.url("/")))
        .await
        .unwrap();
    assert_eq!(failed.sent, 0);
    assert!(failed.error.unwrap().contains("503"));
    assert_eq!(failed.unsent, 60);

    audit_db_link.switch_on();
    let report = relay_outbox(&db.pool, &settings(&audit.url("/")))
        .await
        .unwrap();
    assert_eq!(
        report,
        RelayReport {
            sent: 60,
            unsent: 0,
            error: None
        }
    );
    let (rows, per_type) = audit_summary(&db).await;
    assert_eq!(rows, 60);
    assert_eq!(per_type, expected(created, updated, deleted));
}

#[tokio::test]
async fn relays_running_at_once_never_send_a_row_twice() {
    let db = TestDatabase::new().await;
    let writers = Writers::start(&db, &dead_url()).await;
    writers.make_changes(120).await;

    let sink = SinkMock::slow(Duration::from_millis(5)).await;
    let relays = (0..4).map(|_| {
        let pool = db.pool.clone();
        let settings = RelaySettings {
            batch_size: 10,
            ..settings(&sink.url())
        };
        tokio::spawn(async move { relay_outbox(&pool, &settings).await.unwrap() })
    });
    let mut sent = 0;
    for relay in relays {
        sent += relay.await.unwrap().sent;
    }
    assert_eq!(sent, 120);
    let received = sink.events().await;
    assert_eq!(received.len(), 120);
    let ids: HashSet<String> = received
        .iter()
        .map(|e| e.header("ce-id").to_string())
        .collect();
    assert_eq!(ids.len(), 120, "an event was sent twice");
    assert_eq!(db.count_unsent_events().await, 0);
}

#[tokio::test]
async fn the_relay_sends_oldest_first_and_leaves_young_rows_to_their_writer() {
    let db = TestDatabase::new().await;
    let writers = Writers::start(&db, &dead_url()).await;
    writers.make_changes(9).await;
    let sink = SinkMock::accepting().await;

    let patient = RelaySettings {
        min_age: Duration::from_secs(3600),
        ..settings(&sink.url())
    };
    assert_eq!(relay_outbox(&db.pool, &patient).await.unwrap().sent, 0);

    relay_outbox(&db.pool, &settings(&sink.url()))
        .await
        .unwrap();
    let ids: Vec<String> = sink
        .events()
        .await
        .iter()
        .map(|e| e.header("ce-id").to_string())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort(); // UUIDv7 ids sort by creation time
    assert_eq!(ids, sorted);
}

#[tokio::test]
async fn the_function_answers_post_with_a_report() {
    let db = TestDatabase::new().await;
    let sink = SinkMock::accepting().await;
    let relay = TestApp::spawn_on(
        &db,
        outbox_relay::FUNCTION,
        outbox_relay::router(settings(&sink.url())),
    )
    .await;
    let response = relay
        .client
        .post(relay.url("/"))
        .header("ce-specversion", "1.0")
        .header("ce-type", "dev.knative.sources.ping")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report, json!({"sent": 0, "unsent": 0}));
}

#[test]
fn k_sink_is_required() {
    let err = RelaySettings::from_lookup(|_| None).unwrap_err();
    assert!(err.to_string().starts_with("K_SINK is not set"));
}
