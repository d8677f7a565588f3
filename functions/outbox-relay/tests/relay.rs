//! The outbox relay, and the promise it keeps with the write functions and
//! the audit function: every committed change reaches the audit log exactly
//! once, whatever was down when it happened.

use std::collections::HashSet;
use std::time::Duration;

use outbox_relay::relay::relay_outbox;
use outbox_relay::settings::RelaySettings;
use reqwest::Method;
use serde_json::{Value, json};
use task_events::outbox::RetryPolicy;
use task_events::outbox::ledger::OutboxStatus;
use task_events::sink::EventSink;
use test_support::{SinkMock, TestApp, TestDatabase, dead_url, publisher};

/// A relay that sends everything due at once: no minimum age, no backoff,
/// an audit grace of an hour (so that nothing is sent again unless a test
/// asks for it), and 5 attempts.
fn settings(sink: &str) -> RelaySettings {
    RelaySettings {
        sink: EventSink::new(sink, Duration::from_secs(5)),
        batch_size: 25,
        min_age: Duration::ZERO,
        budget: Duration::from_secs(30),
        lease: Duration::from_secs(60),
        retry: RetryPolicy {
            first_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            max_attempts: 5,
        },
        audit_grace: Duration::from_secs(3600),
        retention: Duration::from_secs(3600),
    }
}

/// A relay sending to `sink` that waits `grace` for an audit row and parks
/// after `max_attempts`.
fn reconciling(sink: &str, grace: Duration, max_attempts: i32) -> RelaySettings {
    RelaySettings {
        audit_grace: grace,
        retry: RetryPolicy {
            max_attempts,
            ..settings(sink).retry
        },
        ..settings(sink)
    }
}

