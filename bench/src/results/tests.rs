//! Results read back and rendered as the untyped document was.

use super::*;
use crate::report::markdown;

/// A document in the shape `bench` writes: every section, the keys in
/// the order it writes them, a figure of no runs (null).
const WRITTEN: &str = r#"{
  "binary_bytes": {"create-task": 10887864, "list-tasks": 9309912},
  "cold_start_ms": {
    "create-task": {"max": 9.43, "median": 6.46, "min": 5.03, "runs": 20},
    "list-tasks": {"max": 7.41, "median": 5.76, "min": 5.47, "runs": 20}
  },
  "event_pipeline": {
    "audit_ingest_per_second": {"max": 6582.42, "median": 6494.15, "min": 6084.09, "runs": 2},
    "audit_ingest_ratio": 0.524,
    "p50_ms": {"max": 9.037, "median": 8.95, "min": 8.865, "runs": 2},
    "p99_ms": {"max": 12.562, "median": 12.46, "min": 12.365, "runs": 2},
    "pgbench_insert_tps": {"max": 12467.6, "median": 12390.2, "min": 12367.1, "runs": 2},
    "runs": [
      {"arrived": 2001, "p50_ms": 9.037, "p99_ms": 12.562, "writes": 2001},
      {"arrived": 1990, "p50_ms": 8.865, "p99_ms": 12.365, "writes": 2001}
    ],
    "writes_per_second": 200
  },
  "image_sizes": {"create-task:dev": "8.79 MB", "migrate:dev": "5.17 MB"},
  "machine": {"commit": "9bc79ed", "cores": 2, "cpu": "AMD EPYC", "date": "2026-11-24T06:00:00+00:00"},
  "memory": {
    "create-task": {
      "after_load_mib": {"max": 9.5, "median": 9.48, "min": 9.4, "runs": 3},
      "failed_requests": 0,
      "idle_mib": {"max": 7.9, "median": 7.84, "min": 7.83, "runs": 3}
    },
    "list-tasks": {
      "after_load_mib": {"max": 8.5, "median": 8.25, "min": 8.0, "runs": 3},
      "failed_requests": 2,
      "idle_mib": {"max": 6.9, "median": 6.8, "min": 6.75, "runs": 3}
    }
  },
  "outbox_under_load": {
    "retention_seconds": 10,
    "samples": [[0, 5], [10, 2003], [60, 2010]],
    "seconds": 60,
    "writes_per_second": 200,
    "written": 12000
  },
  "scale": [
    {"median_ms": 1.2, "p99_ms": 2.5, "response_bytes": 24800, "route": "GET /api/tasks?limit=50", "tasks": 10000},
    {"median_ms": 3.0, "p99_ms": 4.0, "response_bytes": 10, "route": "GET /api/tasks?q=meeting", "tasks": 10000},
    {"median_ms": 1.3, "p99_ms": 2.7, "response_bytes": 25300, "route": "GET /api/tasks?limit=50", "tasks": 1000000},
    {"median_ms": 30.0, "p99_ms": 41.0, "response_bytes": 10, "route": "GET /api/tasks?q=meeting", "tasks": 1000000}
  ],
  "throughput": [
    {
      "connections": 1,
      "cpu_ms_per_request": 0.61,
      "cpu_ms_per_request_by_process": {"list-tasks": 0.3, "postgres": 0.31},
      "cpu_share": [{"process": "list-tasks", "share": 0.5}, {"process": "postgres", "share": 0.5}],
      "limit_tps": {"max": 9277.5, "median": 9015.1, "min": 8865.3, "runs": 3},
      "non_2xx": 0,
      "p50_ms": {"max": 0.291, "median": 0.29, "min": 0.287, "runs": 3},
      "p99_ms": {"max": 1.14, "median": 1.13, "min": 1.11, "runs": 3},
      "ratio": 0.36,
      "requests_per_second": {"max": 3267.17, "median": 3250.49, "min": 3241.88, "runs": 3},
      "route": "GET /api/tasks?limit=50",
      "target": "function"
    },
    {
      "connections": 32,
      "cpu_ms_per_request": 1.234,
      "cpu_ms_per_request_by_process": {"create-task": 0.4, "nginx": 0.2, "postgres": 0.634},
      "cpu_share": [{"process": "postgres", "share": 0.55}, {"process": "wrk", "share": 0.25}, {"process": "other", "share": 0.2}],
      "limit_tps": {"max": 4100.0, "median": 4000.0, "min": 3900.0, "runs": 3},
      "non_2xx": 3,
      "p50_ms": {"max": 9.2, "median": 9.1, "min": 9.0, "runs": 3},
      "p99_ms": {"max": 30.5, "median": 29.1, "min": 28.2, "runs": 3},
      "ratio": 0.6,
      "requests_per_second": {"max": 2500.0, "median": 2400.0, "min": 2300.0, "runs": 3},
      "route": "POST /api/tasks",
      "target": "gateway"
    }
  ],
  "web": {
    "first_task_list_ms": {"max": null, "median": null, "min": null, "runs": 0},
    "js_bytes": 30720,
    "js_gzip_bytes": 10240,
    "wasm_bytes": 1048576,
    "wasm_gzip_bytes": 358400
  }
}"#;

