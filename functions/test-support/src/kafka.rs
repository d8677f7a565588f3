//! A Kafka-protocol broker for tests: `KAFKA_BOOTSTRAP` when set (any real
//! Kafka), else a tansu started for the test process (in memory, stopped with it).

use std::process::{Child, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use servers::ports::{free_port, wait_listening};
use servers::process::stop_with_parent;
use servers::tansu::{find_tansu, tansu_command};

/// The test process's Kafka broker.
#[derive(Debug)]
pub struct KafkaServer {
    pub bootstrap: String,
    /// The tansu process we started (none with `KAFKA_BOOTSTRAP`).
    pid: Option<u32>,
}

impl KafkaServer {
    /// Pauses the broker process (SIGSTOP): unavailable, but nothing lost.
    pub fn pause(&self) {
        self.signal(Signal::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(Signal::SIGCONT);
    }

    fn signal(&self, signal: Signal) {
        let pid = self
            .pid
            .expect("only a tansu started by the tests can be paused");
        kill(Pid::from_raw(pid as i32), signal).expect("signal tansu");
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
                pid: None,
            };
        }
        let (ready, started) = mpsc::channel();
        std::thread::Builder::new()
            .name("test-kafka".into())
            .spawn(move || match start() {
                Ok((bootstrap, child)) => {
                    ready.send(Ok((bootstrap, child.id()))).ok();
                    // tansu lives as long as this thread; park it for good.
                    loop {
                        std::thread::park();
                    }
                }
                Err(err) => {
                    ready.send(Err(err)).ok();
                }
            })
            .expect("spawn the test-kafka thread");
        let (bootstrap, pid) = started
            .recv()
            .expect("the test-kafka thread answers")
            .unwrap_or_else(|err| panic!("cannot start tansu for the tests: {err}"));
        KafkaServer {
            bootstrap,
            pid: Some(pid),
        }
    })
}

fn start() -> Result<(String, Child), String> {
    let tansu = find_tansu().map_err(|e| e.to_string())?;
    let port = free_port().map_err(|e| e.to_string())?;
    let mut command = tansu_command(&tansu, port);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    stop_with_parent(&mut command, Signal::SIGKILL);
    let child = command
        .spawn()
        .map_err(|e| format!("cannot run tansu: {e}"))?;
    let bootstrap = format!("127.0.0.1:{port}");
    wait_listening(&bootstrap, Duration::from_secs(30)).map_err(|e| e.to_string())?;
    Ok((bootstrap, child))
}
