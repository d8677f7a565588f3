//! End to end: `stack up` starts the whole local stack (PostgreSQL, every
//! function, the nginx edge router) and CRUD goes through the gateway.
//! Needs the function binaries: `task test` builds them first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use local_stack::stack_file::StackFile;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use task_core::routes::{FUNCTIONS, ROUTES};

/// A stack started for one test, stopped (and its files removed) on drop.
struct RunningStack {
    child: Child,
    state_dir: PathBuf,
    stack: StackFile,
}

impl Drop for RunningStack {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_stack"))
        .parent()
        .unwrap()
        .to_path_buf();
    for function in FUNCTIONS {
        assert!(
            dir.join(function).exists(),
            "{function} is not built in {}; run `cargo build --workspace --bins` first",
            dir.display()
        );
    }
    dir
}

/// `count` consecutive free ports on 127.0.0.1.
fn free_ports(count: u16) -> u16 {
    'search: for _ in 0..200 {
        let base = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base.checked_add(count).is_none() {
            continue;
        }
        for port in base..base + count {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue 'search;
            }
        }
        return base;
    }
    panic!("no {count} consecutive free ports");
}

fn stack_command(state_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stack"));
    command.arg("--state-dir").arg(state_dir);
    command
}

fn start_stack() -> RunningStack {
    let state_dir = std::env::temp_dir().join(format!("task-app-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    let gateway = free_ports(1);
    let postgres = free_ports(1);
    let functions = free_ports(FUNCTIONS.len() as u16 + 1);
    let kafka = free_ports(1);
    let broker = free_ports(2);
    let child = stack_command(&state_dir)
        .arg("up")
        .arg("--gateway-port")
        .arg(gateway.to_string())
        .arg("--postgres-port")
        .arg(postgres.to_string())
        .arg("--functions-base-port")
        .arg(functions.to_string())
        .arg("--kafka-port")
        .arg(kafka.to_string())
        .arg("--broker-port")
        .arg(broker.to_string())
        .arg("--manifests")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../knative/base"))
        .arg("--bin-dir")
        .arg(bin_dir())
        .arg("--web-dir")
        .arg(state_dir.join("no-web-build"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start `stack up`");
    let mut running = RunningStack {
        child,
        stack: StackFile {
            gateway_url: String::new(),
            database_url: String::new(),
            broker_url: String::new(),
            kafka_bootstrap: String::new(),
            functions: Default::default(),
            pid: 0,
        },
        state_dir,
    };
    let start = Instant::now();
    loop {
        if let Ok(stack) = StackFile::read(&running.state_dir) {
            running.stack = stack;
            return running;
        }
        if let Some(status) = running.child.try_wait().unwrap() {
            panic!("`stack up` exited early: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the stack was not ready in 90 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
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
        ["task.created", "task.updated", "task.deleted"],
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

    // `stack down` stops everything and removes stack.json.
    let down = stack_command(&running.state_dir)
        .arg("down")
        .output()
        .unwrap();
    assert!(down.status.success());
    let status = running.child.wait().unwrap();
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
