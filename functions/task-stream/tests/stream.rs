//! `task-stream` over HTTP: events posted to it as its Trigger delivers them,
//! read back as Server-Sent Events by signed-in users (tokens from the real
//! OpenID Provider): who sees what, resuming, resets, keep-alives, the end
//! of a stream, and shutdown.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use task_core::task::{Task, TaskStatus};
use task_stream::StreamSettings;
use test_support::identity::sub;
use test_support::{TestApp, assert_problem, client_as};
use tokio::sync::watch;

const SETTINGS: StreamSettings = StreamSettings {
    max_duration: Duration::from_secs(60),
    keep_alive: Duration::from_secs(60),
    buffer_changes: 100,
};

async fn app_with(settings: StreamSettings) -> (TestApp, Arc<watch::Sender<bool>>) {
    let stop = Arc::new(watch::channel(false).0);
    let app = TestApp::spawn(
        task_stream::FUNCTION,
        task_stream::router_with(settings, stop.clone()),
    )
    .await;
    (app, stop)
}

/// Posts a task event about `owner`'s task `task_id` at `version`, as a
/// Trigger delivers it (binary mode).
async fn deliver(app: &TestApp, event_id: &str, ty: &str, task_id: i64, version: i32, owner: &str) {
    let now = Utc::now();
    let task = Task {
        id: task_id,
        title: "Live".into(),
        description: None,
        status: TaskStatus::Pending,
        created_at: now,
        updated_at: now,
        version,
        owner: sub(owner),
    };
    let mut data = serde_json::to_value(task).unwrap();
    if ty == "task.updated" {
        data["changes"] = json!({"title": {"old": "Before", "new": "Live"}});
    }
    let response = reqwest::Client::new()
        .post(app.url("/"))
        .header("ce-specversion", "1.0")
        .header("ce-id", event_id)
        .header("ce-type", ty)
        .header("ce-source", "/tests/task-stream")
        .header("ce-subject", task_id.to_string())
        .header("content-type", "application/json")
        .body(data.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{event_id}");
}

/// One message of the stream: its fields as sent (`event`, `id`, `data`,
/// `retry`, and `:` for a comment).
type Message = Vec<(String, String)>;

fn field<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Reads an open stream message by message.
struct Stream {
    response: reqwest::Response,
    pending: String,
}

impl Stream {
    async fn open(app: &TestApp, user: &str, last_event_id: Option<&str>) -> Self {
        let mut request = client_as(user).await.get(app.url("/api/task-events"));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["x-accel-buffering"], "no");
        assert_eq!(response.headers()["cache-control"], "no-store");
        Self {
            response,
            pending: String::new(),
        }
    }

    /// The next message, or `None` when the stream ended (within 10 s).
    async fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                return Some(
                    block
                        .lines()
                        .filter(|line| !line.is_empty())
                        .map(|line| {
                            let (name, value) = line.split_once(':').unwrap_or((line, ""));
                            let name = if name.is_empty() { ":" } else { name };
                            (name.to_string(), value.trim_start().to_string())
                        })
                        .collect(),
                );
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("a message or the end within 10 s")
                .unwrap()?;
            self.pending.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next message that is an event (not `retry`, not a comment).
    async fn next_event(&mut self) -> Message {
        loop {
            let message = self.next().await.expect("the stream is open");
            if field(&message, "event").is_some() {
                return message;
            }
        }
    }

    /// The next `task` event's data.
    async fn next_change(&mut self) -> (String, Value) {
        let message = self.next_event().await;
        assert_eq!(field(&message, "event"), Some("task"), "{message:?}");
        let data = serde_json::from_str(field(&message, "data").unwrap()).unwrap();
        (field(&message, "id").unwrap().to_string(), data)
    }
}

#[tokio::test]
async fn a_stream_needs_a_token_and_a_well_formed_position() {
    let (app, _stop) = app_with(SETTINGS).await;
    let response = reqwest::get(app.url("/api/task-events")).await.unwrap();
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_problem(response, 401).await;
    for bad in ["12", "a-1", "1-2-3", "-1-2"] {
        let response = app
            .client
            .get(app.url("/api/task-events"))
            .header("last-event-id", bad)
            .send()
            .await
            .unwrap();
        assert_problem(response, 400).await;
        let since = app.get(&format!("/api/task-events?since={bad}")).await;
        assert_problem(since, 400).await;
    }
}

