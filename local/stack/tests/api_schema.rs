//! Bad input at scale: schemathesis (from PyPI) generates requests from the
//! published OpenAPI document and sends them through the gateway of a whole
//! local stack, following the document's links for stateful sequences, as
//! alice (signed in through the stack's provider; schemathesis also checks
//! that the routes the document secures refuse requests without her token).
//! Zero server errors, zero responses that break the schema.

use std::path::Path;
use std::process::Command;

use local_stack::launch::Launch;

mod common;

#[tokio::test]
async fn the_api_keeps_its_openapi_document_under_generated_input() {
    let running = Launch {
        // Live-update streams end after a second, so each request for one
        // gets its whole answer.
        env: vec![("STREAM_MAX_SECONDS".into(), "1".into())],
        ..common::launch()
    }
    .start()
    .expect("the stack starts");
    let gateway = &running.stack.gateway_url;
    let token = running.stack.access_token("alice").await.unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemathesis.toml");
    let output = Command::new("schemathesis")
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(format!("{gateway}/api/openapi.json"))
        .args(["--url", gateway])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Every check but one: a task's history outlives the task by design.
        .args(["--checks", "all", "--exclude-checks", "use_after_free"])
        .args(["--max-examples", "25", "--seed", "1"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--generation-database", "none", "--no-color"])
        .output()
        .expect("schemathesis is installed by task setup (pip install schemathesis)");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}