fn hand_built() -> Results {
    Results {
        binary_bytes: BTreeMap::from([("health".into(), 9_673_832)]),
        cold_start_ms: BTreeMap::from([("health".into(), Summary::of(&[6.3, 5.0, 8.7]))]),
        event_pipeline: EventPipeline {
            audit_ingest_per_second: Summary::of(&[6000.0, 6500.0]),
            audit_ingest_ratio: 0.5,
            p50_ms: Summary::of(&[9.0]),
            p99_ms: Summary::of(&[12.5]),
            pgbench_insert_tps: Summary::of(&[12000.0, 13000.0]),
            runs: vec![PipelineRun {
                arrived: 0,
                // No event arrived: no latency to take a percentile of.
                p50_ms: f64::NAN,
                p99_ms: f64::NAN,
                writes: 2001,
            }],
            writes_per_second: 200,
        },
        event_path: Some(EventPath {
            broker: "nisshi 0.8.1, PostgreSQL storage".into(),
            by_topic_size: [0, 1_000_000]
                .into_iter()
                .map(|events_in_topic| EventPathRow {
                    events_in_topic,
                    create_c1: Summary::of(&[700.0, 720.0]),
                    create_c32: Summary::of(&[2000.0]),
                    pipeline_p50_ms: 20.0,
                    pipeline_p99_ms: f64::NAN,
                    pipeline_runs: Some(3),
                })
                .collect(),
            kafka_cpu_share: 0.12,
            kafka_rss_mib: 40.0,
            burst: Burst {
                connections: 32,
                seconds: 10,
                creates: 20_000,
                caught_up_s: 1.5,
                left_to_relay: 0,
            },
            kill_to_first_delivery_ms: 900.0,
            killed_under_load: Some(KilledUnderLoad {
                acknowledged: 900,
                audited_once: 900,
                duplicated: 0,
                left_to_relay: 12,
                lost: 0,
                resent_by_relay: 0,
                seconds: 9,
            }),
        }),
        image_sizes: BTreeMap::from([("health:dev".into(), "7.86 MB".into())]),
        live_streams: Some(LiveStreams {
            changes: 20,
            delivery_p50_ms: 40.0,
            delivery_p99_ms: f64::NAN,
            missed: 0,
            nginx_rss_mib: 12.5,
            streams: 1000,
            task_stream_idle_rss_mib: 6.0,
            task_stream_rss_mib: 14.2,
        }),
        machine: Machine {
            commit: "abc1234".into(),
            cores: 2,
            cpu: "AMD EPYC".into(),
            date: "2026-11-24T06:00:00+00:00".into(),
        },
        memory: BTreeMap::from([(
            "health".into(),
            FunctionMemory {
                after_load_mib: Summary::of(&[9.4, 9.5]),
                failed_requests: 0,
                idle_mib: Summary::of(&[7.8]),
            },
        )]),
        outbox_under_load: Some(OutboxUnderLoad {
            retention_seconds: 10,
            samples: vec![(0, 0), (60, 2004)],
            seconds: 60,
            writes_per_second: 200,
            written: 12000,
        }),
        scale: Some(
            [(1, 10_000, 1_000_000), (1_000, 10, 1_000)]
                .into_iter()
                .flat_map(|(owners, small_share, large_share)| {
                    [
                        ScaleRow {
                            median_ms: 1.0,
                            owners: Some(owners),
                            p99_ms: 2.0,
                            response_bytes: 24_000,
                            route: "GET /api/tasks".into(),
                            tasks: 10_000,
                            user_tasks: Some(small_share),
                        },
                        ScaleRow {
                            median_ms: 3.0,
                            owners: Some(owners),
                            p99_ms: 4.0,
                            response_bytes: 25_000,
                            route: "GET /api/tasks".into(),
                            tasks: 1_000_000,
                            user_tasks: Some(large_share),
                        },
                    ]
                })
                .collect(),
        ),
        throughput: vec![ThroughputRow {
            connections: 32,
            cpu_ms_per_request: Some(0.5),
            cpu_ms_per_request_by_process: Some(BTreeMap::from([("postgres".into(), 0.5)])),
            cpu_share: vec![CpuShare {
                process: "postgres".into(),
                share: 1.0,
            }],
            limit_tps: Summary::of(&[9000.0]),
            non_2xx: 0,
            p50_ms: Summary::of(&[0.3]),
            p99_ms: Summary::of(&[1.1]),
            ratio: 0.4,
            requests_per_second: Summary::of(&[3600.0]),
            route: "GET /api/tasks?limit=50".into(),
            target: "gateway".into(),
        }],
        web: WebApp {
            first_task_list_ms: Summary::of(&[]),
            js_bytes: 30_720,
            js_gzip_bytes: 10_240,
            wasm_bytes: 1_048_576,
            wasm_gzip_bytes: 358_400,
        },
    }
}

