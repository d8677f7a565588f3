//! The answer of `GET /api/tasks/{id}/history`: a task's audit trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event of a task, as the audit function recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    /// `task.created`, `task.updated` or `task.deleted`.
    pub event_type: String,
    /// The CloudEvent's id.
    pub event_id: String,
    /// When the change happened (the CloudEvent's `time`).
    pub time: Option<DateTime<Utc>>,
    /// When the audit function recorded it.
    pub processed_at: DateTime<Utc>,
    /// The event's data: the task, and for `task.updated` its `changes`.
    #[cfg_attr(feature = "server", schema(value_type = Object))]
    pub data: Value,
}
