//! A private PostgreSQL cluster from the distribution's binaries, on its own
//! port on 127.0.0.1: for the local stack (data under `.local/`) and for the
//! tests (data in a temporary directory).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::{Uid, User, chown};

/// Why a cluster could not be set up or started.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error(
        "PostgreSQL server binaries not found (looked in $PG_BIN_DIR and /usr/lib/postgresql/*/bin); \
         install them with `apt-get install postgresql` or set PG_BIN_DIR"
    )]
    BinariesNotFound,
    #[error(
        "PostgreSQL refuses to run as root and there is no `postgres` user to run it as; \
         install Debian's postgresql package (it creates the user) or run as a normal user"
    )]
    NoUnprivilegedUser,
    #[error(
        "{path} is not reachable by the `postgres` user; choose a data directory it can reach (e.g. under /tmp)"
    )]
    Unreachable { path: PathBuf },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("PostgreSQL on port {port} did not become ready within {seconds} s")]
    NotReady { port: u16, seconds: u64 },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A cluster directory and the port its server listens on.
#[derive(Clone)]
pub struct PostgresCluster {
    data_dir: PathBuf,
    port: u16,
    bin_dir: PathBuf,
    /// The user to run as when we are root (PostgreSQL refuses root).
    run_as: Option<User>,
    /// The superuser `postgres`'s password: every connection authenticates
    /// (scram-sha-256), none is trusted for coming from this machine.
    password: String,
}

impl std::fmt::Debug for PostgresCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresCluster")
            .field("data_dir", &self.data_dir)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A random password of letters and digits (nothing to escape in a URL).
