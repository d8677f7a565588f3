//! What the chaos run and the benchmarks share: where the repository and its
//! binaries are, and a local stack started for the run.

pub mod chaos;
pub mod measure;
pub mod report;
pub mod results;
pub mod stats;

use std::path::PathBuf;
use std::time::Duration;

use local_stack::launch::{Launch, RunningStack};

/// The repository root (this crate sits in `bench/`).
pub fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The local stack of a run, from the binaries in `target/<profile>`, with
/// the relay timer at `relay_interval` and the log in `target/bench/<log>`.
pub fn stack_launch(profile: &str, relay_interval: Duration, log: &str) -> anyhow::Result<Launch> {
    let root = repository();
    let bin_dir = root.join("target").join(profile);
    anyhow::ensure!(
        bin_dir.join("stack").exists(),
        "{} has no stack binary: build first (`cargo build --workspace --bins{}`)",
        bin_dir.display(),
        if profile == "release" {
            " --release"
        } else {
            ""
        }
    );
    let logs = root.join("target/bench");
    std::fs::create_dir_all(&logs)?;
    let web = root.join("web/dist");
    Ok(Launch {
        bin_dir,
        web_dir: web.join("index.html").exists().then_some(web),
        manifests: root.join("knative/base"),
        relay_interval,
        log_file: Some(logs.join(log)),
        trigger_retry: None,
        env: Vec::new(),
    })
}

/// Starts the whole local stack as [`stack_launch`] describes it.
pub fn start_stack(
    profile: &str,
    relay_interval: Duration,
    log: &str,
) -> anyhow::Result<RunningStack> {
    stack_launch(profile, relay_interval, log)?
        .start()
        .map_err(anyhow::Error::msg)
}
