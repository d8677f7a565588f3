//! The Lambda path for real: two function binaries (a read, `get-task`, and
//! a write, `create-task`) serve AWS Lambda invocations through cargo-lambda's
//! runtime emulator (`cargo lambda watch --only-lambda-apis`, from the PyPI
//! wheel that `task setup:test` installs), with the database, the OpenID
//! Provider and the broker of a whole local stack. Each contract case is sent
//! to the emulator's function URL and through the gateway (the Knative
//! path): both must answer alike, and the Lambda create's event must reach
//! the audit log.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use local_stack::function_env::function_env;
use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::{Value, json};
use servers::ports::{free_port, wait_listening};
use servers::process::{Running, stop_with_parent};

/// `function`'s binary serving invocations from its own emulator; returns
/// the emulator's function URL.
fn lambda(
    bin_dir: &Path,
    function: &str,
    env: BTreeMap<String, String>,
) -> (String, Running, Running) {
    let port = free_port().expect("a free port");
    let mut emulator = Command::new("cargo");
    emulator
        .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
        .args(["-P", &port.to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    stop_with_parent(&mut emulator, Signal::SIGKILL);
    let emulator = Running(
        emulator
            .spawn()
            .expect("cargo-lambda is installed by `task setup:test` (pip install cargo-lambda)"),
    );
    // The function asks the runtime API for its first invocation at once,
    // and exits if nothing listens yet.
    wait_listening(&format!("127.0.0.1:{port}"), Duration::from_secs(30))
        .expect("cargo lambda watch listens");
    let mut binary = Command::new(bin_dir.join(function));
    binary
        .envs(env)
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .stdout(Stdio::null());
    stop_with_parent(&mut binary, Signal::SIGKILL);
    let binary = Running(binary.spawn().expect("the function binary runs"));
    (
        format!("http://127.0.0.1:{port}/lambda-url/_"),
        emulator,
        binary,
    )
}

/// A contract case: a request, sent to the Lambda function that serves it
/// and through the gateway.
struct Case<'a> {
    name: &'a str,
    lambda_url: &'a str,
    method: Method,
    path: String,
    token: Option<&'a str>,
    /// Sent as `application/json`.
    body: Option<&'a str>,
}

impl Case<'_> {
    fn request(&self, client: &reqwest::Client, base: &str) -> reqwest::RequestBuilder {
        let mut request = client.request(self.method.clone(), format!("{base}{}", self.path));
        if let Some(token) = self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = self.body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        request
    }
}

/// Status, content type and JSON body of an answer.
async fn answer(request: reqwest::RequestBuilder) -> (u16, String, Value) {
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, content_type, body)
}

#[tokio::test]
async fn a_read_and_a_write_answer_under_the_lambda_runtime_as_on_knative() {
    let bin_dir = common::bin_dir();
    let running = common::launch().start().expect("the stack starts");
    let stack = &running.stack;
    let auth = stack.auth.function_env();
    let env = |function| function_env(function, 0, &stack.database_url, &stack.broker_url, &auth);
    let (get_url, _get_emulator, _get) = lambda(&bin_dir, "get-task", env("get-task"));
    let (create_url, _create_emulator, _create) =
        lambda(&bin_dir, "create-task", env("create-task"));
    let alice = stack.access_token("alice").await.unwrap();
    let bob = stack.access_token("bob").await.unwrap();
    // An invocation no function takes would wait for ever.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let gateway = &stack.gateway_url;
    let create = |base: &str, title: &str| {
        client
            .post(format!("{base}/api/tasks"))
            .bearer_auth(&alice)
            .json(&json!({ "title": title }))
    };
    // A create through Lambda, and the same through the gateway.
    let (status, content_type, task) = answer(create(&create_url, "via Lambda")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (201, "application/json"),
        "{task}"
    );
    assert_eq!(task["title"], "via Lambda");
    let id = task["id"].as_i64().unwrap();
    let (status, _, _) = answer(create(gateway, "via Knative")).await;
    assert_eq!(status, 201);

    let task_path = format!("/api/tasks/{id}");
    let read = |name, path: &str, token| Case {
        name,
        lambda_url: &get_url,
        method: Method::GET,
        path: path.to_string(),
        token,
        body: None,
    };
    let write = |name, body| Case {
        name,
        lambda_url: &create_url,
        method: Method::POST,
        path: "/api/tasks".to_string(),
        token: Some(&alice),
        body: Some(body),
    };
    let cases = [
        read("alice reads her task", &task_path, Some(&alice)),
        read(
            "bob reads alice's task: 404, as a missing one",
            &task_path,
            Some(&bob),
        ),
        read("no token", &task_path, None),
        read("a bad id", "/api/tasks/abc", Some(&alice)),
        write("a blank title", r#"{"title": "  "}"#),
        write("not JSON", "{"),
    ];
    for case in &cases {
        let via_lambda = answer(case.request(&client, case.lambda_url)).await;
        let via_knative = answer(case.request(&client, gateway)).await;
        let name = case.name;
        println!(
            "{name}: Lambda {} {}, Knative {} {}",
            via_lambda.0, via_lambda.1, via_knative.0, via_knative.1
        );
        assert_eq!(
            (via_lambda.0, &via_lambda.1),
            (via_knative.0, &via_knative.1),
            "{name}: {} / {}",
            via_lambda.2,
            via_knative.2
        );
        assert_eq!(via_lambda.2, via_knative.2, "{name}: the same body");
    }

    // The Lambda create's event reached the audit log through the broker.
    let history = || {
        client
            .get(format!("{gateway}/api/tasks/{id}/history"))
            .bearer_auth(&alice)
    };
    let started = Instant::now();
    loop {
        let (status, _, entries) = answer(history()).await;
        if status == 200 && entries.as_array().is_some_and(|e| e.len() == 1) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the Lambda create's event is not in the audit log: {entries}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