#[test]
fn results_read_back_render_the_same_report() {
    let results = hand_built();
    let json = serde_json::to_string_pretty(&results).unwrap();
    // As the untyped document was written: through `Value`, keys sorted.
    let untyped = serde_json::to_value(&results).unwrap();
    assert_eq!(json, serde_json::to_string_pretty(&untyped).unwrap());
    let read: Results = serde_json::from_str(&json).unwrap();
    assert_eq!(markdown(&read), markdown(&results));
    assert_eq!(serde_json::to_string_pretty(&read).unwrap(), json);
}

#[test]
fn a_written_document_reads_with_its_keys_in_place_and_renders() {
    let results: Results = serde_json::from_str(WRITTEN).unwrap();
    // Written again, the same names, nesting and (sorted) key order as
    // the untyped document had.
    let untyped: serde_json::Value = serde_json::from_str(WRITTEN).unwrap();
    assert_eq!(
        serde_json::to_string_pretty(&results).unwrap(),
        serde_json::to_string_pretty(&untyped).unwrap()
    );
    let md = markdown(&results);
    for line in [
        "| create-task | 6.5 (5.0–9.4) |",
        "| list-tasks | 6.8 (6.8–6.9) | 8.2 (8.0–8.5) | 8.9 | – |",
        "| POST /api/tasks via gateway at 32 connections ≥ 0.5 of pgbench | 0.60 | met |",
        "| POST /api/tasks | gateway | postgres 55%, wrk 25%, other 20% |",
        "| `GET /api/tasks?limit=50` | 1.20 | 2.50 | 1.30 | 2.70 | 1.08 | 25 KB | met |",
        "| `GET /api/tasks?q=meeting` | 3.00 | 4.00 | 30.00 | 41.00 | 10.00 | 0 KB | **not met** |",
        "| 1024.0 KiB | 350.0 KiB | 30.0 KiB | 10.0 KiB | NaN (NaN–NaN) ms |",
    ] {
        assert!(md.lines().any(|l| l == line), "no line {line:?} in\n{md}");
    }
    assert!(md.contains(
        "Rows in `event_outbox` over time: 0 s: 5, 10 s: 2003, 60 s: 2010; rows written meanwhile: 12000."
    ));
}

/// Written again through `Value`, not compared with the text: without
/// serde_json's float_roundtrip, a figure may read back 1 ulp off.
#[test]
fn the_committed_figures_are_written_back_unchanged() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results.json");
    let json = std::fs::read_to_string(path).unwrap();
    let results: Results = serde_json::from_str(&json).unwrap();
    let untyped: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        serde_json::to_string_pretty(&results).unwrap(),
        serde_json::to_string_pretty(&untyped).unwrap()
    );
}

