//! Child processes that never outlive the process that started them.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use nix::sys::signal::Signal;

/// Makes `command`'s process receive `signal` when the thread that spawns it
/// exits, so an interrupted test run or a killed supervisor leaves no server
/// behind. Spawn from a thread that lives as long as the process.
pub fn stop_with_parent(command: &mut Command, signal: Signal) {
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the forked child before exec and only makes
    // one async-signal-safe system call (prctl).
    unsafe {
        command
            .pre_exec(move || nix::sys::prctl::set_pdeathsig(signal).map_err(std::io::Error::from));
    }
}

/// A child process killed (and reaped) when this is dropped: a test's
/// servers end with the test, even one that failed half-way.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
