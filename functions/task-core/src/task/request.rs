//! The request bodies that change tasks, and their validation.
//!
//! Request bodies are deserialized loosely (every field optional, `null` kept
//! apart from "left out") and then validated as a whole, so a client learns
//! about every bad field at once instead of only the first. What validation
//! builds ([`NewTask`], [`TaskPatch`]) holds only checked fields.

use std::fmt::Display;

use serde::{Deserialize, Deserializer, Serialize};

use super::{Description, Task, TaskStatus, Title};
use crate::problem::FieldError;

/// A field that may be left out, sent as `null`, or sent with a value.
///
/// `Option<Option<T>>` would say the same; this says it by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Missing,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    fn is_missing(&self) -> bool {
        matches!(self, Patch::Missing)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Only called when the field is present; `#[serde(default)]` gives Missing.
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Patch::Value(value),
            None => Patch::Null,
        })
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Value(value) => value.serialize(serializer),
            Patch::Missing | Patch::Null => serializer.serialize_none(),
        }
    }
}

/// The body of `POST /api/tasks`, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CreateTaskRequest {
    /// Required; at most 255 characters, not only whitespace, no NUL; stored trimmed.
    #[serde(default, skip_serializing_if = "Patch::is_missing")]
    #[cfg_attr(feature = "server", schema(value_type = String, required = true, max_length = 255, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"))]
    pub title: Patch<String>,
    /// Up to 10,000 characters, no NUL.
    #[serde(default, skip_serializing_if = "Patch::is_missing")]
    #[cfg_attr(feature = "server", schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\u0000]*$"))]
    pub description: Patch<String>,
    /// `pending` when left out.
    #[serde(default, skip_serializing_if = "Patch::is_missing")]
    #[cfg_attr(feature = "server", schema(value_type = TaskStatus, required = false))]
    pub status: Patch<String>,
}

/// A validated new task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: Title,
    pub description: Option<Description>,
    pub status: TaskStatus,
}

impl CreateTaskRequest {
    /// Checks every field; the error names each bad one.
    pub fn validate(self) -> Result<NewTask, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = match self.title {
            Patch::Missing => {
                errors.push(FieldError::new("title", "is required"));
                None
            }
            Patch::Null => {
                errors.push(FieldError::new("title", "must be a string, not null"));
                None
            }
            Patch::Value(title) => checked("title", Title::parse(&title), &mut errors),
        };
        let description = match self.description {
            Patch::Missing | Patch::Null => None,
            Patch::Value(description) => {
                checked("description", Description::parse(description), &mut errors)
            }
        };
        let status = match self.status {
            Patch::Missing => Some(TaskStatus::default()),
            Patch::Null => {
                errors.push(FieldError::new("status", "must be a string, not null"));
                None
            }
            Patch::Value(status) => checked("status", status.parse(), &mut errors),
        };
        match (title, status) {
            (Some(title), Some(status)) if errors.is_empty() => Ok(NewTask {
                title,
                description,
                status,
            }),
            _ => Err(errors),
        }
    }
}

/// The body of `PUT /api/tasks/{id}`, as sent: any non-empty subset of the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "server", schema(min_properties = 1))]
pub struct UpdateTaskRequest {
    /// At most 255 characters, not only whitespace, no NUL; stored trimmed.
    #[serde(default, skip_serializing_if = "Patch::is_missing")]
    #[cfg_attr(feature = "server", schema(value_type = String, required = false, max_length = 255, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"))]
    pub title: Patch<String>,
    /// `null` clears it. Up to 10,000 characters, no NUL.
    #[serde(default, skip_serializing_if = "Patch::is_missing")]
    #[cfg_attr(feature = "server", schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\u0000]*$"))]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_missing")]
    #[cfg_attr(feature = "server", schema(value_type = TaskStatus, required = false))]
    pub status: Patch<String>,
}

/// A validated change to a task: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<Title>,
    pub description: Option<Option<Description>>,
    pub status: Option<TaskStatus>,
}

impl UpdateTaskRequest {
    /// Checks every field; the error names each bad one.
    pub fn validate(self) -> Result<TaskPatch, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.title.is_missing() && self.description.is_missing() && self.status.is_missing() {
            errors.push(FieldError::new(
                "body",
                "must set at least one of title, description, status",
            ));
        }
        let title = match self.title {
            Patch::Missing => None,
            Patch::Null => {
                errors.push(FieldError::new("title", "must be a string, not null"));
                None
            }
            Patch::Value(title) => checked("title", Title::parse(&title), &mut errors),
        };
        let description = match self.description {
            Patch::Missing => None,
            Patch::Null => Some(None),
            Patch::Value(description) => {
                checked("description", Description::parse(description), &mut errors).map(Some)
            }
        };
        let status = match self.status {
            Patch::Missing => None,
            Patch::Null => {
                errors.push(FieldError::new("status", "must be a string, not null"));
                None
            }
            Patch::Value(status) => checked("status", status.parse(), &mut errors),
        };
        if errors.is_empty() {
            Ok(TaskPatch {
                title,
                description,
                status,
            })
        } else {
            Err(errors)
        }
    }
}

