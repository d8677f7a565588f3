//! What the broker tests share: manifests written for the test, and the
//! receiver and dispatcher run as the real `broker` binary.

#![allow(dead_code)] // each test file uses its own part of this

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
pub use servers::process::Running;

/// A fresh namespace per test: its own topic and consumer groups on the
/// shared Kafka broker.
pub fn namespace(test: &str) -> String {
    format!("{test}-{}-{}", std::process::id(), uuid_suffix())
}

fn uuid_suffix() -> String {
    use std::time::SystemTime;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{nanos:x}")
}

/// Writes `yaml` (a Broker named `b`, and a topic of 3 partitions, are added)
/// into a directory of its own.
pub fn manifests(namespace: &str, yaml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("broker-manifests-{namespace}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let broker = "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: b\n---\n\
                  apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kafka-broker-config\ndata:\n  default.topic.partitions: \"3\"\n---\n";
    std::fs::write(dir.join("eventing.yaml"), format!("{broker}{yaml}")).unwrap();
    dir
}

/// A Trigger of broker `b` to the Service `subscriber`.
pub fn trigger(name: &str, subscriber: &str, extra_spec: &str, annotations: &str) -> String {
    format!(
        "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: {name}\n  annotations: {{{annotations}}}\nspec:\n  broker: b\n  subscriber:\n    ref: {{apiVersion: serving.knative.dev/v1, kind: Service, name: {subscriber}}}\n{extra_spec}---\n"
    )
}

fn broker(bootstrap: &str, manifests: &Path, namespace: &str, listen: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_broker"));
    command
        .args([
            "--bootstrap",
            bootstrap,
            "--namespace",
            namespace,
            "--listen",
            listen,
        ])
        .arg("--manifests")
        .arg(manifests)
        .stdout(Stdio::null());
    command
}

/// Starts `broker receiver`; returns it and its URL once it is healthy.
pub async fn receiver(
    bootstrap: &str,
    manifests: &Path,
    namespace: &str,
    timeout_ms: u64,
) -> (Running, String) {
    receiver_with(bootstrap, manifests, namespace, timeout_ms, &[]).await
}

/// [`receiver`], with more of the broker's options.
pub async fn receiver_with(
    bootstrap: &str,
    manifests: &Path,
    namespace: &str,
    timeout_ms: u64,
    options: &[&str],
) -> (Running, String) {
    let timeout = timeout_ms.to_string();
    start_receiver(
        bootstrap,
        manifests,
        namespace,
        options,
        &["--delivery-timeout-ms", &timeout],
    )
    .await
}

/// [`receiver`], telling the dispatcher at `dispatcher_url` of each stored event.
pub async fn waking_receiver(
    bootstrap: &str,
    manifests: &Path,
    namespace: &str,
    dispatcher_url: &str,
) -> (Running, String) {
    let wake = format!("{dispatcher_url}/wake");
    start_receiver(
        bootstrap,
        manifests,
        namespace,
        &[],
        &["--wake-dispatcher", &wake],
    )
    .await
}

async fn start_receiver(
    bootstrap: &str,
    manifests: &Path,
    namespace: &str,
    options: &[&str],
    receiver_options: &[&str],
) -> (Running, String) {
    let address = format!("127.0.0.1:{}", servers::ports::free_port().unwrap());
    let child = broker(bootstrap, manifests, namespace, &address)
        .args(options)
        .arg("receiver")
        .args(receiver_options)
        .spawn()
        .expect("start the receiver");
    let url = format!("http://{address}");
    wait_healthy(&url).await;
    (Running(child), format!("{url}/"))
}

/// Starts `broker dispatcher` with `services` (NAME, URL); returns once healthy.
pub async fn dispatcher(
    bootstrap: &str,
    manifests: &Path,
    namespace: &str,
    services: &[(&str, String)],
) -> Running {
    dispatcher_at(bootstrap, manifests, namespace, services)
        .await
        .0
}

/// [`dispatcher`], and its URL (`/health`, `/wake`).
pub async fn dispatcher_at(
    bootstrap: &str,
    manifests: &Path,
    namespace: &str,
    services: &[(&str, String)],
) -> (Running, String) {
    let address = format!("127.0.0.1:{}", servers::ports::free_port().unwrap());
    let mut command = broker(bootstrap, manifests, namespace, &address);
    command.arg("dispatcher");
    for (name, url) in services {
        command.arg("--service").arg(format!("{name}={url}"));
    }
    let child = command.spawn().expect("start the dispatcher");
    let url = format!("http://{address}");
    wait_healthy(&url).await;
    (Running(child), url)
}

async fn wait_healthy(url: &str) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{url}/health")).send().await
            && response.status().is_success()
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{url} was not healthy within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts one binary-mode CloudEvent; returns the status.
pub async fn post_event(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    ty: &str,
    key: &str,
    data: &Value,
) -> u16 {
    client
        .post(url)
        .header("ce-specversion", "1.0")
        .header("ce-id", id)
        .header("ce-type", ty)
        .header("ce-source", "/tests/broker")
        .header("ce-subject", key)
        .header("ce-time", "2026-11-24T06:00:00Z")
        .header("ce-partitionkey", key)
        .header("ce-sequence", data["seq"].to_string())
        // Who made the change (the authcontext extension), as the functions send it.
        .header("ce-authtype", "app_user")
        .header("ce-authid", format!("user-{key}"))
        .header("content-type", "application/json")
        .body(data.to_string())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// The annotation of a Trigger that delivers one partition key's events in order.
pub const ORDERED: &str = "kafka.eventing.knative.dev/delivery.order: ordered";

/// Posts a `task.created` event `e<seq>` for each of `seqs`, keyed over seven
/// tasks; returns each event's id and the status it got.
pub async fn post_numbered(
    client: &reqwest::Client,
    url: &str,
    seqs: std::ops::Range<usize>,
) -> Vec<(String, u16)> {
    let mut answers = Vec::new();
    for seq in seqs {
        let id = format!("e{seq}");
        let key = format!("k{}", seq % 7);
        let status = post_event(client, url, &id, "task.created", &key, &data(seq)).await;
        answers.push((id, status));
    }
    answers
}

/// Data with a sequence number and some text.
pub fn data(seq: usize) -> Value {
    json!({"seq": seq, "text": format!("event {seq} ✓ \"quoted\"")})
}

/// Polls until `count()` reaches `want` or `limit` passes; returns the last count.
pub async fn wait_for<F, Fut>(want: usize, limit: Duration, mut count: F) -> usize
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let start = Instant::now();
    loop {
        let n = count().await;
        if n >= want || start.elapsed() > limit {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
