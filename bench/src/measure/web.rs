//! The web app: its size, and how long until a list of tasks is on screen.

use std::path::Path;
use std::process::Command;

/// Raw and gzip-compressed size of each file of `dist` ending in `suffix`.
pub fn sizes(dist: &Path, suffix: &str) -> anyhow::Result<(u64, u64)> {
    let mut total = (0, 0);
    for entry in std::fs::read_dir(dist)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(suffix) {
            let raw = std::fs::metadata(&path)?.len();
            let gzip = Command::new("gzip")
                .arg("-9c")
                .arg(&path)
                .output()?
                .stdout
                .len() as u64;
            total = (total.0 + raw, total.1 + gzip);
        }
    }
    Ok(total)
}

/// Milliseconds from navigation start to the first rendered task, in
/// headless Chromium (web/e2e/first-render.mjs), `runs` times, for a
/// returning visitor: signed in once as `user` (username, password), each
/// load then signs in silently with the provider's session.
pub fn first_render(
    web: &Path,
    url: &str,
    runs: u32,
    (username, password): (&str, &str),
) -> anyhow::Result<Vec<f64>> {
    let output = Command::new("node")
        .arg("e2e/first-render.mjs")
        .args([url, &runs.to_string()])
        .env("SIGN_IN_USERNAME", username)
        .env("SIGN_IN_PASSWORD", password)
        .current_dir(web)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "first-render failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}
