//! A Kafka-protocol broker for tests: `KAFKA_BOOTSTRAP` when set (any real
//! Kafka), else a nisshi started for the test process, storing in its own
//! database on the test process's PostgreSQL server (stopped with it).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use servers::kafka::{broker_command, find_nisshi, keep_catalog_statistics, prepare_storage};
use servers::ports::{free_port, wait_listening};
use servers::postgres::random_password;
use servers::process::stop_with_parent;

/// The test process's Kafka broker.
#[derive(Debug)]
pub struct KafkaServer {
    pub bootstrap: String,
    /// The nisshi we run (none with `KAFKA_BOOTSTRAP`).
    started: Option<Started>,
}

#[derive(Debug)]
struct Started {
    nisshi: PathBuf,
    port: u16,
    storage: String,
    pid: Mutex<u32>,
}

impl KafkaServer {
    /// Pauses the broker process (SIGSTOP): unavailable, but nothing lost.
    pub fn pause(&self) {
        self.signal(Signal::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(Signal::SIGCONT);
    }

    /// Kills the broker (SIGKILL: no chance to flush or say goodbye) and
    /// starts it again on the same port and storage.
    pub fn kill_and_restart(&self) {
        let started = self.started();
        let mut pid = started.pid.lock().unwrap();
        kill(Pid::from_raw(*pid as i32), Signal::SIGKILL).expect("kill nisshi");
        // Reaped by nobody until the test process ends: wait until it is gone.
        while std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        *pid = spawn(&started.nisshi, started.port, &started.storage)
            .unwrap_or_else(|err| panic!("cannot start nisshi again: {err}"));
    }

    fn started(&self) -> &Started {
        self.started
            .as_ref()
            .expect("only a broker started by the tests can be paused or killed")
    }

    fn signal(&self, signal: Signal) {
        let pid = *self.started().pid.lock().unwrap();
        kill(Pid::from_raw(pid as i32), signal).expect("signal nisshi");
    }
}

/// Started on first use; every test in the process shares it (tests use
/// their own topics and groups).
pub fn kafka() -> &'static KafkaServer {
    static SERVER: OnceLock<KafkaServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(bootstrap) = std::env::var("KAFKA_BOOTSTRAP") {
            return KafkaServer {
                bootstrap,
                started: None,
            };
        }
        start().unwrap_or_else(|err| panic!("cannot start nisshi for the tests: {err}"))
    })
}

fn start() -> Result<KafkaServer, String> {
    let nisshi = find_nisshi().map_err(|e| e.to_string())?;
    let storage = prepare_storage(crate::postgres::server(), &random_password())
        .map_err(|e| e.to_string())?;
    let port = free_port().map_err(|e| e.to_string())?;
    let pid = spawn(&nisshi, port, &storage)?;
    keep_catalog_statistics(crate::postgres::server()).map_err(|e| e.to_string())?;
    Ok(KafkaServer {
        bootstrap: format!("127.0.0.1:{port}"),
        started: Some(Started {
            nisshi,
            port,
            storage,
            pid: Mutex::new(pid),
        }),
    })
}

/// Starts nisshi from a thread that lives as long as the test process (the
/// parent-death signal follows the thread that spawned it) and waits until
/// it listens; returns its pid.
fn spawn(nisshi: &std::path::Path, port: u16, storage: &str) -> Result<u32, String> {
    let mut command = broker_command(nisshi, port, storage);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    stop_with_parent(&mut command, Signal::SIGKILL);
    let (ready, started) = mpsc::channel();
    std::thread::Builder::new()
        .name("test-kafka".into())
        .spawn(move || match command.spawn() {
            Ok(child) => {
                ready.send(Ok(child.id())).ok();
                loop {
                    std::thread::park();
                }
            }
            Err(err) => {
                ready.send(Err(format!("cannot run nisshi: {err}"))).ok();
            }
        })
        .map_err(|e| e.to_string())?;
    let pid = started
        .recv()
        .map_err(|_| "the test-kafka thread ended".to_string())??;
    wait_listening(&format!("127.0.0.1:{port}"), Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    Ok(pid)
}
