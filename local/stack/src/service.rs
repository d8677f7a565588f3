//! One supervised process: started, its output prefixed, restarted when it
//! dies unexpectedly, stopped with a chosen signal.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;

use servers::process::stop_with_parent;

/// More restarts than this within [`RESTART_WINDOW`] and the supervisor gives up.
const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// A named process and how to (re)start and stop it.
pub struct Service {
    pub name: String,
    build: Box<dyn Fn() -> std::process::Command>,
    /// The signal that asks it to stop gracefully.
    stop_signal: Signal,
    child: Option<Child>,
    restarts: VecDeque<Instant>,
    /// Restarts after unexpected exits, since the stack started.
    crash_restarts: u32,
    /// Stopped on request: not restarted until started again.
    held: bool,
}

/// What `stack status` shows of a service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub pid: Option<u32>,
    /// Stopped on request.
    pub held: bool,
    /// Restarts after unexpected exits (a process that had to be restarted
    /// did not recover by itself).
    pub crash_restarts: u32,
}

impl Service {
    pub fn new(
        name: impl Into<String>,
        stop_signal: Signal,
        build: impl Fn() -> std::process::Command + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            build: Box::new(build),
            stop_signal,
            child: None,
            restarts: VecDeque::new(),
            crash_restarts: 0,
            held: false,
        }
    }

    pub fn status(&self) -> ServiceStatus {
        ServiceStatus {
            name: self.name.clone(),
            pid: self.child.as_ref().and_then(Child::id),
            held: self.held,
            crash_restarts: self.crash_restarts,
        }
    }

    /// Stopped on request (and so not to be restarted).
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Stops it on request (with its stop signal, or SIGKILL) and keeps it
    /// stopped until [`Service::release`].
    pub async fn hold(&mut self, kill_now: bool, grace: Duration) {
        self.held = true;
        if kill_now {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill().await;
            }
        } else {
            self.stop(grace).await;
        }
    }

    /// Starts a held service again.
    pub fn release(&mut self) -> std::io::Result<()> {
        self.held = false;
        if self.child.is_none() {
            self.start()?;
        }
        Ok(())
    }

    /// Sends `signal` to the process (e.g. SIGSTOP to make it unavailable).
    pub fn signal(&self, signal: Signal) -> std::io::Result<()> {
        let pid = self
            .child
            .as_ref()
            .and_then(Child::id)
            .ok_or_else(|| std::io::Error::other(format!("{} is not running", self.name)))?;
        kill(Pid::from_raw(pid as i32), signal).map_err(std::io::Error::from)
    }

    /// A service running `program` with `args` and `env` added to ours.
    pub fn program(
        name: impl Into<String>,
        stop_signal: Signal,
        program: PathBuf,
        args: Vec<OsString>,
        env: BTreeMap<String, String>,
    ) -> Self {
        Self::new(name, stop_signal, move || {
            let mut command = std::process::Command::new(&program);
            command.args(&args).envs(&env);
            command
        })
    }

    pub fn start(&mut self) -> std::io::Result<()> {
        let mut command = (self.build)();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C reaches only the supervisor, which
            // then stops everything in order.
            .process_group(0);
        stop_with_parent(&mut command, Signal::SIGTERM);
        let mut child = tokio::process::Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| {
                std::io::Error::new(err.kind(), format!("cannot start {}: {err}", self.name))
            })?;
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(forward_lines(self.name.clone(), stdout));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward_lines(self.name.clone(), stderr));
        }
        self.child = Some(child);
        Ok(())
    }

    /// The exit status if the process has ended since the last look.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        Some(status)
    }

    /// Restarts after an unexpected exit; false once it crashes too often.
    pub fn restart(&mut self) -> std::io::Result<bool> {
        let now = Instant::now();
        self.restarts.push_back(now);
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() > MAX_RESTARTS {
            return Ok(false);
        }
        self.crash_restarts += 1;
        self.start()?;
        Ok(true)
    }

    /// Sends the stop signal and waits up to `grace`, then kills.
    pub async fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let _ = kill(Pid::from_raw(pid as i32), self.stop_signal);
        }
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            log(
                "stack",
                &format!("{} did not stop within {grace:?}; killing it", self.name),
            );
            let _ = child.kill().await;
        }
    }
}

/// Prints every line of `output` prefixed with the service name. JSON log
/// lines (the functions') are shown as `LEVEL message key=value ...`.
async fn forward_lines(name: String, output: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        log(&name, &readable(&line));
    }
}

/// Prints one line of the stack's output.
pub fn log(source: &str, line: &str) {
    println!("{source:>15} | {line}");
}

fn readable(line: &str) -> String {
    let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_str(line) else {
        return line.to_string();
    };
    let level = fields.remove("level");
    let message = fields.remove("message");
    let (Some(level), Some(message)) = (level, message) else {
        return line.to_string();
    };
    // Keep the time of day: enough to follow one event across services.
    let time = fields
        .remove("timestamp")
        .and_then(|t| t.as_str().and_then(|t| t.get(11..26)).map(String::from))
        .unwrap_or_default();
    fields.remove("spans");
    let mut text = format!(
        "{time} {:<5} {}",
        level.as_str().unwrap_or_default(),
        message.as_str().unwrap_or_default()
    );
    for (key, value) in fields {
        match value {
            serde_json::Value::String(s) => text.push_str(&format!(" {key}={s}")),
            other => text.push_str(&format!(" {key}={other}")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn json_log_lines_are_shown_compactly() {
        let line = r#"{"timestamp":"2026-11-24T06:00:00.123456Z","level":"INFO","message":"listening","function":"get-task","address":"127.0.0.1:8083"}"#;
        assert_eq!(
            readable(line),
            "06:00:00.123456 INFO  listening address=127.0.0.1:8083 function=get-task"
        );
        assert_eq!(readable("plain text"), "plain text");
    }
}
