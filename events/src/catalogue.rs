//! The event types: the one list every emitter, the audit function, the
//! Knative Triggers (checked by a test) and the web app agree on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The CloudEvents `type` of a task event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TaskEventType {
    Created,
    Updated,
    Deleted,
}

impl TaskEventType {
    pub const ALL: [TaskEventType; 3] = [Self::Created, Self::Updated, Self::Deleted];
    /// What every task event type starts with (the Triggers' prefix filter).
    pub const PREFIX: &'static str = "task.";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "task.created",
            Self::Updated => "task.updated",
            Self::Deleted => "task.deleted",
        }
    }
}

impl fmt::Display for TaskEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `type` that is not a task event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEventType(pub String);

impl fmt::Display for UnknownEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown event type {:?}; expected task.created, task.updated or task.deleted",
            self.0
        )
    }
}

impl std::error::Error for UnknownEventType {}

impl FromStr for TaskEventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_string()))
    }
}

impl TryFrom<String> for TaskEventType {
    type Error = UnknownEventType;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<TaskEventType> for String {
    fn from(value: TaskEventType) -> Self {
        value.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_and_share_the_prefix() {
        for t in TaskEventType::ALL {
            assert!(t.as_str().starts_with(TaskEventType::PREFIX));
            assert_eq!(t.as_str().parse::<TaskEventType>(), Ok(t));
        }
        assert!("task.archived".parse::<TaskEventType>().is_err());
    }
}