pub fn random_password() -> String {
    let mut bytes = [0u8; 24];
    let mut urandom = std::fs::File::open("/dev/urandom").expect("/dev/urandom");
    std::io::Read::read_exact(&mut urandom, &mut bytes).expect("random bytes");
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Settings that make a throw-away cluster fast; never for data that matters.
pub const THROWAWAY_SETTINGS: &[(&str, &str)] = &[
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("max_connections", "300"),
    RANDOM_PAGE_COST,
    FIRST_STATISTICS_SOON,
];

/// Settings for the local stack's cluster.
pub const LOCAL_SETTINGS: &[(&str, &str)] = &[
    ("max_connections", "200"),
    RANDOM_PAGE_COST,
    FIRST_STATISTICS_SOON,
];

/// The tables sit in memory or on an SSD, where a page read out of order
/// costs about what the next one does (the default, 4, is for spinning
/// disks). It also keeps the lists' generic plans: at 4, a list of a user
/// who owns nearly every task was planned again on every request (a plan by
/// id for that user looked cheaper than the owner's index plus the planning).
const RANDOM_PAGE_COST: (&str, &str) = ("random_page_cost", "1.1");

/// How often the autovacuum daemon looks for tables to analyze (by
/// default every minute). nisshi creates its tables empty, and until they
/// are first analyzed its connections ran its header fetch on a plan that
/// compared offsets row by row (inferred: the plan could not be captured,
/// but restarting nisshi once the tables held events, or analyzing them
/// sooner, ended it). Until then, on a new stack, 71% of nisshi's
/// PostgreSQL time went on comparing offsets (`int8eq` under
/// `ExecEvalScalarArrayOp`, by perf), the dispatcher delivered about one
/// event per Trigger every 0.7 s, and a create at 1 connection cost
/// PostgreSQL 3-5 ms of CPU instead of 1.5 (270-380 creates/s against
/// 560-660).
const FIRST_STATISTICS_SOON: (&str, &str) = ("autovacuum_naptime", "5s");

impl PostgresCluster {
    /// `password`: the superuser's, set when the cluster is created (and
    /// set on a cluster an earlier version created with trust).
    pub fn new(
        data_dir: impl Into<PathBuf>,
        port: u16,
        password: impl Into<String>,
    ) -> Result<Self, PostgresError> {
        let run_as = if Uid::effective().is_root() {
            Some(
                User::from_name("postgres")
                    .ok()
                    .flatten()
                    .ok_or(PostgresError::NoUnprivilegedUser)?,
            )
        } else {
            None
        };
        Ok(Self {
            data_dir: data_dir.into(),
            port,
            bin_dir: find_bin_dir()?,
            run_as,
            password: password.into(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// The superuser's URL of `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        self.url_as("postgres", &self.password, database)
    }

    /// The URL of `database` for `user` with `password`.
    pub fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    pub fn is_initialized(&self) -> bool {
        self.data_dir.join("PG_VERSION").exists()
    }

    /// Creates the cluster unless it exists: superuser `postgres` with the
    /// password, password authentication (scram-sha-256), UTF-8. A cluster
    /// an earlier version created with trust authentication gets the password
    /// and password authentication.
    pub fn ensure_initialized(&self) -> Result<(), PostgresError> {
        if self.is_initialized() {
            return self.require_passwords();
        }
        std::fs::create_dir_all(&self.data_dir)?;
        if let Some(user) = &self.run_as {
            chown(&self.data_dir, Some(user.uid), Some(user.gid)).map_err(std::io::Error::from)?;
            self.check_reachable()?;
        }
        // initdb reads the password from a file the server's user can read.
        let password_file = self.data_dir.with_extension("initdb-password");
        write_private(&password_file, &self.password)?;
        if let Some(user) = &self.run_as {
            chown(&password_file, Some(user.uid), Some(user.gid)).map_err(std::io::Error::from)?;
        }
        let mut initdb = self.command("initdb");
        initdb
            .arg("--pgdata")
            .arg(&self.data_dir)
            .arg(format!("--pwfile={}", password_file.display()))
            .args([
                "--username=postgres",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ])
            .stdout(Stdio::null());
        let result = run(initdb);
        let _ = std::fs::remove_file(&password_file);
        result
    }

    /// A cluster created with trust authentication: sets the password (in
    /// single-user mode, no server running) and switches to passwords.
    fn require_passwords(&self) -> Result<(), PostgresError> {
        let hba = self.data_dir.join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba)?;
        if !rules
            .lines()
            .any(|line| !line.starts_with('#') && line.trim_end().ends_with("trust"))
        {
            return Ok(());
        }
        let mut single = self.command("postgres");
        single
            .args(["--single", "-D"])
            .arg(&self.data_dir)
            .arg("postgres")
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        let mut child = single.spawn()?;
        if let Some(stdin) = child.stdin.as_mut() {
            use std::io::Write;
            writeln!(stdin, "ALTER USER postgres PASSWORD '{}';", self.password)?;
        }
        let status = child.wait()?;
        if !status.success() {
            return Err(PostgresError::Command {
                command: "postgres --single".into(),
                detail: format!("setting the password failed ({status})"),
            });
        }
        let scram: String = rules
            .lines()
            .map(|line| {
                if !line.starts_with('#') && line.trim_end().ends_with("trust") {
                    format!(
                        "{}scram-sha-256\n",
                        line.trim_end().trim_end_matches("trust")
                    )
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        std::fs::write(&hba, scram)?;
        Ok(())
    }

    /// The command that runs the server in the foreground, listening on
    /// 127.0.0.1 only and without a Unix socket.
    pub fn server_command(&self, settings: &[(&str, &str)]) -> Command {
        let mut server = self.command("postgres");
        server
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-p")
            .arg(self.port.to_string())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
            ]);
        for (name, value) in settings {
            server.arg("-c").arg(format!("{name}={value}"));
        }
        server
    }

    /// Runs `sql` on `database` as the superuser (psql, stopping at the first
    /// error); returns what it printed, unaligned.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, PostgresError> {
        let output = Command::new(self.bin("psql"))
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-c", sql])
            .env("PGPASSWORD", &self.password)
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(PostgresError::Command {
                command: "psql".into(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Waits until the server accepts connections.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), PostgresError> {
        let start = Instant::now();
        loop {
            let ready = Command::new(self.bin("pg_isready"))
                .args([
                    "-q",
                    "-U",
                    "postgres",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                ])
                .status()?
                .success();
            if ready {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(PostgresError::NotReady {
                    port: self.port,
                    seconds: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A command for one of the server binaries, run as the unprivileged user if needed.
    fn command(&self, binary: &str) -> Command {
        let mut command = Command::new(self.bin(binary));
        if let Some(user) = &self.run_as {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
            // Keep child processes out of root's home (initdb checks it).
            command.current_dir("/");
        }
        command
    }

    /// The unprivileged user must be able to reach the data directory.
    fn check_reachable(&self) -> Result<(), PostgresError> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        let mut test = Command::new("test");
        test.arg("-w").arg(&self.data_dir);
        test.uid(user.uid.as_raw())
            .gid(user.gid.as_raw())
            .current_dir("/");
        if test.status()?.success() {
            Ok(())
        } else {
            Err(PostgresError::Unreachable {
                path: self.data_dir.clone(),
            })
        }
    }
}

/// Writes `text` to a file only its owner may read.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    std::io::Write::write_all(&mut file, text.as_bytes())
}

fn run(mut command: Command) -> Result<(), PostgresError> {
    let output = command.output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(PostgresError::Command {
            command: format!("{:?}", command.get_program()),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// `$PG_BIN_DIR`, else the newest `/usr/lib/postgresql/<version>/bin` (Debian's layout).
pub fn find_bin_dir() -> Result<PathBuf, PostgresError> {
    if let Some(dir) = std::env::var_os("PG_BIN_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.join("postgres").exists() {
            Ok(dir)
        } else {
            Err(PostgresError::BinariesNotFound)
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| PostgresError::BinariesNotFound)?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or(PostgresError::BinariesNotFound)
}
