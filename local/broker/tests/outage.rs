//! After Kafka was unavailable under concurrent load, the receiver stores
//! events again within seconds, with the same producer. (An idempotent
//! producer was fenced for good by tansu 0.6 after its messages timed out, and
//! replacing it fenced the others in flight: a chaos run on a loaded machine
//! never converged.) Its own test binary: it pauses the broker.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::future::join_all;
use local_broker::kafka::{ensure_topic, producer_config};
use local_broker::receiver::{Receiver, router};
use test_support::kafka;

/// Concurrent requests per wave, as many as a busy relay and the write
/// functions send at once.
const WAVE: usize = 40;

async fn wave(client: &reqwest::Client, url: &str, name: &str) -> Vec<u16> {
    join_all((0..WAVE).map(|i| {
        let id = format!("{name}-{i}");
        async move { post_event(client, url, &id, "task.created", &i.to_string(), &data(i)).await }
    }))
    .await
}

#[tokio::test]
async fn after_an_outage_under_load_events_are_stored_again_within_seconds() {
    let kafka = kafka();
    let topic = format!("outage-{}", namespace("t"));
    ensure_topic(&kafka.bootstrap, &topic, 3).await.unwrap();
    let timeout = Duration::from_millis(1000);
    let receiver =
        Receiver::new(producer_config(&kafka.bootstrap, timeout), topic, timeout).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let app = router(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    assert!(
        wave(&client, &url, "before")
            .await
            .iter()
            .all(|s| *s == 202)
    );

    kafka.pause();
    let during = wave(&client, &url, "during").await;
    assert!(during.iter().all(|s| *s == 503), "{during:?}");
    kafka.resume();

    // Waves keep coming; within seconds one is stored whole, and every
    // later one too.
    let start = Instant::now();
    let mut waves = 0;
    loop {
        let statuses = wave(&client, &url, &format!("after-{waves}")).await;
        waves += 1;
        if statuses.iter().all(|s| *s == 202) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still refusing after {waves} waves: {statuses:?}"
        );
    }
    for n in 0..5 {
        let statuses = wave(&client, &url, &format!("settled-{n}")).await;
        assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    }
}