#[tokio::test]
async fn each_user_is_told_of_their_own_tasks_and_an_admin_of_all() {
    let (app, _stop) = app_with(SETTINGS).await;
    let mut alice = Stream::open(&app, "alice", None).await;
    let first = alice.next().await.unwrap();
    assert_eq!(field(&first, "retry"), Some("2000"));
    let ready = alice.next_event().await;
    assert_eq!(field(&ready, "event"), Some("ready"));
    let mut bob = Stream::open(&app, "bob", None).await;
    assert_eq!(field(&bob.next_event().await, "event"), Some("ready"));
    let mut carol = Stream::open(&app, "carol", None).await;
    assert_eq!(field(&carol.next_event().await, "event"), Some("ready"));

    deliver(&app, "e1", "task.created", 1, 1, "bob").await;
    deliver(&app, "e2", "task.updated", 2, 3, "alice").await;
    deliver(&app, "e3", "task.deleted", 2, 3, "alice").await;

    let (_, change) = alice.next_change().await;
    assert_eq!(
        change,
        json!({"type": "task.updated", "task_id": 2, "version": 3})
    );
    let (_, change) = alice.next_change().await;
    // A deletion comes one after the task's last version.
    assert_eq!(
        change,
        json!({"type": "task.deleted", "task_id": 2, "version": 4})
    );
    let (_, change) = bob.next_change().await;
    assert_eq!(change["task_id"], 1);
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(carol.next_change().await.1["task_id"].as_i64().unwrap());
    }
    assert_eq!(seen, [1, 2, 2]);
}

#[tokio::test]
async fn a_redelivered_event_is_told_once_and_a_bad_one_is_refused() {
    let (app, _stop) = app_with(SETTINGS).await;
    let mut alice = Stream::open(&app, "alice", None).await;
    alice.next_event().await;
    deliver(&app, "same", "task.created", 5, 1, "alice").await;
    deliver(&app, "same", "task.created", 5, 1, "alice").await;
    deliver(&app, "next", "task.updated", 5, 2, "alice").await;
    assert_eq!(alice.next_change().await.1["version"], 1);
    assert_eq!(alice.next_change().await.1["version"], 2);

    let not_a_task_event = reqwest::Client::new()
        .post(app.url("/"))
        .header("ce-specversion", "1.0")
        .header("ce-id", "x")
        .header("ce-type", "something.else")
        .header("ce-source", "/tests")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(not_a_task_event, 400).await;
}

#[tokio::test]
async fn a_client_resumes_where_it_was_or_is_told_to_start_over() {
    let settings = StreamSettings {
        buffer_changes: 3,
        ..SETTINGS
    };
    let (app, _stop) = app_with(settings).await;
    let mut alice = Stream::open(&app, "alice", None).await;
    alice.next_event().await;
    deliver(&app, "a1", "task.created", 7, 1, "alice").await;
    let (last, _) = alice.next_change().await;
    drop(alice);

    // Missed while away: resumed in order, another user's left out.
    deliver(&app, "a2", "task.updated", 7, 2, "alice").await;
    deliver(&app, "b1", "task.created", 8, 1, "bob").await;
    let mut alice = Stream::open(&app, "alice", Some(&last)).await;
    assert_eq!(alice.next_change().await.1["version"], 2);
    let by_query = client_as("alice")
        .await
        .get(app.url(&format!("/api/task-events?since={last}")))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    drop(by_query);

    // Another process's position (a restart), and one the ring moved past.
    let (epoch, _) = last.split_once('-').unwrap();
    let other_epoch = format!("{}-1", epoch.parse::<u64>().unwrap() - 1);
    for _ in 0..4 {
        deliver(
            &app,
            &format!("r{}", unique_id()),
            "task.updated",
            8,
            2,
            "bob",
        )
        .await;
    }
    for position in [other_epoch.as_str(), last.as_str()] {
        let mut again = Stream::open(&app, "alice", Some(position)).await;
        let reset = again.next_event().await;
        assert_eq!(field(&reset, "event"), Some("reset"), "{position}");
        let current = field(&reset, "id").unwrap();
        assert!(current.starts_with(&format!("{epoch}-")), "{current}");
    }
}

/// A unique event id.
fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

#[tokio::test]
async fn idle_streams_get_keep_alives_with_the_position_and_end_on_time() {
    let settings = StreamSettings {
        max_duration: Duration::from_secs(3),
        keep_alive: Duration::from_millis(1000),
        buffer_changes: 100,
    };
    let (app, _stop) = app_with(settings).await;
    let mut alice = Stream::open(&app, "alice", None).await;
    alice.next_event().await;
    // bob's change moves the position without telling alice of it.
    deliver(&app, "b", "task.created", 9, 1, "bob").await;
    let keep_alive = loop {
        let message = alice.next().await.expect("a keep-alive before the end");
        if field(&message, ":").is_some() {
            break message;
        }
        assert!(field(&message, "event").is_none(), "{message:?}");
    };
    assert_eq!(field(&keep_alive, ":"), Some("keep-alive"));
    assert!(
        field(&keep_alive, "id").unwrap().ends_with("-1"),
        "{keep_alive:?}"
    );
    // The server ends the stream itself.
    while alice.next().await.is_some() {}
}

#[tokio::test]
async fn open_streams_end_when_the_function_is_told_to_stop() {
    let (app, stop) = app_with(SETTINGS).await;
    let mut alice = Stream::open(&app, "alice", None).await;
    alice.next_event().await;
    stop.send_replace(true);
    assert!(alice.next().await.is_none());
}
