//! Kafka killed (SIGKILL) mid-stream and started again loses nothing it
//! acknowledged, and the dispatcher resumes at the group's committed offsets
//! instead of starting over: the broker keeps records and offsets in
//! PostgreSQL. Its own test binary: it kills the test process's broker.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use test_support::{SinkMock, kafka};

const BEFORE: usize = 300;
const AFTER: usize = 100;

#[tokio::test]
async fn a_killed_kafka_keeps_every_acknowledged_event_and_the_offsets() {
    let kafka = kafka();
    let bootstrap = &kafka.bootstrap;
    let ns = namespace("killed");
    // Slow enough that the kill lands mid-stream.
    let subscriber = SinkMock::slow(Duration::from_millis(10)).await;
    let dir = manifests(&ns, &trigger("t", "subscriber", "", ORDERED));
    let (_receiver, url) = receiver(bootstrap, &dir, &ns, 5000).await;
    let client = reqwest::Client::new();
    let mut acknowledged = HashSet::new();
    for (id, status) in post_numbered(&client, &url, 0..BEFORE).await {
        assert_eq!(status, 202, "{id}");
        acknowledged.insert(id);
    }
    let services = [("subscriber", subscriber.url())];
    let _dispatcher = dispatcher(bootstrap, &dir, &ns, &services).await;
    wait_for(BEFORE / 3, Duration::from_secs(60), || async {
        subscriber.events().await.len()
    })
    .await;

    kafka.kill_and_restart();
    let delivered_at_kill = subscriber.events().await.len();
    assert!(delivered_at_kill < BEFORE, "the kill must land mid-stream");

    // Events keep coming; what the receiver acknowledges must arrive. (While
    // Kafka starts again it answers 503, and nothing is promised.)
    for (id, status) in post_numbered(&client, &url, BEFORE..BEFORE + AFTER).await {
        if status == 202 {
            acknowledged.insert(id);
        }
    }
    assert!(
        acknowledged.len() > BEFORE + AFTER / 2,
        "the receiver stored again soon after the restart"
    );
    assert_eq!(
        wait_for(acknowledged.len(), Duration::from_secs(90), || {
            received_of(&subscriber, &acknowledged)
        })
        .await,
        acknowledged.len(),
        "every acknowledged event delivered after the restart"
    );
    // Only what was in flight or not yet committed comes again (offsets are
    // committed every 200 ms); starting over would send again every one of
    // the events delivered before the kill.
    let redelivered = subscriber.events().await.len() - acknowledged.len();
    assert!(
        redelivered < delivered_at_kill.min(100),
        "{redelivered} redelivered after {delivered_at_kill} were delivered before the kill"
    );

    // A Trigger added after the restart reads the topic from its start: the
    // acknowledged events are in the broker's storage, not only in what the
    // first dispatcher had fetched before the kill.
    let late = SinkMock::accepting().await;
    let dir = manifests(&ns, &trigger("late", "late", "", ORDERED));
    let _late = dispatcher(bootstrap, &dir, &ns, &[("late", late.url())]).await;
    assert_eq!(
        wait_for(acknowledged.len(), Duration::from_secs(60), || {
            received_of(&late, &acknowledged)
        })
        .await,
        acknowledged.len(),
        "every acknowledged event read back from storage by a new consumer group"
    );
}

/// How many of the `acknowledged` events `sink` received (each counted once).
async fn received_of(sink: &SinkMock, acknowledged: &HashSet<String>) -> usize {
    sink.events()
        .await
        .iter()
        .map(|e| e.header("ce-id").to_string())
        .filter(|id| acknowledged.contains(id))
        .collect::<HashSet<_>>()
        .len()
}
