//! One function as a process: how fast it starts, how much memory it holds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use local_stack::function_env::function_env;
use local_stack::stack_file::StackFile;

/// A function started on its own port, killed on drop.
pub struct FunctionProcess {
    child: Child,
    pub port: u16,
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FunctionProcess {
    /// Starts `function` (its binary in `bin_dir`) with the environment the
    /// local stack would give it.
    pub fn spawn(bin_dir: &Path, function: &str, stack: &StackFile) -> anyhow::Result<Self> {
        let port = servers::ports::free_port()?;
        let env = function_env(
            function,
            port,
            &stack.database_url,
            &stack.broker_url,
            &stack.auth.function_env(),
        );
        let child = Command::new(bin_dir.join(function))
            .envs(env)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Self { child, port })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the first 200 from /health; returns how long after `since`.
    pub fn wait_healthy(&self, since: Instant, limit: Duration) -> anyhow::Result<Duration> {
        loop {
            if health_status(self.port) == Some(200) {
                return Ok(since.elapsed());
            }
            anyhow::ensure!(
                since.elapsed() < limit,
                "no 200 from /health within {limit:?}"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Resident set size, in MiB.
    pub fn rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
        Ok(kib / 1024.0)
    }
}

/// The status of `GET /health`, on a fresh connection (None: no answer yet).
fn health_status(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Process start to the first 200 on /health (the pool connected), `runs` times, in ms.
pub fn cold_starts(
    bin_dir: &Path,
    function: &str,
    stack: &StackFile,
    runs: usize,
) -> anyhow::Result<Vec<f64>> {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            let process = FunctionProcess::spawn(bin_dir, function, stack)?;
            let ready = process.wait_healthy(start, Duration::from_secs(20))?;
            Ok(ready.as_secs_f64() * 1000.0)
        })
        .collect()
}
