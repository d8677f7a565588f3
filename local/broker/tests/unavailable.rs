//! The Kafka broker unavailable (its process paused): the receiver answers
//! 503, the write functions keep their events in the outbox, and once the
//! broker is back and the relay runs, every change reaches the audit log once.
//! Its own test binary: pausing the shared broker would disturb other tests.

mod common;

use std::time::{Duration, Instant};

use common::*;
use outbox_relay::relay::relay_outbox;
use outbox_relay::settings::RelaySettings;
use reqwest::Method;
use serde_json::json;
use task_events::outbox::RetryPolicy;
use task_events::sink::EventSink;
use test_support::{TestApp, TestDatabase, kafka, publisher};

#[tokio::test]
async fn events_wait_in_the_outbox_while_the_broker_is_paused_and_arrive_once() {
    let kafka = kafka();
    let ns = namespace("paused");
    let db = TestDatabase::new().await;
    let audit = TestApp::spawn_on(&db, audit::FUNCTION, audit::router()).await;
    let dir = manifests(
        &ns,
        &trigger(
            "to-audit",
            "audit",
            "  filters: [{prefix: {type: task.}}]\n  delivery: {retry: 5, backoffDelay: PT0.1S}\n",
            "kafka.eventing.knative.dev/delivery.order: ordered",
        ),
    );
    let (_receiver, receiver_url) = receiver(&kafka.bootstrap, &dir, &ns, 1000).await;
    let _dispatcher = dispatcher(&kafka.bootstrap, &dir, &ns, &[("audit", audit.url("/"))]).await;
    let create = TestApp::spawn_on(
        &db,
        create_task::FUNCTION,
        create_task::router(publisher(create_task::FUNCTION, Some(&receiver_url), 300)),
    )
    .await;
    let create_tasks = |from: usize, to: usize| {
        let create = create.clone();
        async move {
            for i in from..to {
                let response = create
                    .send_json(
                        Method::POST,
                        "/api/tasks",
                        &json!({"title": format!("task {i}")}).to_string(),
                    )
                    .await;
                assert_eq!(response.status(), 201, "create {i}");
            }
        }
    };

    // The whole path works.
    create_tasks(0, 10).await;
    let audited = || async { db.count_audit_rows().await as usize };
    assert_eq!(wait_for(10, Duration::from_secs(30), audited).await, 10);

    kafka.pause();
    // The receiver cannot store: 503, within its delivery timeout.
    let start = Instant::now();
    let status = post_event(
        &reqwest::Client::new(),
        &receiver_url,
        "while-paused",
        "task.created",
        "1",
        &data(1),
    )
    .await;
    assert_eq!(status, 503);
    assert!(start.elapsed() < Duration::from_secs(5));
    // Users are not affected; their events wait in the outbox.
    create_tasks(10, 40).await;
    assert!(db.count_unsent_events().await >= 30);
    kafka.resume();

    let relay = RelaySettings {
        sink: EventSink::new(receiver_url.clone(), Duration::from_secs(10)),
        min_age: Duration::ZERO,
        budget: Duration::from_secs(60),
        // Kafka is back: retry a failed send within half a second.
        retry: RetryPolicy {
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            max_attempts: 1000,
        },
        ..RelaySettings::from_lookup(|name| (name == "K_SINK").then(|| receiver_url.clone()))
            .unwrap()
    };
    let start = Instant::now();
    loop {
        let report = relay_outbox(&db.pool, &relay).await.unwrap();
        if report.outbox.unsent == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the relay could not send: {report:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(wait_for(40, Duration::from_secs(60), audited).await, 40);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rows, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT (event_source, event_id)) FROM task_audit_log",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((rows, distinct), (40, 40), "every change exactly once");
    let missing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM event_outbox o WHERE NOT EXISTS
           (SELECT 1 FROM task_audit_log a WHERE a.event_id = o.event_id::text)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(missing, 0);
}
