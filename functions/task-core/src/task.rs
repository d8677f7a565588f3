//! The task model, the request bodies that change it, and their validation.
//!
//! Request bodies are deserialized loosely (every field optional, `null` kept
//! apart from "left out") and then validated as a whole, so a client learns
//! about every bad field at once instead of only the first.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::problem::FieldError;

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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped on every change; the task's ETag.
    pub version: i32,
}

impl Task {
    /// The strong entity tag of this version of the task.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

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
    pub title: String,
    pub description: Option<String>,
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
            Patch::Value(title) => check_title(&title, &mut errors),
        };
        let description = match self.description {
            Patch::Missing | Patch::Null => None,
            Patch::Value(description) => check_description(description, &mut errors),
        };
        let status = match self.status {
            Patch::Missing => Some(TaskStatus::default()),
            Patch::Null => {
                errors.push(FieldError::new("status", "must be a string, not null"));
                None
            }
            Patch::Value(status) => check_status(&status, &mut errors),
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
    pub title: Option<String>,
    pub description: Option<Option<String>>,
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
            Patch::Value(title) => check_title(&title, &mut errors),
        };
        let description = match self.description {
            Patch::Missing => None,
            Patch::Null => Some(None),
            Patch::Value(description) => check_description(description, &mut errors).map(Some),
        };
        let status = match self.status {
            Patch::Missing => None,
            Patch::Null => {
                errors.push(FieldError::new("status", "must be a string, not null"));
                None
            }
            Patch::Value(status) => check_status(&status, &mut errors),
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
            changed.title.clone_from(title);
        }
        if let Some(description) = &self.description {
            changed.description.clone_from(description);
        }
        if let Some(status) = self.status {
            changed.status = status;
        }
        (changed != *task).then_some(changed)
    }
}

fn check_title(title: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    // The length counts what was sent (as the published schema's maxLength
    // does); blankness what remains after trimming.
    let problem = if title.trim().is_empty() {
        Some("must not be blank".to_string())
    } else if title.chars().count() > TITLE_MAX_CHARS {
        Some(format!("must be at most {TITLE_MAX_CHARS} characters"))
    } else if title.contains('\0') {
        Some("must not contain NUL characters".to_string())
    } else {
        None
    };
    match problem {
        Some(message) => {
            errors.push(FieldError::new("title", message));
            None
        }
        None => Some(title.trim().to_string()),
    }
}

fn check_description(description: String, errors: &mut Vec<FieldError>) -> Option<String> {
    let problem = if description.chars().count() > DESCRIPTION_MAX_CHARS {
        Some(format!(
            "must be at most {DESCRIPTION_MAX_CHARS} characters"
        ))
    } else if description.contains('\0') {
        Some("must not contain NUL characters".to_string())
    } else {
        None
    };
    match problem {
        Some(message) => {
            errors.push(FieldError::new("description", message));
            None
        }
        None => Some(description),
    }
}

fn check_status(status: &str, errors: &mut Vec<FieldError>) -> Option<TaskStatus> {
    match status.parse() {
        Ok(status) => Some(status),
        Err(err) => {
            errors.push(FieldError::new("status", err.to_string()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

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

    #[test]
    fn etag_is_the_quoted_version() {
        assert_eq!(task().etag(), "\"1\"");
    }
}
