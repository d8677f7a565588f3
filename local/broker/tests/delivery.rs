//! The local broker against a real Kafka-protocol broker (nisshi, or
//! `KAFKA_BOOTSTRAP`): round trip, filters, retries and dead letters.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use cloudevents::AttributesReader;
use cloudevents::binding::rdkafka::MessageExt;
use common::*;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use test_support::{ReceivedEvent, SinkMock, kafka};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_thousand_events_reach_each_matching_subscriber_once_in_order_per_key() {
    let bootstrap = &kafka().bootstrap;
    let ns = namespace("roundtrip");
    let ordered = SinkMock::accepting().await;
    let unordered = SinkMock::accepting().await;
    let nobody = SinkMock::accepting().await;
    let dir = manifests(
        &ns,
        &[
            trigger(
                "ordered",
                "ordered",
                "  filters: [{prefix: {type: task.}}]\n",
                "kafka.eventing.knative.dev/delivery.order: ordered",
            ),
            trigger(
                "unordered",
                "unordered",
                "  filter: {attributes: {source: /tests/broker}}\n",
                "",
            ),
            trigger(
                "orders",
                "nobody",
                "  filters: [{prefix: {type: order.}}]\n",
                "",
            ),
        ]
        .concat(),
    );
    let (_receiver, url) = receiver(bootstrap, &dir, &ns, 5000).await;
    let _dispatcher = dispatcher(
        bootstrap,
        &dir,
        &ns,
        &[
            ("ordered", ordered.url()),
            ("unordered", unordered.url()),
            ("nobody", nobody.url()),
        ],
    )
    .await;

    let client = reqwest::Client::new();
    let types = ["task.created", "task.updated", "task.deleted"];
    for seq in 0..1000 {
        let status = post_event(
            &client,
            &url,
            &format!("e{seq}"),
            types[seq % 3],
            &format!("k{}", seq % 10),
            &data(seq),
        )
        .await;
        assert_eq!(status, 202, "event {seq}");
    }
    // Matches no "task." or "order." filter: only the source filter takes it.
    assert_eq!(
        post_event(
            &client,
            &url,
            "foreign",
            "com.example.other",
            "k0",
            &data(1000)
        )
        .await,
        202
    );

    let received = wait_for(1000, Duration::from_secs(60), || async {
        ordered.events().await.len()
    })
    .await;
    assert_eq!(received, 1000);
    wait_for(1001, Duration::from_secs(30), || async {
        unordered.events().await.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let events = ordered.events().await;
    assert_eq!(events.len(), 1000, "each event exactly once");
    let ids: HashSet<&str> = events.iter().map(|e| e.header("ce-id")).collect();
    assert_eq!(ids.len(), 1000);
    assert!(!ids.contains("foreign"));
    let mut last_seq: BTreeMap<String, i64> = BTreeMap::new();
    for event in &events {
        assert_exact_copy(event);
        let seq = event.body["seq"].as_i64().unwrap();
        let key = event.header("ce-partitionkey").to_string();
        let previous = last_seq.insert(key.clone(), seq);
        assert!(
            previous.is_none_or(|p| p < seq),
            "key {key}: {seq} after {previous:?}"
        );
    }
    let unordered_events = unordered.events().await;
    assert_eq!(unordered_events.len(), 1001);
    let ids: HashSet<&str> = unordered_events.iter().map(|e| e.header("ce-id")).collect();
    assert_eq!(ids.len(), 1001);
    assert!(
        nobody.events().await.is_empty(),
        "no event matches the order. filter"
    );
}

/// Attributes, extensions and data arrive exactly as they were posted.
fn assert_exact_copy(event: &ReceivedEvent) {
    let seq = event.body["seq"].as_u64().unwrap() as usize;
    assert_eq!(event.body, data(seq));
    assert_eq!(event.header("ce-id"), format!("e{seq}"));
    assert_eq!(event.header("ce-specversion"), "1.0");
    assert_eq!(event.header("ce-source"), "/tests/broker");
    assert_eq!(event.header("ce-subject"), format!("k{}", seq % 10));
    assert_eq!(event.header("ce-partitionkey"), format!("k{}", seq % 10));
    assert_eq!(event.header("ce-sequence"), seq.to_string());
    // The actor travels through Kafka (as ce_ headers) with the rest.
    assert_eq!(event.header("ce-authtype"), "app_user");
    assert_eq!(event.header("ce-authid"), format!("user-k{}", seq % 10));
    // The same instant (the SDK writes the offset as +00:00).
    let time = chrono::DateTime::parse_from_rfc3339(event.header("ce-time")).unwrap();
    assert_eq!(
        time,
        chrono::DateTime::parse_from_rfc3339("2026-11-24T06:00:00Z").unwrap()
    );
    assert_eq!(event.header("content-type"), "application/json");
}

#[tokio::test]
async fn a_subscriber_that_fails_three_times_gets_the_event_on_the_fourth_try() {
    let bootstrap = &kafka().bootstrap;
    let ns = namespace("retries");
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&flaky)
        .await;
    let dead_letters = SinkMock::accepting().await;
    let delivery = "  delivery:\n    retry: 5\n    backoffPolicy: exponential\n    backoffDelay: PT0.05S\n    deadLetterSink:\n      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dls}\n";
    let dir = manifests(&ns, &trigger("t", "flaky", delivery, ""));
    let (_receiver, url) = receiver(bootstrap, &dir, &ns, 5000).await;
    let _dispatcher = dispatcher(
        bootstrap,
        &dir,
        &ns,
        &[
            ("flaky", format!("{}/", flaky.uri())),
            ("dls", dead_letters.url()),
        ],
    )
    .await;

    assert_eq!(
        post_event(
            &reqwest::Client::new(),
            &url,
            "retry-me",
            "task.created",
            "1",
            &data(1)
        )
        .await,
        202
    );
    let count = || async { flaky.received_requests().await.unwrap_or_default().len() };
    assert_eq!(wait_for(4, Duration::from_secs(30), count).await, 4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count().await,
        4,
        "delivered on the fourth try, then no more"
    );
    assert!(dead_letters.events().await.is_empty());
}

#[tokio::test]
async fn a_subscriber_that_answers_400_sends_the_event_to_the_dead_letter_sink_at_once() {
    let bootstrap = &kafka().bootstrap;
    let ns = namespace("deadletter");
    let refusing = SinkMock::answering(ResponseTemplate::new(400)).await;
    let failing = SinkMock::answering(ResponseTemplate::new(503)).await;
    let dead_letters = SinkMock::accepting().await;
    let delivery = "  delivery:\n    retry: 2\n    backoffDelay: PT0.05S\n    deadLetterSink:\n      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dls}\n";
    let dir = manifests(
        &ns,
        &[
            trigger(
                "refused",
                "refusing",
                &format!("  filters: [{{exact: {{type: task.created}}}}]\n{delivery}"),
                "",
            ),
            trigger(
                "exhausted",
                "failing",
                &format!("  filters: [{{exact: {{type: task.updated}}}}]\n{delivery}"),
                "",
            ),
        ]
        .concat(),
    );
    let (_receiver, url) = receiver(bootstrap, &dir, &ns, 5000).await;
    let _dispatcher = dispatcher(
        bootstrap,
        &dir,
        &ns,
        &[
            ("refusing", refusing.url()),
            ("failing", failing.url()),
            ("dls", dead_letters.url()),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    assert_eq!(
        post_event(&client, &url, "bad", "task.created", "1", &data(1)).await,
        202
    );
    assert_eq!(
        post_event(&client, &url, "down", "task.updated", "1", &data(2)).await,
        202
    );

    assert_eq!(
        wait_for(2, Duration::from_secs(30), || async {
            dead_letters.events().await.len()
        })
        .await,
        2
    );
    let events = dead_letters.events().await;
    let bad = events.iter().find(|e| e.header("ce-id") == "bad").unwrap();
    assert_eq!(bad.header("ce-knativeerrorcode"), "400");
    assert_eq!(bad.header("ce-knativeerrordest"), refusing.url());
    assert_eq!(bad.body, data(1));
    assert_eq!(refusing.events().await.len(), 1, "a 400 is not retried");
    let down = events.iter().find(|e| e.header("ce-id") == "down").unwrap();
    assert_eq!(down.header("ce-knativeerrorcode"), "503");
    assert_eq!(
        failing.events().await.len(),
        3,
        "the first try and two retries"
    );
}

#[tokio::test]
async fn without_a_dead_letter_sink_undeliverable_events_are_kept_in_a_dead_letter_topic() {
    let bootstrap = &kafka().bootstrap;
    let ns = namespace("dlqtopic");
    let refusing = SinkMock::answering(ResponseTemplate::new(422)).await;
    let dir = manifests(&ns, &trigger("t", "refusing", "", ""));
    let (_receiver, url) = receiver(bootstrap, &dir, &ns, 5000).await;
    let _dispatcher = dispatcher(bootstrap, &dir, &ns, &[("refusing", refusing.url())]).await;
    assert_eq!(
        post_event(
            &reqwest::Client::new(),
            &url,
            "kept",
            "task.created",
            "1",
            &data(7)
        )
        .await,
        202
    );

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{ns}"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer
        .subscribe(&[&format!("knative-broker-{ns}-b-dead-letter")])
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a dead letter within 30 s")
        .unwrap();
    let event = message.to_event().unwrap();
    assert_eq!(event.id(), "kept");
}

#[tokio::test]
async fn the_receiver_refuses_what_is_not_a_cloudevent() {
    let bootstrap = &kafka().bootstrap;
    let ns = namespace("refuse");
    let dir = manifests(&ns, &trigger("t", "x", "", ""));
    let (_receiver, url) = receiver(bootstrap, &dir, &ns, 5000).await;
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn partitions_asked_for_override_the_manifests() {
    let bootstrap = &kafka().bootstrap;
    let ns = namespace("partitions");
    let dir = manifests(&ns, &trigger("t", "x", "", ""));
    let (_receiver, _url) = receiver_with(bootstrap, &dir, &ns, 5000, &["--partitions", "7"]).await;
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{ns}-inspect"))
        .create()
        .unwrap();
    let topic = format!("knative-broker-{ns}-b");
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        metadata.topics()[0].partitions().len(),
        7,
        "the manifests say 3"
    );
}