impl TaskPatch {
    /// The task with this patch applied, or `None` when the patch changes nothing.
    pub fn apply_to(&self, task: &Task) -> Option<Task> {
        let mut changed = task.clone();
        if let Some(title) = &self.title {
            changed.title = title.to_string();
        }
        if let Some(description) = &self.description {
            changed.description = description.as_deref().map(str::to_string);
        }
        if let Some(status) = self.status {
            changed.status = status;
        }
        (changed != *task).then_some(changed)
    }
}

/// The checked value, or `None` with the field's error added to `errors`.
fn checked<T>(
    field: &str,
    result: Result<T, impl Display>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    result
        .map_err(|message| errors.push(FieldError::new(field, message.to_string())))
        .ok()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::task::DESCRIPTION_MAX_CHARS;

    fn create(json: &str) -> Result<NewTask, Vec<FieldError>> {
        serde_json::from_str::<CreateTaskRequest>(json)
            .expect("valid JSON")
            .validate()
    }

    fn update(json: &str) -> Result<TaskPatch, Vec<FieldError>> {
        serde_json::from_str::<UpdateTaskRequest>(json)
            .expect("valid JSON")
            .validate()
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    fn task() -> Task {
        let now = Utc::now();
        Task {
            id: 1,
            title: "Buy milk".into(),
            description: Some("2 litres".into()),
            status: TaskStatus::Pending,
            created_at: now,
            updated_at: now,
            version: 1,
            owner: "u1".into(),
        }
    }

    #[test]
    fn create_trims_the_title_and_defaults_the_status() {
        let task = create(r#"{"title":"  Buy milk \n"}"#).unwrap();
        assert_eq!(task.title, "Buy milk");
        assert_eq!(task.description, None);
        assert_eq!(task.status, TaskStatus::Pending);
    }

    #[test]
    fn create_keeps_the_description_exactly() {
        let task =
            create(r#"{"title":"x","description":"  <b>'; DROP TABLE tasks; --  "}"#).unwrap();
        assert_eq!(
            task.description.as_deref(),
            Some("  <b>'; DROP TABLE tasks; --  ")
        );
    }

    #[test]
    fn create_names_every_bad_field() {
        let errors = create(&format!(
            r#"{{"title":"   ","description":"{}","status":"done"}}"#,
            "d".repeat(DESCRIPTION_MAX_CHARS + 1)
        ))
        .unwrap_err();
        assert_eq!(fields(errors), ["title", "description", "status"]);
    }

    #[test]
    fn create_requires_a_title() {
        assert_eq!(fields(create("{}").unwrap_err()), ["title"]);
        assert_eq!(fields(create(r#"{"title":null}"#).unwrap_err()), ["title"]);
    }

    #[test]
    fn title_length_counts_characters_not_bytes() {
        assert!(create(&format!(r#"{{"title":"{}"}}"#, "é".repeat(255))).is_ok());
        assert!(create(&format!(r#"{{"title":"{}"}}"#, "é".repeat(256))).is_err());
    }

    #[test]
    fn the_title_length_counts_what_was_sent() {
        assert!(create(&format!(r#"{{"title":" {} "}}"#, "t".repeat(253))).is_ok());
        assert!(create(&format!(r#"{{"title":" {} "}}"#, "t".repeat(254))).is_err());
    }

    #[test]
    fn nul_characters_are_refused() {
        let errors = create(r#"{"title":"a\u0000b","description":"\u0000"}"#).unwrap_err();
        assert_eq!(fields(errors), ["title", "description"]);
    }

    #[test]
    fn unknown_fields_are_a_deserialization_error() {
        assert!(serde_json::from_str::<CreateTaskRequest>(r#"{"title":"x","done":true}"#).is_err());
        assert!(serde_json::from_str::<UpdateTaskRequest>(r#"{"id":3}"#).is_err());
    }

    #[test]
    fn update_needs_at_least_one_field() {
        assert_eq!(fields(update("{}").unwrap_err()), ["body"]);
    }

    #[test]
    fn update_null_description_clears_it_and_null_title_is_refused() {
        assert_eq!(
            update(r#"{"description":null}"#).unwrap().description,
            Some(None)
        );
        assert_eq!(fields(update(r#"{"title":null}"#).unwrap_err()), ["title"]);
        assert_eq!(
            fields(update(r#"{"status":null}"#).unwrap_err()),
            ["status"]
        );
    }

    #[test]
    fn a_patch_that_changes_nothing_applies_to_none() {
        let task = task();
        let same = update(r#"{"title":" Buy milk ","status":"pending"}"#).unwrap();
        assert_eq!(same.apply_to(&task), None);
    }

    #[test]
    fn a_patch_changes_only_what_it_sets() {
        let task = task();
        let changed = update(r#"{"status":"complete","description":null}"#)
            .unwrap()
            .apply_to(&task)
            .unwrap();
        assert_eq!(changed.title, task.title);
        assert_eq!(changed.description, None);
        assert_eq!(changed.status, TaskStatus::Complete);
    }

    #[test]
    fn requests_serialize_only_what_they_set() {
        let request = UpdateTaskRequest {
            description: Patch::Null,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"description":null}"#
        );
    }
}
