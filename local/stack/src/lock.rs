//! One stack per state directory: an exclusive lock held while it runs.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Held for as long as a stack runs from a state directory; released on drop,
/// and by the kernel if the supervisor dies.
#[derive(Debug)]
pub struct StackLock {
    _lock: Flock<File>,
}

/// The lock is taken: another supervisor runs from this state directory.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("a stack is already running from {dir} (supervisor pid {pid})")]
    Held { dir: PathBuf, pid: String },
    #[error("cannot use the lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("stack.lock")
}

impl StackLock {
    /// Takes the lock without waiting and records our pid in it.
    pub fn acquire(state_dir: &Path) -> Result<Self, LockError> {
        let path = lock_path(state_dir);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                lock.set_len(0).map_err(io)?;
                lock.rewind().map_err(io)?;
                write!(lock, "{}", std::process::id()).map_err(io)?;
                Ok(Self { _lock: lock })
            }
            Err((mut file, _)) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                Err(LockError::Held {
                    dir: state_dir.to_path_buf(),
                    pid: pid.trim().to_string(),
                })
            }
        }
    }

    /// The pid of the supervisor holding the lock, if one does.
    pub fn holder(state_dir: &Path) -> Option<i32> {
        match Self::acquire(state_dir) {
            Ok(_) => None,
            Err(LockError::Held { pid, .. }) => pid.parse().ok(),
            Err(LockError::Io { .. }) => None,
        }
    }
}
