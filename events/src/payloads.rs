//! The `data` of each task event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use task_core::task::Task;

use crate::catalogue::TaskEventType;

/// One field of a `task.updated`: its value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub old: Value,
    pub new: Value,
}

/// The data of `task.updated`: the task after the change, and what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskUpdated {
    #[serde(flatten)]
    pub task: Task,
    /// Field name (`title`, `description`, `status`) -> old and new value.
    pub changes: BTreeMap<String, FieldChange>,
}

/// A task event with its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEvent {
    /// Data: the task as created.
    Created(Task),
    /// Data: the task after the change, plus `changes`.
    Updated(TaskUpdated),
    /// Data: the task as it was when deleted.
    Deleted(Task),
}

/// Event data that does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDataError(pub String);

impl std::fmt::Display for EventDataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EventDataError {}

impl TaskUpdated {
    /// The change from `before` to `after`: `after`, and each user-visible
    /// field (title, description, status) whose value differs.
    pub fn between(before: &Task, after: &Task) -> Self {
        let mut changes = BTreeMap::new();
        let mut compare = |field: &str, old: Value, new: Value| {
            if old != new {
                changes.insert(field.to_string(), FieldChange { old, new });
            }
        };
        compare(
            "title",
            before.title.clone().into(),
            after.title.clone().into(),
        );
        compare(
            "description",
            before.description.clone().into(),
            after.description.clone().into(),
        );
        compare(
            "status",
            before.status.as_str().into(),
            after.status.as_str().into(),
        );
        Self {
            task: after.clone(),
            changes,
        }
    }
}

impl TaskEvent {
    pub fn event_type(&self) -> TaskEventType {
        match self {
            Self::Created(_) => TaskEventType::Created,
            Self::Updated(_) => TaskEventType::Updated,
            Self::Deleted(_) => TaskEventType::Deleted,
        }
    }

    /// The task the event is about (after the change; as it was, if deleted).
    pub fn task(&self) -> &Task {
        match self {
            Self::Created(task) | Self::Deleted(task) => task,
            Self::Updated(updated) => &updated.task,
        }
    }

    /// The change's place in its task's life: the version it produced (a
    /// deletion comes one after the task's last version). A task's history
    /// is listed in this order, whatever order its events arrived in.
    pub fn sequence(&self) -> i32 {
        match self {
            Self::Created(task) => task.version,
            Self::Updated(updated) => updated.task.version,
            Self::Deleted(task) => task.version.saturating_add(1),
        }
    }

    /// The event's `data` as JSON.
    pub fn data(&self) -> Value {
        let data = match self {
            Self::Created(task) | Self::Deleted(task) => serde_json::to_value(task),
            Self::Updated(updated) => serde_json::to_value(updated),
        };
        data.expect("task event data always serializes")
    }

    /// Reads the data of an event of type `event_type`.
    pub fn from_data(event_type: TaskEventType, data: Value) -> Result<Self, EventDataError> {
        let invalid = |err: serde_json::Error| {
            EventDataError(format!(
                "the data of a {event_type} event is invalid: {err}"
            ))
        };
        Ok(match event_type {
            TaskEventType::Created => Self::Created(serde_json::from_value(data).map_err(invalid)?),
            TaskEventType::Deleted => Self::Deleted(serde_json::from_value(data).map_err(invalid)?),
            TaskEventType::Updated => {
                let updated: TaskUpdated = serde_json::from_value(data).map_err(invalid)?;
                if updated.changes.is_empty() {
                    return Err(EventDataError(
                        "a task.updated event must list at least one change".into(),
                    ));
                }
                Self::Updated(updated)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;
    use task_core::task::TaskStatus;

    fn task() -> Task {
        let now = Utc::now();
        Task {
            id: 7,
            title: "Plan trip".into(),
            description: None,
            status: TaskStatus::Pending,
            created_at: now,
            updated_at: now,
            version: 1,
            owner: "u1".into(),
        }
    }

    #[test]
    fn updated_lists_each_changed_field_with_old_and_new() {
        let before = task();
        let after = Task {
            status: TaskStatus::Complete,
            description: Some("Book trains".into()),
            version: 2,
            ..before.clone()
        };
        let data = TaskEvent::Updated(TaskUpdated::between(&before, &after)).data();
        assert_eq!(data["status"], "complete");
        assert_eq!(data["version"], 2);
        assert_eq!(
            data["changes"],
            json!({
                "description": {"old": null, "new": "Book trains"},
                "status": {"old": "pending", "new": "complete"},
            })
        );
    }

    #[test]
    fn only_user_visible_fields_count_as_changes() {
        let before = task();
        let after = Task {
            version: 2,
            updated_at: Utc::now(),
            ..before.clone()
        };
        assert!(TaskUpdated::between(&before, &after).changes.is_empty());
    }

    #[test]
    fn data_round_trips_through_json() {
        let before = task();
        let after = Task {
            title: "Plan the trip".into(),
            ..before.clone()
        };
        for event in [
            TaskEvent::Created(before.clone()),
            TaskEvent::Updated(TaskUpdated::between(&before, &after)),
            TaskEvent::Deleted(after.clone()),
        ] {
            let back = TaskEvent::from_data(event.event_type(), event.data()).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn data_of_the_wrong_shape_is_refused() {
        let created = TaskEvent::Created(task()).data();
        assert!(TaskEvent::from_data(TaskEventType::Updated, created).is_err());
        assert!(TaskEvent::from_data(TaskEventType::Created, json!({"id": 1})).is_err());
        assert!(TaskEvent::from_data(TaskEventType::Deleted, json!("task")).is_err());
    }
}
