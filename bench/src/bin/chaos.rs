//! `chaos`: faults under load; loss and duplicates must be 0 (see `bench::chaos`).

use std::time::Duration;

use bench::chaos::RunKind;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Faults under load, then loss, duplicate and convergence figures per fault")]
struct Args {
    /// The short run of `task test` (short faults, the audit function still
    /// down past the Trigger's retries).
    #[arg(long, conflicts_with = "audit_outage")]
    short: bool,
    /// Only stop the audit function for this many seconds (the first changes
    /// meanwhile of the largest valid size), on the stack as `task up` runs
    /// it; then every change must reach the audit log and its task's history.
    #[arg(long, value_name = "SECONDS")]
    audit_outage: Option<u64>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Pause between one client's requests, in milliseconds.
    #[arg(long, default_value_t = 40)]
    think_ms: u64,
    /// Which build's binaries to run (debug or release).
    #[arg(long, default_value = "debug")]
    profile: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let options = bench::chaos::Options {
        kind: match (args.audit_outage, args.short) {
            (Some(secs), _) => RunKind::AuditOutage(Duration::from_secs(secs)),
            (None, true) => RunKind::Short,
            (None, false) => RunKind::Full,
        },
        clients: args.clients,
        think: Duration::from_millis(args.think_ms),
        profile: args.profile,
    };
    match bench::chaos::run(&options).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(err) => {
            eprintln!("chaos: error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
