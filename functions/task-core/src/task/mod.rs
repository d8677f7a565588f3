//! The task model ([`Task`], [`TaskStatus`]); the request bodies that change
//! it and their validation ([`request`]); the fields validation builds
//! ([`Title`], [`Description`]).

mod fields;
mod request;
mod timestamp;

pub use fields::{Description, Title};
pub use request::{CreateTaskRequest, NewTask, Patch, TaskPatch, UpdateTaskRequest};

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest title, in characters (the column is `varchar(255)`).
pub const TITLE_MAX_CHARS: usize = 255;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "server", derive(sqlx::Type, utoipa::ToSchema))]
#[cfg_attr(
    feature = "server",
    sqlx(type_name = "text", rename_all = "snake_case")
)]
pub enum TaskStatus {
    #[default]
    Pending,
    InProgress,
    Complete,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 3] = [Self::Pending, Self::InProgress, Self::Complete];

    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InProgress => "in_progress",
            Self::Complete => "complete",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status string that is none of the known ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus;

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("must be one of pending, in_progress, complete")
    }
}

impl FromStr for TaskStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

/// A task as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Task {
    pub id: i64,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
    /// Bumped on every change; the task's ETag.
    pub version: i32,
    /// The user it belongs to: the `sub` of whoever created it. (Events
    /// recorded before tasks had owners carry none.)
    #[serde(default)]
    pub owner: String,
}

impl Task {
    /// The strong entity tag of this version of the task.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_wire_name() {
        for status in TaskStatus::ALL {
            assert_eq!(status.as_str().parse::<TaskStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        assert_eq!("done".parse::<TaskStatus>(), Err(UnknownStatus));
    }

    #[test]
    fn etag_is_the_quoted_version() {
        let now = Utc::now();
        let task = Task {
            id: 1,
            title: "Buy milk".into(),
            description: None,
            status: TaskStatus::Pending,
            created_at: now,
            updated_at: now,
            version: 1,
            owner: "u1".into(),
        };
        assert_eq!(task.etag(), "\"1\"");
    }
}
