//! `.local/stack.json`: where a running local stack can be reached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Written once everything is ready; removed when the stack stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFile {
    /// The public entry point: the edge router.
    pub gateway_url: String,
    pub database_url: String,
    /// The local Knative broker's ingress (the write functions' `K_SINK`).
    pub broker_url: String,
    /// The Kafka-protocol broker's bootstrap address.
    pub kafka_bootstrap: String,
    /// Every function by name -> its own URL (not only the routed ones).
    pub functions: BTreeMap<String, String>,
    /// The supervisor's process id.
    pub pid: u32,
    /// The supervisor's control API (`stack status`, `stack service`).
    pub admin_url: String,
    /// What the control API asks of every request (`Authorization: Bearer`):
    /// only who can read this file (mode 0600) can control the stack.
    pub admin_token: String,
}

impl StackFile {
    /// An empty stack file, until the real one is read.
    pub fn placeholder() -> Self {
        Self {
            gateway_url: String::new(),
            database_url: String::new(),
            broker_url: String::new(),
            kafka_bootstrap: String::new(),
            functions: BTreeMap::new(),
            pid: 0,
            admin_url: String::new(),
            admin_token: String::new(),
        }
    }

    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("stack.json")
    }

    pub fn read(state_dir: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(Self::path(state_dir))?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    /// Writes atomically (a reader never sees half a file), readable by its
    /// owner only: it holds the database's and the control API's secrets.
    pub fn write(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = Self::path(state_dir);
        let partial = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        servers::postgres::write_private(&partial, &(text + "\n"))?;
        std::fs::rename(partial, path)
    }

    pub fn remove(state_dir: &Path) {
        let _ = std::fs::remove_file(Self::path(state_dir));
    }
}