fn status(unsent: i64, unaudited: i64, parked: i64) -> OutboxStatus {
    OutboxStatus {
        unsent,
        unaudited,
        parked,
        suspect: 0,
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
        // Their own sends, after the responses, are done.
        for writer in [&self.create, &self.update, &self.delete] {
            writer.settle().await;
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
    assert_eq!((report.sent, report.failed, report.error), (200, 0, None));
    assert_eq!(report.outbox, status(0, 200, 0));
    let (rows, per_type) = audit_summary(&db).await;
    assert_eq!(rows, 200);
    assert_eq!(per_type, expected(created, updated, deleted));

    // The next run finds every event in the audit log, and nothing to send.
    let again = relay_outbox(&db.pool, &settings(&audit.url("/")))
        .await
        .unwrap();
    assert_eq!((again.sent, again.confirmed), (0, 200));
    assert_eq!(again.outbox, status(0, 0, 0));
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
    assert_eq!(failed.outbox.unsent, 60);

    // Back: the next runs send everything (the audit function may still
    // answer 503 to the first while its connections come back).
    audit_db_link.switch_on();
    let mut sent = 0;
    for _ in 0..20 {
        let report = relay_outbox(&db.pool, &settings(&audit.url("/")))
            .await
            .unwrap();
        sent += report.sent;
        if report.outbox.unsent == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sent, 60);
    assert_eq!(db.count_unsent_events().await, 0);
    let (rows, per_type) = audit_summary(&db).await;
    assert_eq!(rows, 60);
    assert_eq!(per_type, expected(created, updated, deleted));
}

#[tokio::test]
async fn what_the_broker_took_but_lost_is_sent_again_until_it_is_audited() {
    let db = TestDatabase::new().await;
    // A broker that acknowledges every event and delivers none of them
    // (a restarted in-memory Kafka, or a dead-lettered event).
    let black_hole = SinkMock::accepting().await;
    let writers = Writers::start(&db, &dead_url()).await;
    let (created, updated, deleted) = writers.make_changes(40).await;
    let taken = relay_outbox(&db.pool, &settings(&black_hole.url()))
        .await
        .unwrap();
    assert_eq!(taken.sent, 40);
    let original: Vec<(String, String)> = black_hole
        .events()
        .await
        .iter()
        .map(|e| {
            (
                e.header("ce-source").to_string(),
                e.header("ce-id").to_string(),
            )
        })
        .collect();
    assert_eq!(original.len(), 40);

    // Within the grace period nothing is sent again.
    let audit = TestApp::spawn_on(&db, audit::FUNCTION, audit::router()).await;
    let patient = relay_outbox(&db.pool, &settings(&audit.url("/")))
        .await
        .unwrap();
    assert_eq!((patient.requeued, patient.sent), (0, 0));
    assert_eq!(patient.outbox, status(0, 40, 0));

    // Past it, every missing event goes again: the same source and id.
    let impatient = RelaySettings {
        audit_grace: Duration::ZERO,
        ..settings(&audit.url("/"))
    };
    let report = relay_outbox(&db.pool, &impatient).await.unwrap();
    assert_eq!((report.requeued, report.sent), (40, 40));
    let (rows, per_type) = audit_summary(&db).await;
    assert_eq!(rows, 40);
    assert_eq!(per_type, expected(created, updated, deleted));
    let recorded: HashSet<(String, String)> =
        sqlx::query_as("SELECT event_source, event_id FROM task_audit_log")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(recorded, original.into_iter().collect());

    // Once audited, never again.
    let done = relay_outbox(&db.pool, &impatient).await.unwrap();
    assert_eq!((done.confirmed, done.requeued, done.sent), (40, 0, 0));
    assert_eq!(done.outbox, status(0, 0, 0));
}

#[tokio::test]
async fn an_event_never_audited_is_parked_after_its_last_attempt_and_can_be_retried() {
    let db = TestDatabase::new().await;
    let black_hole = SinkMock::accepting().await;
    let writers = Writers::start(&db, &dead_url()).await;
    writers.make_changes(3).await;
    let relay = reconciling(&black_hole.url(), Duration::ZERO, 3);
    // Sent three times (each a run: sent, then sent again as still missing
    // from the audit log), then parked.
    let mut parked_now = 0;
    for _ in 0..4 {
        parked_now += relay_outbox(&db.pool, &relay).await.unwrap().parked_now;
    }
    assert_eq!(parked_now, 3);
    assert_eq!(black_hole.events().await.len(), 9);
    let report = relay_outbox(&db.pool, &relay).await.unwrap();
    assert_eq!((report.sent, report.requeued), (0, 0), "parked events wait");
    assert_eq!(report.outbox, status(0, 0, 3));
    let parked = task_events::outbox::Outbox::parked(&db.pool, 10)
        .await
        .unwrap();
    assert_eq!(parked.len(), 3);
    assert!(parked.iter().all(|p| p.attempts == 3));
    assert!(
        parked[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("not in the audit log"),
        "{parked:?}"
    );

    // The cause fixed (the audit function reachable), an operator retries them.
    let audit = TestApp::spawn_on(&db, audit::FUNCTION, audit::router()).await;
    assert_eq!(
        task_events::outbox::Outbox::retry_parked(&db.pool)
            .await
            .unwrap(),
        3
    );
    let report = relay_outbox(&db.pool, &settings(&audit.url("/")))
        .await
        .unwrap();
    assert_eq!(report.sent, 3);
    assert_eq!(db.count_audit_rows().await, 3);
}

#[tokio::test]
async fn a_poison_row_is_parked_while_everything_behind_it_moves_on() {
    let db = TestDatabase::new().await;
    let writers = Writers::start(&db, &dead_url()).await;
    writers.make_changes(20).await;
    // Two rows no sink takes: one that is not a CloudEvent at all, one that
    // the audit function refuses (400: not a task event).
    sqlx::query(
        "INSERT INTO event_outbox (event_id, event, task_id) VALUES
           (gen_random_uuid(), '{\"not\": \"an event\"}', 900001),
           (gen_random_uuid(), jsonb_build_object('specversion', '1.0', 'id', gen_random_uuid()::text,
              'source', '/poison', 'type', 'com.example.other', 'subject', '900002',
              'partitionkey', '900002'), 900002)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let audit = TestApp::spawn_on(&db, audit::FUNCTION, audit::router()).await;
    let relay = RelaySettings {
        retry: RetryPolicy {
            max_attempts: 3,
            ..settings("").retry
        },
        ..settings(&audit.url("/"))
    };
    let first = relay_outbox(&db.pool, &relay).await.unwrap();
    assert_eq!((first.sent, first.failed), (20, 2), "{first:?}");
    let mut parked_now = first.parked_now;
    for _ in 0..2 {
        parked_now += relay_outbox(&db.pool, &relay).await.unwrap().parked_now;
    }
    assert_eq!(parked_now, 2);
    assert_eq!(db.count_audit_rows().await, 20);
    let parked = task_events::outbox::Outbox::parked(&db.pool, 10)
        .await
        .unwrap();
    let errors: Vec<&str> = parked
        .iter()
        .filter_map(|p| p.last_error.as_deref())
        .collect();
    assert!(errors[0].contains("cannot be decoded"), "{errors:?}");
    assert!(errors[1].contains("400"), "{errors:?}");
    let report = relay_outbox(&db.pool, &relay).await.unwrap();
    assert_eq!(report.outbox, status(0, 0, 2));
}

#[tokio::test]
async fn a_task_whose_earlier_event_fails_waits_and_other_tasks_do_not() {
    let db = TestDatabase::new().await;
    let writers = Writers::start(&db, &dead_url()).await;
    // Task A: created and updated twice; task B: created.
    let a = writers
        .create
        .send_json(Method::POST, "/api/tasks", r#"{"title":"a"}"#)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    for title in ["a2", "a3"] {
        let response = writers
            .update
            .send_json(
                Method::PUT,
                &format!("/api/tasks/{a}"),
                &json!({"title": title}).to_string(),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    writers
        .create
        .send_json(Method::POST, "/api/tasks", r#"{"title":"b"}"#)
        .await;
    // A's first event cannot be sent (its stored form is broken).
    let (first_of_a, original): (i64, Value) =
        sqlx::query_as("SELECT id, event FROM event_outbox WHERE task_id = $1 ORDER BY id LIMIT 1")
            .bind(a)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    sqlx::query("UPDATE event_outbox SET event = '{\"broken\": true}' WHERE id = $1")
        .bind(first_of_a)
        .execute(&db.pool)
        .await
        .unwrap();

    let sink = SinkMock::accepting().await;
    let report = relay_outbox(&db.pool, &settings(&sink.url()))
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed), (1, 1), "{report:?}");
    let subjects: Vec<String> = sink
        .events()
        .await
        .iter()
        .map(|e| e.header("ce-subject").to_string())
        .collect();
    assert_eq!(
        subjects,
        vec![(a + 1).to_string()],
        "only task B's event left"
    );
    let attempts: Vec<i32> =
        sqlx::query_scalar("SELECT attempts FROM event_outbox WHERE task_id = $1 ORDER BY id")
            .bind(a)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(attempts, vec![1, 0, 0], "A's later events were not tried");

    // Mended, A's events leave in the order they were made.
    sqlx::query("UPDATE event_outbox SET event = $2 WHERE id = $1")
        .bind(first_of_a)
        .bind(original)
        .execute(&db.pool)
        .await
        .unwrap();
    let report = relay_outbox(&db.pool, &settings(&sink.url()))
        .await
        .unwrap();
    assert_eq!(report.sent, 3);
    let versions: Vec<i64> = sink.events().await[1..]
        .iter()
        .map(|e| e.body["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
}

#[tokio::test]
async fn the_relay_holds_no_lock_while_it_sends() {
    let db = TestDatabase::new().await;
    let writers = Writers::start(&db, &dead_url()).await;
    writers.make_changes(4).await;
    let sink = SinkMock::slow(Duration::from_millis(800)).await;
    let relay = {
        let (pool, settings) = (db.pool.clone(), settings(&sink.url()));
        tokio::spawn(async move { relay_outbox(&pool, &settings).await.unwrap() })
    };
    // While the sends are under way, every row can be locked at once.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut tx = db.pool.begin().await.unwrap();
    let locked: Vec<i64> = sqlx::query_scalar("SELECT id FROM event_outbox FOR UPDATE NOWAIT")
        .fetch_all(&mut *tx)
        .await
        .expect("no row is locked during the sends");
    assert_eq!(locked.len(), 4);
    tx.rollback().await.unwrap();
    assert_eq!(relay.await.unwrap().sent, 4);
}

#[tokio::test]
async fn audited_rows_are_pruned_after_the_retention_period() {
    let db = TestDatabase::new().await;
    let audit = TestApp::spawn_on(&db, audit::FUNCTION, audit::router()).await;
    let writers = Writers::start(&db, &dead_url()).await;
    writers.make_changes(30).await;
    relay_outbox(&db.pool, &settings(&audit.url("/")))
        .await
        .unwrap();
    let keep = relay_outbox(&db.pool, &settings(&audit.url("/")))
        .await
        .unwrap();
    assert_eq!((keep.confirmed, keep.pruned), (30, 0));
    assert_eq!(db.count_events().await, 30);

    let short = RelaySettings {
        retention: Duration::ZERO,
        ..settings(&audit.url("/"))
    };
    let report = relay_outbox(&db.pool, &short).await.unwrap();
    assert_eq!(report.pruned, 30);
    assert_eq!(db.count_events().await, 0);
    assert_eq!(
        db.count_audit_rows().await,
        30,
        "the audit log keeps everything"
    );
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
async fn the_relay_sends_each_task_in_order_and_leaves_young_rows_to_their_writer() {
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
    let events = sink.events().await;
    assert_eq!(events.len(), 9);
    let mut per_task: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for event in &events {
        per_task
            .entry(event.header("ce-subject").to_string())
            .or_default()
            .push(event.header("ce-id").to_string());
    }
    for ids in per_task.values() {
        let mut sorted = ids.clone();
        sorted.sort(); // UUIDv7 ids sort by creation time
        assert_eq!(ids, &sorted);
    }
}

#[tokio::test]
async fn the_function_answers_post_with_a_report_and_shows_the_outbox() {
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
    assert_eq!(
        report,
        json!({"sent": 0, "failed": 0, "requeued": 0, "confirmed": 0, "parked_now": 0,
               "pruned": 0, "unsent": 0, "unaudited": 0, "parked": 0, "suspect": 0})
    );
    let outbox: Value = relay.get("/outbox").await.json().await.unwrap();
    assert_eq!(
        outbox,
        json!({"unsent": 0, "unaudited": 0, "parked": 0, "suspect": 0, "parked_events": []})
    );
    let retried = relay
        .client
        .post(relay.url("/outbox/retry-parked"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        retried.json::<Value>().await.unwrap(),
        json!({"retried": 0})
    );
}

#[tokio::test]
async fn a_trigger_during_a_run_does_not_start_a_second_run() {
    let db = TestDatabase::new().await;
    let writers = Writers::start(&db, &dead_url()).await;
    writers.make_changes(3).await;
    // Each send takes a second: the first run is still sending when the
    // second trigger comes.
    let sink = SinkMock::slow(Duration::from_secs(1)).await;
    let relay = TestApp::spawn_on(
        &db,
        outbox_relay::FUNCTION,
        outbox_relay::router(settings(&sink.url())),
    )
    .await;
    let trigger = || relay.client.post(relay.url("/")).send();
    let first = tokio::spawn(trigger());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = trigger().await.unwrap();
    assert_eq!(second.status(), 202);
    let skipped: Value = second.json().await.unwrap();
    assert!(skipped["skipped"].is_string(), "{skipped}");

    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 200);
    let report: Value = first.json().await.unwrap();
    assert_eq!(report["sent"], 3, "{report}");
    // Once the run is over, the next trigger runs again.
    let third = trigger().await.unwrap();
    assert_eq!(third.status(), 200);
}

#[tokio::test]
async fn the_wait_for_a_missing_audit_row_keeps_doubling_past_the_longest_retry_backoff() {
    let db = TestDatabase::new().await;
    // A broker that takes every event and delivers none (or one far behind).
    let black_hole = SinkMock::accepting().await;
    let writers = Writers::start(&db, &dead_url()).await;
    writers.make_changes(1).await;
    // The send backoff's longest wait (zero) is shorter than the grace: the
    // wait for the audit row still doubles, 0.2, 0.4, 0.8, 1.6 s (8 times
    // the grace), instead of sending the event again every 0.2 s.
    let relay = reconciling(&black_hole.url(), Duration::from_millis(200), 100);
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(3500) {
        relay_outbox(&db.pool, &relay).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Sent at about 0, 0.2, 0.6, 1.4 and 3.0 s: 5 (every 0.2 s would be 17).
    let sends = black_hole.events().await.len();
    assert!((4..=6).contains(&sends), "sent {sends} times in 3.5 s");
}
