//! Every command the README shows, run against a whole local stack, so the
//! README cannot drift from the app. The first block (`task up`, `task
//! test`) is what runs this test; each later `sh` block runs in bash with the
//! stack's own addresses in place of the defaults and `task token` as the
//! `stack token` it runs, and curl fails on an HTTP error.

use std::process::Command;

mod common;

const README: &str = include_str!("../../../README.md");

/// The contents of the README's ```sh blocks, in order.
fn shell_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn the_readme_starts_with_the_two_commands() {
    let blocks = shell_blocks(README);
    let first = blocks.first().expect("the README shows commands");
    assert!(
        first.starts_with("task up ") && first.contains("\ntask test "),
        "{first}"
    );
    assert!(
        README.find("```sh") < README.find("\n## "),
        "the two commands come first"
    );
}

#[tokio::test]
async fn every_command_the_readme_shows_works_on_a_running_stack() {
    let bin_dir = common::bin_dir();
    let running = common::launch().start().expect("the stack starts");
    let stack = &running.stack;
    let token_command = format!(
        "{} --state-dir {} token ",
        bin_dir.join("stack").display(),
        running.state_dir.display()
    );
    let blocks = shell_blocks(README);
    assert!(blocks.len() >= 3, "the README shows how to use the app");
    for block in &blocks[1..] {
        let script = block
            .replace("http://127.0.0.1:8080", &stack.gateway_url)
            .replace("http://127.0.0.1:8070/", &stack.broker_url)
            .replace("task token -- ", &token_command)
            .replace("curl -s ", "curl -sS --fail-with-body ");
        let output = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "a command the README shows failed:\n{block}\nrun as:\n{script}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
