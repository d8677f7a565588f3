//! The local Kafka-protocol broker: tansu, keeping its data in memory.
//!
//! tansu 0.6's durable storages do not work on this kind of machine (see the
//! README); in memory it is correct as long as every producer sends one
//! record per batch, which the local broker's receiver does. A restart loses
//! what it held; a pause (the broker merely unavailable) loses nothing.

use std::path::PathBuf;
use std::process::Command;

/// The tansu version the project is tested with (`task setup` installs it).
pub const TANSU_VERSION: &str = "0.6.0";

/// tansu is not installed.
#[derive(Debug, thiserror::Error)]
#[error(
    "tansu is not installed; run `task setup` (cargo install tansu --version {TANSU_VERSION} --locked --features dynostore)"
)]
pub struct TansuNotInstalled;

/// `tansu` on the PATH or in cargo's bin directory.
pub fn find_tansu() -> Result<PathBuf, TansuNotInstalled> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin"));
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join("tansu"))
        .find(|path| path.exists())
        .ok_or(TansuNotInstalled)
}

/// The command that runs tansu in the foreground on 127.0.0.1:`port`, in memory.
pub fn tansu_command(tansu: &PathBuf, port: u16) -> Command {
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(tansu);
    command
        .arg("broker")
        .args(["--listener-url", &url, "--advertised-listener-url", &url])
        .args(["--storage-engine", "memory://tansu/"])
        .env("RUST_LOG", "warn");
    command
}
