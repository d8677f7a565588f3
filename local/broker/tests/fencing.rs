//! After Kafka was unavailable under concurrent load, the receiver replaces
//! its broken producer once and stores events again, instead of replacing
//! it for every failed request (each replacement fencing the producer the
//! other requests were using, a storm that kept a chaos run from converging
//! on a loaded machine). Its own test binary: it pauses the broker.

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
async fn after_an_outage_under_load_the_producer_is_replaced_once_not_in_a_storm() {
    let kafka = kafka();
    let topic = format!("fencing-{}", namespace("t"));
    ensure_topic(&kafka.bootstrap, &topic, 3).await.unwrap();
    let timeout = Duration::from_millis(1000);
    let receiver =
        Receiver::new(producer_config(&kafka.bootstrap, timeout), topic, timeout).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let app = router(receiver.clone());
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

    // Waves keep coming; each is stored whole within seconds of the first
    // that fails, and the producer is not replaced wave after wave.
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
    assert!(
        receiver.replacements() <= 3,
        "the producer was replaced {} times",
        receiver.replacements()
    );
}
