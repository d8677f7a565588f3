//! nisshi's PostgreSQL storage stays cheap to maintain as its topics grow:
//! its catalog tables are analyzed soon after a topic is created, and its
//! database runs without JIT (`servers::kafka`). Without either, its
//! retention sweep joined the catalog to every record and was compiled on
//! every run: seconds of PostgreSQL a minute at a million records.

mod common;

use std::time::{Duration, Instant};

use common::*;
use servers::kafka::STORAGE_DATABASE;
use test_support::{kafka, server};

/// Rows in `table` against what PostgreSQL's statistics say it holds
/// (`reltuples`: -1 when never analyzed).
fn rows_and_estimate(table: &str) -> (i64, i64) {
    let out = server()
        .psql(
            STORAGE_DATABASE,
            &format!(
                "SELECT (SELECT count(*) FROM {table}), reltuples::bigint FROM pg_class WHERE oid = '{table}'::regclass"
            ),
        )
        .unwrap();
    let (rows, estimate) = out.trim().split_once('|').unwrap();
    (rows.parse().unwrap(), estimate.parse().unwrap())
}

#[tokio::test]
async fn a_new_topic_is_in_the_catalog_statistics_within_seconds_and_jit_is_off() {
    if std::env::var_os("KAFKA_BOOTSTRAP").is_some() {
        eprintln!("KAFKA_BOOTSTRAP is set: a real Kafka has no nisshi storage to check");
        return;
    }
    let kafka = kafka();
    let jit = server()
        .psql(STORAGE_DATABASE, "SHOW jit")
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(jit, "off", "JIT in the broker's database");

    let before = rows_and_estimate("topic_configuration").0;
    // The receiver creates the broker's topic (3 partitions) at start.
    let ns = namespace("statistics");
    let dir = manifests(&ns, "");
    let (_receiver, _url) = receiver(&kafka.bootstrap, &dir, &ns, 5000).await;
    let created = rows_and_estimate("topic_configuration").0;
    assert!(created > before, "the topic's settings are stored");

    // autovacuum looks every 5 s (`autovacuum_naptime` of the test server).
    let start = Instant::now();
    let tables = ["topic", "topition", "topic_configuration", "watermark"];
    loop {
        let stale: Vec<_> = tables
            .iter()
            .map(|table| (table, rows_and_estimate(table)))
            .filter(|(_, (rows, estimate))| rows != estimate)
            .collect();
        if stale.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "(rows, estimated rows) of tables not analyzed after the topic was created: {stale:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
