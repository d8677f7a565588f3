//! An idle Trigger stops fetching (nisshi reads partitions again and again
//! for a fetch that waits) and loses nothing for it: a wake from the
//! receiver, or at the latest `CHECK_WHILE_PAUSED`, resumes it.

mod common;

use std::time::{Duration, Instant};

use cloudevents::{EventBuilder, EventBuilderV10};
use common::*;
use local_broker::kafka::{KeyedRecord, broker_topic, producer_config};
use rdkafka::producer::FutureProducer;
use rdkafka::util::Timeout;
use test_support::{SinkMock, kafka};

/// How many of the dispatcher's Triggers are paused, from its health.
async fn paused(client: &reqwest::Client, dispatcher: &str) -> u64 {
    let body = client
        .get(format!("{dispatcher}/health"))
        .send()
        .await
        .expect("the dispatcher answers")
        .text()
        .await
        .unwrap();
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    health["paused"]
        .as_u64()
        .expect("health counts paused Triggers")
}

async fn wait_paused(client: &reqwest::Client, dispatcher: &str) {
    let start = Instant::now();
    while paused(client, dispatcher).await == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the idle Trigger never paused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_idle_trigger_pauses_and_every_event_still_arrives() {
    let bootstrap = &kafka().bootstrap;
    let ns = namespace("idle");
    let sink = SinkMock::accepting().await;
    let dir = manifests(&ns, &trigger("audit", "audit", "", ORDERED));
    let (_dispatcher, dispatcher_url) =
        dispatcher_at(bootstrap, &dir, &ns, &[("audit", sink.url())]).await;
    let (_receiver, url) = waking_receiver(bootstrap, &dir, &ns, &dispatcher_url).await;
    let client = reqwest::Client::new();

    // Through the receiver, which wakes the paused Trigger: three rounds.
    for round in 0..3 {
        wait_paused(&client, &dispatcher_url).await;
        let answers = post_numbered(&client, &url, round * 10..round * 10 + 10).await;
        assert!(
            answers.iter().all(|(_, status)| *status == 202),
            "{answers:?}"
        );
        let want = (round + 1) * 10;
        let got = wait_for(want, Duration::from_secs(30), || async {
            sink.events().await.len()
        })
        .await;
        assert_eq!(got, want, "round {round}");
    }

    // Around the receiver (no wake): fetched when the pause ends by itself.
    wait_paused(&client, &dispatcher_url).await;
    let producer: FutureProducer = producer_config(bootstrap, Duration::from_secs(10))
        .create()
        .unwrap();
    let event = EventBuilderV10::new()
        .id("around")
        .ty("task.created")
        .source("/tests/broker")
        .subject("k-around")
        .extension("partitionkey", "k-around")
        .build()
        .unwrap();
    let record = KeyedRecord::of(event).unwrap();
    producer
        .send(
            record.to(&broker_topic(&ns, "b")),
            Timeout::After(Duration::from_secs(10)),
        )
        .await
        .expect("Kafka stores the record");
    let got = wait_for(31, Duration::from_secs(30), || async {
        sink.events().await.len()
    })
    .await;
    assert_eq!(got, 31, "the record written around the receiver arrives");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = sink.events().await;
    assert_eq!(events.len(), 31, "each event once");
    assert_eq!(events[30].header("ce-id"), "around");
}
