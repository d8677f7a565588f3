//! End to end: `stack up` starts the whole local stack (the OpenID Provider,
//! PostgreSQL, every function, the nginx edge router) and CRUD goes through
//! the gateway, as a user signed in through the provider.
//! Needs the function binaries: `task test` builds them first.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use local_stack::launch::{Launch, RunningStack};
use local_stack::stack_file::StackFile;
use serde_json::{Value, json};
use task_core::routes::{Access, FUNCTIONS, ROUTES};

fn stack_command(state_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stack"));
    command.arg("--state-dir").arg(state_dir);
    command
}

fn start_stack(log_file: &Path) -> RunningStack {
    Launch {
        log_file: Some(log_file.to_path_buf()),
        ..common::launch()
    }
    .start()
    .expect("the stack starts")
}

#[tokio::test]
async fn the_whole_stack_serves_crud_through_the_gateway_and_stops_cleanly() {
    let log = std::env::temp_dir().join(format!("task-app-stack-test-{}.log", std::process::id()));
    let mut running = start_stack(&log);
    let stack = running.stack.clone();
    let gateway = stack.gateway_url.clone();
    let anonymous = reqwest::Client::new();
    let client = stack.client_as("alice").await.unwrap();

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

    // Sign-in: no token, 401; another user's task, 404 like a missing one.
    let response = anonymous
        .get(format!("{gateway}/api/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"task-api\""
    );
    let bob = stack.client_as("bob").await.unwrap();
    let mine = client
        .post(format!("{gateway}/api/tasks"))
        .json(&json!({"title": "alice's"}))
        .send()
        .await
        .unwrap();
    let mine: Value = mine.json().await.unwrap();
    let response = bob
        .get(format!("{gateway}/api/tasks/{}", mine["id"]))
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
    // Each names who made it: alice, checked against the change's outbox row.
    for entry in &history {
        assert_eq!(entry["actor"], created["owner"], "{entry}");
        assert_eq!(entry["verified"], true, "{entry}");
    }
    let pool = sqlx::PgPool::connect(&stack.database_url).await.unwrap();
    let audited: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT actor, owner FROM task_audit_log WHERE task_id = $1")
            .bind(created["id"].as_i64().unwrap())
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(audited.len(), 3);
    let alice = created["owner"].as_str().map(String::from);
    assert!(
        audited
            .iter()
            .all(|(actor, owner)| *actor == alice && *owner == alice)
    );
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
    for path in ["/", "/api/tasks", "/api/nothing", "/config.json"] {
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
    let carol = stack.client_as("carol").await.unwrap();
    for route in ROUTES
        .iter()
        .filter(|r| r.method == "GET" && !r.path.contains('{'))
    {
        let client = match route.access {
            Access::Public => &anonymous,
            Access::User => &client,
            Access::Admin => &carol,
        };
        let response = client
            .get(format!("{gateway}{}", route.path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {}", route.path);
    }
    // The sign-in page, on the gateway's origin, with a policy of its own.
    let config: Value = anonymous
        .get(format!("{gateway}/config.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config, json!({"issuer": "/oidc", "client_id": "task-web"}));
    let discovery: Value = anonymous
        .get(format!("{gateway}/oidc/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], stack.auth.issuer);
    assert_eq!(
        discovery["authorization_endpoint"],
        format!("{gateway}/oidc/auth")
    );
    // The provider's pages have a policy of their own (the app's allows no form).
    let response = anonymous
        .get(format!("{gateway}/oidc/login.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-security-policy"],
        knative_contract::edge_router::SIGN_IN_PAGE_POLICY
    );
    // The token command of stack.json prints a token that the API takes.
    let mut command = stack.auth.token_command.clone();
    command.push("bob".into());
    let printed = Command::new(&command[0])
        .args(&command[1..])
        .output()
        .unwrap();
    assert!(printed.status.success(), "{printed:?}");
    let token = String::from_utf8(printed.stdout).unwrap();
    let response = anonymous
        .get(format!("{gateway}/api/tasks"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
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
        "oidc",
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
    // Every process's log (functions, provider, broker, nginx): no token in it.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("listening"),
        "the log holds the stack's output"
    );
    assert!(
        !logged.contains("eyJ"),
        "a token (a JWT starts with eyJ) was logged"
    );
    std::fs::remove_file(&log).unwrap();
    assert!(
        anonymous
            .get(format!("{gateway}/health"))
            .send()
            .await
            .is_err()
    );
}
