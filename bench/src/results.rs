//! The figures of bench/results.json, one field per section. Every struct
//! keeps its fields in alphabetical order: the file was first written from
//! `serde_json::Value` objects, whose keys are sorted, and keeps that order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::measure::outbox::OutboxUnderLoad;
use crate::measure::pipeline::PipelineRun;
use crate::measure::scale::ScaleRow;
use crate::stats::{Summary, nan_from_null};

/// The whole of bench/results.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// The stripped release binary of each function.
    pub binary_bytes: BTreeMap<String, u64>,
    /// Process start to the first 200 on `/health`, by function.
    pub cold_start_ms: BTreeMap<String, Summary>,
    /// Absent from results written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_path: Option<EventPath>,
    pub event_pipeline: EventPipeline,
    /// The size buildah reports for each image `task images` built, by
    /// `name:tag`; empty if it did not run.
    pub image_sizes: BTreeMap<String, String>,
    /// Absent from results written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_streams: Option<LiveStreams>,
    pub machine: Machine,
    /// Resident set size by function.
    pub memory: BTreeMap<String, FunctionMemory>,
    /// Absent from results written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_under_load: Option<OutboxUnderLoad>,
    /// Absent from results written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Vec<ScaleRow>>,
    pub throughput: Vec<ThroughputRow>,
    pub web: WebApp,
}

/// The event path as the broker's topic grows, and under its faults (the
/// fields in the order the document sorts its keys).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventPath {
    /// The Kafka-protocol broker measured.
    pub broker: String,
    pub burst: Burst,
    pub by_topic_size: Vec<EventPathRow>,
    /// The broker's share (nisshi and its storage's database backends) of
    /// the CPU spent by the creates at 32 connections until their events were
    /// audited, at the largest topic; 0 to 1.
    pub kafka_cpu_share: f64,
    /// nisshi's resident memory after the largest topic was filled.
    pub kafka_rss_mib: f64,
    /// From the broker's SIGKILL (started again at once) to the first event
    /// delivered to the audit log after it.
    pub kill_to_first_delivery_ms: f64,
    /// Absent from results written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_under_load: Option<KilledUnderLoad>,
}

/// The broker killed (SIGKILL) and started again at once while creates
/// arrive at a steady rate: what became of every create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KilledUnderLoad {
    /// Creates answered 201.
    pub acknowledged: u64,
    /// Creates with exactly one `task.created` row in the audit log.
    pub audited_once: u64,
    /// `task.created` rows beyond the first of a task.
    pub duplicated: u64,
    /// Events the write functions could not hand to the broker while it
    /// was down: the relay sent them (their first send, not a second).
    pub left_to_relay: u64,
    /// Creates with no `task.created` row once the wait was over.
    pub lost: u64,
    /// Events the broker had taken that the relay sent again because the
    /// audit log still lacked them after its grace.
    pub resent_by_relay: u64,
    /// How long the creates ran; the kill came a third of the way in.
    pub seconds: u32,
}

/// Creates and the event pipeline with this many events already in the topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventPathRow {
    /// Creates per second by the function, at 1 and at 32 connections.
    pub create_c1: Summary,
    pub create_c32: Summary,
    pub events_in_topic: u64,
    /// Create answered to its audit row, at 200 creates/s.
    #[serde(deserialize_with = "nan_from_null")]
    pub pipeline_p50_ms: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub pipeline_p99_ms: f64,
    /// The pipeline's figures are the medians of this many runs (absent
    /// from results written when one run was all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_runs: Option<usize>,
}

/// A burst of creates, and how soon the audit log held them all.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Burst {
    /// From the end of the burst to the last create's audit row.
    pub caught_up_s: f64,
    pub connections: u32,
    pub creates: u64,
    /// Events the write function could not hand to the broker itself: the
    /// relay sent them.
    pub left_to_relay: u64,
    pub seconds: u32,
}

/// Many pages holding live-update streams open through the gateway, and a
/// change reaching all of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveStreams {
    /// Changes made (one create each), each delivered to every stream.
    pub changes: u64,
    /// From the create's answer to a stream reading its change, over every
    /// stream and change.
    #[serde(deserialize_with = "nan_from_null")]
    pub delivery_p50_ms: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub delivery_p99_ms: f64,
    /// Deliveries that did not arrive within 30 s (0 expected).
    pub missed: u64,
    /// nginx (master and workers) with the streams open.
    pub nginx_rss_mib: f64,
    pub streams: u64,
    /// task-stream with no stream open, and with them all open.
    pub task_stream_idle_rss_mib: f64,
    pub task_stream_rss_mib: f64,
}

/// Where and from what the figures were measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// `git rev-parse --short HEAD`.
    pub commit: String,
    pub cores: usize,
    /// The CPU's model name from /proc/cpuinfo.
    pub cpu: String,
    /// RFC 3339.
    pub date: String,
}

/// Creates at a steady rate to their rows in the audit log, and the audit
/// function's ingest beside pgbench's single-row insert.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventPipeline {
    pub audit_ingest_per_second: Summary,
    /// `audit_ingest_per_second` over `pgbench_insert_tps`, of the medians.
    #[serde(deserialize_with = "nan_from_null")]
    pub audit_ingest_ratio: f64,
    pub p50_ms: Summary,
    pub p99_ms: Summary,
    pub pgbench_insert_tps: Summary,
    pub runs: Vec<PipelineRun>,
    pub writes_per_second: u32,
}

/// One function's memory, idle and after 10,000 requests of its own kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionMemory {
    pub after_load_mib: Summary,
    pub failed_requests: usize,
    pub idle_mib: Summary,
}

/// One route at one concurrency, by the function or through the gateway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThroughputRow {
    pub connections: u32,
    /// The CPU the whole stack spent per request served; absent from
    /// results written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms_per_request: Option<f64>,
    /// `cpu_ms_per_request` by process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms_per_request_by_process: Option<BTreeMap<String, f64>>,
    /// The largest share first.
    pub cpu_share: Vec<CpuShare>,
    /// pgbench running the route's SQL at the same concurrency.
    pub limit_tps: Summary,
    pub non_2xx: u64,
    pub p50_ms: Summary,
    pub p99_ms: Summary,
    /// `requests_per_second` over `limit_tps`, of the medians.
    #[serde(deserialize_with = "nan_from_null")]
    pub ratio: f64,
    pub requests_per_second: Summary,
    pub route: String,
    /// `function` or `gateway`.
    pub target: String,
}

/// A process's share of the CPU time spent during a load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpuShare {
    /// What the process is: a function, `postgres`, `wrk`, ... or `other`.
    pub process: String,
    /// 0 to 1.
    pub share: f64,
}

/// The web app's size and how soon a browser shows the first task list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebApp {
    pub first_task_list_ms: Summary,
    pub js_bytes: u64,
    pub js_gzip_bytes: u64,
    pub wasm_bytes: u64,
    pub wasm_gzip_bytes: u64,
}

#[cfg(test)]
mod tests;
