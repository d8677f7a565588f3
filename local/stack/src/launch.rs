//! Starting a whole local stack from a program (the end-to-end test, the
//! chaos run, the benchmarks): free ports, a private state directory, and a
//! stop when it is dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use servers::ports::free_ports;
use servers::process::stop_with_parent;
use task_core::routes::FUNCTIONS;

use crate::stack_file::StackFile;

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Where `stack` and the other binaries are (target/debug or target/release).
    pub bin_dir: PathBuf,
    /// The built web app, if it should be served.
    pub web_dir: Option<PathBuf>,
    /// The repository's `knative/base`.
    pub manifests: PathBuf,
    pub relay_interval: Duration,
    /// Where the stack's output goes (none: discarded).
    pub log_file: Option<PathBuf>,
    /// Overrides every Trigger's retry count (`stack up --trigger-retry`).
    pub trigger_retry: Option<u32>,
    /// Extra environment for the stack, e.g. the relay's `OUTBOX_*` settings.
    pub env: Vec<(String, String)>,
}

/// A running stack; stopped (SIGTERM, as Ctrl-C would) and its files removed on drop.
#[derive(Debug)]
pub struct RunningStack {
    child: Child,
    pub state_dir: PathBuf,
    pub stack: StackFile,
}

impl Launch {
    /// Starts `stack up` and waits (up to 120 s) until it has written stack.json.
    pub fn start(&self) -> Result<RunningStack, String> {
        let state_dir = std::env::temp_dir().join(format!(
            "task-app-stack-{}-{}",
            std::process::id(),
            free_ports(1).map_err(|e| e.to_string())?
        ));
        let _ = std::fs::remove_dir_all(&state_dir);
        let ports = |n| free_ports(n).map_err(|e| e.to_string());
        let mut command = Command::new(self.bin_dir.join("stack"));
        command
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("up")
            .args(["--gateway-port", &ports(1)?.to_string()])
            .args(["--postgres-port", &ports(1)?.to_string()])
            .args([
                "--functions-base-port",
                &ports(FUNCTIONS.len() as u16 + 1)?.to_string(),
            ])
            .args(["--kafka-port", &ports(1)?.to_string()])
            .args(["--oidc-port", &ports(1)?.to_string()])
            .args(["--broker-port", &ports(2)?.to_string()])
            .args([
                "--relay-interval-ms",
                &self.relay_interval.as_millis().to_string(),
            ])
            .args(
                self.trigger_retry
                    .map(|retry| ["--trigger-retry".to_string(), retry.to_string()])
                    .into_iter()
                    .flatten(),
            )
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("--bin-dir")
            .arg(&self.bin_dir)
            .arg("--manifests")
            .arg(&self.manifests)
            .arg("--web-dir")
            .arg(
                self.web_dir
                    .clone()
                    .unwrap_or_else(|| state_dir.join("no-web-app")),
            );
        match &self.log_file {
            Some(path) => {
                let log =
                    std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let err = log.try_clone().map_err(|e| e.to_string())?;
                command.stdout(log).stderr(err);
            }
            None => {
                command.stdout(Stdio::null());
            }
        }
        // An interrupted chaos run or bench leaves no stack behind.
        stop_with_parent(&mut command, Signal::SIGTERM);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin_dir.join("stack").display()))?;
        let mut running = RunningStack {
            child,
            stack: StackFile::placeholder(),
            state_dir,
        };
        let start = Instant::now();
        loop {
            if let Ok(stack) = StackFile::read(&running.state_dir) {
                running.stack = stack;
                return Ok(running);
            }
            if let Ok(Some(status)) = running.child.try_wait() {
                return Err(format!("`stack up` exited early: {status}"));
            }
            if start.elapsed() > Duration::from_secs(120) {
                return Err("the stack was not ready within 120 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl RunningStack {
    /// Stops it as Ctrl-C would; returns its exit status.
    pub fn stop(&mut self) -> std::io::Result<std::process::ExitStatus> {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        self.child.wait()
    }
}

impl Drop for RunningStack {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}