/// The scale rows of a run since tasks have owners: every task one user's,
/// then the tasks spread over many users.
const OWNED_SCALE: &str = r#"[
  {"median_ms": 1.2, "owners": 1, "p99_ms": 2.5, "response_bytes": 24800, "route": "GET /api/tasks?limit=50", "tasks": 10001, "user_tasks": 10001},
  {"median_ms": 1.3, "owners": 1, "p99_ms": 2.7, "response_bytes": 25300, "route": "GET /api/tasks?limit=50", "tasks": 1000106, "user_tasks": 1000106},
  {"median_ms": 1.1, "owners": 1000, "p99_ms": 2.2, "response_bytes": 2400, "route": "GET /api/tasks?limit=50", "tasks": 10001, "user_tasks": 11},
  {"median_ms": 4.4, "owners": 1000, "p99_ms": 9.0, "response_bytes": 25300, "route": "GET /api/tasks?limit=50", "tasks": 1000106, "user_tasks": 1106}
]"#;

#[test]
fn scale_rows_of_both_layouts_read_back_and_render_a_table_each() {
    let mut untyped: serde_json::Value = serde_json::from_str(WRITTEN).unwrap();
    untyped["scale"] = serde_json::from_str(OWNED_SCALE).unwrap();
    let results: Results = serde_json::from_value(untyped.clone()).unwrap();
    assert_eq!(
        serde_json::to_string_pretty(&results).unwrap(),
        serde_json::to_string_pretty(&untyped).unwrap()
    );
    let md = markdown(&results);
    let section =
        &md[md.find("## Cost as the data grows").unwrap()..md.find("## Web app").unwrap()];
    let lines: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("###") || l.starts_with("| `"))
        .collect();
    assert_eq!(
        lines,
        [
            "### Every task one user's: the user's 10001 of 10001 and 1000106 of 1000106",
            "| `GET /api/tasks?limit=50` | 1.20 | 2.50 | 1.30 | 2.70 | 1.08 | 25 KB | met |",
            "### Spread over 1000 users: the user's 11 of 10001 and 1106 of 1000106",
            "| `GET /api/tasks?limit=50` | 1.10 | 2.20 | 4.40 | 9.00 | 4.00 | 25 KB | **not met** |",
        ]
    );
    assert!(
        section.contains("Every request is made as one user"),
        "{section}"
    );
}

#[test]
fn scale_rows_from_before_owners_render_one_table_as_they_did() {
    let md = markdown(&serde_json::from_str(WRITTEN).unwrap());
    let section =
        &md[md.find("## Cost as the data grows").unwrap()..md.find("## Web app").unwrap()];
    assert!(!section.contains("###"), "{section}");
    assert!(!section.contains("as one user"), "{section}");
    assert!(section.contains(
        "under 20 ms.\n\n| route | median ms at 10000 | p99 ms | median ms at 1000000 | p99 ms | ratio | largest response | |\n|---|"
    ), "{section}");
}

#[test]
fn the_event_path_renders_a_row_per_topic_size() {
    let md = markdown(&hand_built());
    let section = md
        .split("## The event path as the topic grows")
        .nth(1)
        .expect("the section is rendered");
    assert!(
        section.contains("| 0 | 710 (700–720) | 2000 (2000–2000) |"),
        "{section}"
    );
    assert!(section.contains("| 1000000 |"), "{section}");
    assert!(section.contains("first event reached the audit log 900 ms after the kill"));
    assert!(
        section.contains("900 creates acknowledged, 900 with exactly one audit row, 0 duplicated, 0 lost. The relay sent 12 events"),
        "{section}"
    );
    assert!(
        section.contains("(the median of 3 runs of 10 s)"),
        "{section}"
    );
}

#[test]
fn live_streams_render_their_memory_and_delivery() {
    let md = markdown(&hand_built());
    let section = md
        .split("## Live updates")
        .nth(1)
        .expect("the section is rendered");
    assert!(
        section.contains("1000 streams (`GET /api/task-events`) held open through the gateway: task-stream's resident memory 14.2 MiB (6.0 MiB with none open"),
        "{section}"
    );
    assert!(
        section.contains("p50 40 ms, p99 NaN ms; 0 deliveries missed"),
        "{section}"
    );
}
