//! The PostgreSQL server of one test process.
//!
//! Started on first use from a thread that lives as long as the process; the
//! server is told to quit when that thread's process ends (parent-death
//! signal), so no test run leaves a server behind, however it ends.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use servers::ports::free_port;
use servers::postgres::{PostgresCluster, THROWAWAY_SETTINGS, random_password};
use servers::process::stop_with_parent;

const DIR_PREFIX: &str = "task-app-test-pg-";

/// The process-wide test server, started on first call.
pub fn server() -> &'static PostgresCluster {
    static SERVER: OnceLock<PostgresCluster> = OnceLock::new();
    SERVER.get_or_init(|| {
        let (ready, started) = mpsc::channel();
        std::thread::Builder::new()
            .name("test-postgres".into())
            .spawn(move || match start() {
                Ok(cluster) => {
                    ready.send(Ok(cluster)).ok();
                    // The server lives as long as this thread; park it for good.
                    loop {
                        std::thread::park();
                    }
                }
                Err(err) => {
                    ready.send(Err(err)).ok();
                }
            })
            .expect("spawn the test-postgres thread");
        started
            .recv()
            .expect("the test-postgres thread answers")
            .unwrap_or_else(|err| panic!("cannot start PostgreSQL for the tests: {err}"))
    })
}

fn start() -> Result<PostgresCluster, String> {
    remove_stale_dirs(DIR_PREFIX);
    let data_dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port().map_err(|e| e.to_string())?;
    let cluster =
        PostgresCluster::new(&data_dir, port, random_password()).map_err(|e| e.to_string())?;
    cluster.ensure_initialized().map_err(|e| e.to_string())?;
    let mut command = cluster.server_command(THROWAWAY_SETTINGS);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    // SIGQUIT: PostgreSQL's immediate shutdown.
    stop_with_parent(&mut command, Signal::SIGQUIT);
    command
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cluster.bin("postgres")))?;
    cluster
        .wait_ready(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    Ok(cluster)
}

/// Removes the directories (`<prefix><pid>` in the temporary directory) of
/// test processes that are gone.
pub(crate) fn remove_stale_dirs(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = kill(Pid::from_raw(pid), None).is_ok();
        if !alive {
            let path: PathBuf = entry.path();
            let _ = std::fs::remove_dir_all(path);
        }
    }
}
