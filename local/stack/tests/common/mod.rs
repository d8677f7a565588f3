//! What the stack's tests share: the binaries built beside `stack`, and a
//! whole stack launched from them as `task up` runs it (without the web app).

use std::path::{Path, PathBuf};
use std::time::Duration;

use local_stack::launch::Launch;
use task_core::routes::FUNCTIONS;

/// Where `stack`, the functions and the broker are built.
pub fn bin_dir() -> PathBuf {
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

/// A stack of the binaries in [`bin_dir`] and the manifests of
/// `knative/base`; a test changes what it needs (`..launch()`) and starts it.
pub fn launch() -> Launch {
    Launch {
        bin_dir: bin_dir(),
        web_dir: None,
        manifests: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../knative/base"),
        relay_interval: Duration::from_secs(2),
        log_file: None,
        trigger_retry: None,
        env: Vec::new(),
    }
}
