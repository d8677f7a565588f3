//! End to end: `stack up` starts the whole local stack (PostgreSQL, every
//! function, the nginx edge router) and CRUD goes through the gateway.
//! Needs the function binaries: `task test` builds them first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use local_stack::launch::{Launch, RunningStack};
use local_stack::stack_file::StackFile;
use serde_json::{Value, json};
use task_core::routes::{FUNCTIONS, ROUTES};

fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_stack"))
        .parent()
        .unwrap()
        .to_path_buf();
    for function in FUNCTIONS.iter().chain(&["broker"]) {
        assert!(
            dir.join(function).exists(),
            "{function} is not built in {}; run `cargo build --workspace --bins` first",
            dir.display()
        );
    }
    dir
}

fn stack_command(state_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stack"));
    command.arg("--state-dir").arg(state_dir);
    command
}

fn start_stack() -> RunningStack {
    Launch {
        bin_dir: bin_dir(),
        web_dir: None,
        manifests: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../knative/base"),
        relay_interval: Duration::from_secs(2),
        log_file: None,
        trigger_retry: None,
        env: Vec::new(),
    }
    .start()
    .expect("the stack starts")
}

#[tokio::test]
async fn the_whole_stack_serves_crud_through_the_gateway_and_stops_cleanly() {
    let mut running = start_stack();
    let stack = running.stack.clone();
    let gateway = stack.gateway_url.clone();
    let client = reqwest::Client::new();

    // stack.json names every function, and each answers /health on its own port.
    assert_eq!(stack.functions.len(), FUNCTIONS.len());
    for (name, url) in &stack.functions {
        let health: Value = client
            .get(format!("{url}/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["function"], name.as_str());
    }
    assert!(stack.database_url.starts_with("postgres://"));

    // Create.
    let response = client
        .post(format!("{gateway}/api/tasks"))
        .json(&json!({"title": "  Through the gateway ", "description": "<b>as sent</b>"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["title"], "Through the gateway");
    assert_eq!(location, format!("/api/tasks/{}", created["id"]));

    // Read: the list and the task.
    let list: Value = client
        .get(format!("{gateway}/api/tasks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let response = client
        .get(format!("{gateway}{location}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");

    // Update, with If-Match, then a stale one.
    let response = client
        .put(format!("{gateway}{location}"))
        .header("if-match", "\"1\"")
        .json(&json!({"status": "complete"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client
        .put(format!("{gateway}{location}"))
        .header("if-match", "\"1\"")
        .json(&json!({"status": "pending"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412);

    // Bad input through the gateway is still a problem, never a 5xx.
    let response = client
        .post(format!("{gateway}/api/tasks"))
        .json(&json!({"title": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    // Delete.
    let response = client
        .delete(format!("{gateway}{location}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let response = client
        .get(format!("{gateway}{location}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // Every change shows up in the audit log and the task's history within a second.
    let history_url = format!("{gateway}{location}/history");
    let start = Instant::now();
    let history = loop {
        // 404 until the first event arrives: the task itself is gone already.
        let history: Value = client
            .get(&history_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let history = history.as_array().cloned().unwrap_or_default();
        if history.len() >= 3 || start.elapsed() > Duration::from_secs(1) {
            break history;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let types: Vec<&str> = history
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["task.deleted", "task.updated", "task.created"],
        "after {:?}",
        start.elapsed()
    );
    assert_eq!(history[1]["data"]["changes"]["status"]["new"], "complete");
    let pool = sqlx::PgPool::connect(&stack.database_url).await.unwrap();
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM task_audit_log WHERE task_id = $1")
        .bind(created["id"].as_i64().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 3);
    pool.close().await;

    // The largest change the API takes (every character one JSON escapes to
    // six bytes: its task.updated event is about 185 KB) travels the whole
    // path: gateway, function, broker ingress, Kafka, dispatcher, audit.
    let text = |c: char, n: usize| c.to_string().repeat(n);
    let response = client
        .post(format!("{gateway}/api/tasks"))
        .json(&json!({"title": text('\u{1}', 255), "description": text('😀', 10_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let large: Value = response.json().await.unwrap();
    let large_url = format!("{gateway}/api/tasks/{}", large["id"]);
    let response = client
        .put(&large_url)
        .json(&json!({"title": text('\u{2}', 255), "description": text('\u{3}', 10_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let start = Instant::now();
    let history = loop {
        let history: Vec<Value> = client
            .get(format!("{large_url}/history"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if history.len() >= 2 || start.elapsed() > Duration::from_secs(10) {
            break history;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(history.len(), 2, "the largest update was not audited");
    let changes = &history[0]["data"]["changes"];
    assert_eq!(changes["description"]["old"], text('😀', 10_000));
    assert_eq!(changes["description"]["new"], text('\u{3}', 10_000));
    assert_eq!(changes["title"]["new"], text('\u{2}', 255));

    // The audit function and the relay are not reachable through the gateway.
    let response = client.post(format!("{gateway}/")).send().await.unwrap();
    assert_ne!(response.status(), 204);
    for path in ["/audit", "/outbox-relay"] {
        let response = client
            .post(format!("{gateway}{path}"))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "POST {path}: {}",
            response.status()
        );
    }

    // Every response carries the security headers; what nginx refuses by
    // itself (a request line or a cookie far too large) is problem+json too.
    for path in ["/", "/api/tasks", "/api/nothing"] {
        let response = client.get(format!("{gateway}{path}")).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(
            headers["content-security-policy"],
            knative_contract::edge_router::CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    for (request, status) in [
        (
            client.get(format!("{gateway}/api/tasks?q={}", "x".repeat(9000))),
            414,
        ),
        (
            client.get(format!("{gateway}/api/tasks?q={}", "x".repeat(5000))),
            414,
        ),
        (
            client
                .get(format!("{gateway}/api/tasks"))
                .header("cookie", format!("a={}", "y".repeat(17_000))),
            400,
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], status);
    }

    // The gateway's own answers: unknown route, unknown method, health, docs, the page.
    let response = client
        .get(format!("{gateway}/api/unknown"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = client
        .patch(format!("{gateway}/api/tasks/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, PUT, DELETE");
    for route in ROUTES
        .iter()
        .filter(|r| r.method == "GET" && !r.path.contains('{'))
    {
        let response = client
            .get(format!("{gateway}{}", route.path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {}", route.path);
    }
    let page = client
        .get(format!("{gateway}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<title>Tasks</title>"));

    // A second `up` from the same state directory says so.
    let second = stack_command(&running.state_dir)
        .arg("up")
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&second.stdout).contains("already running"));

    // `stack status` lists every service, none restarted.
    let status = stack_command(&running.state_dir)
        .arg("status")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&status.stdout);
    for service in FUNCTIONS.iter().chain(&[
        "postgres",
        "kafka",
        "broker-ingress",
        "broker-dispatch",
        "gateway",
    ]) {
        assert!(
            listing.contains(service),
            "{service} missing from `stack status`:\n{listing}"
        );
    }
    assert!(
        listing.contains("0 parked"),
        "`stack status` shows the outbox:\n{listing}"
    );

    // `stack down` stops everything and removes stack.json.
    let down = stack_command(&running.state_dir)
        .arg("down")
        .output()
        .unwrap();
    assert!(down.status.success());
    let status = running.stop().unwrap();
    assert!(status.success(), "`stack up` exited with {status}");
    assert!(!StackFile::path(&running.state_dir).exists());
    assert!(
        client
            .get(format!("{gateway}/health"))
            .send()
            .await
            .is_err()
    );
}
