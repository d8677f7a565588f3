//! How things are worded on screen.

use chrono::{DateTime, Utc};
use serde_json::Value;
use task_core::task::TaskStatus;
use task_events::{FieldChange, TaskEvent, TaskEventType};

use crate::state::Elsewhere;

pub fn status_label(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending => "Pending",
        TaskStatus::InProgress => "In progress",
        TaskStatus::Complete => "Complete",
    }
}

/// "just now", "5 minutes ago", "yesterday", "on 2026-11-01".
pub fn relative_time(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds().max(0);
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    match seconds {
        0..45 => "just now".to_string(),
        45..3_600 => plural((seconds / 60).max(1), "minute"),
        3_600..86_400 => plural(seconds / 3_600, "hour"),
        86_400..172_800 => "yesterday".to_string(),
        172_800..604_800 => plural(seconds / 86_400, "day"),
        _ => format!("on {}", then.format("%Y-%m-%d")),
    }
}

/// A field's value as a person reads it.
fn show_value(field: &str, value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_string(),
        Value::String(s) if field == "status" => s
            .parse::<TaskStatus>()
            .map(|st| status_label(st).to_string())
            .unwrap_or_else(|_| s.clone()),
        Value::String(s) => format!("“{s}”"),
        other => other.to_string(),
    }
}

/// `status: Pending → Complete`
pub fn describe_change(field: &str, change: &FieldChange) -> String {
    format!(
        "{field}: {} → {}",
        show_value(field, &change.old),
        show_value(field, &change.new)
    )
}

/// What one history entry says happened, one line per changed field.
/// Who made a change, as its history entry says it to `me` (the signed-in
/// person's `sub`): a `sub` is opaque, so another person is "another user".
/// A record not checked against the app's own change (an event posted by
/// hand) says so.
pub fn describe_actor(actor: Option<&str>, verified: bool, me: Option<&str>) -> String {
    let who = match actor {
        Some(actor) if Some(actor) == me => "by you".to_string(),
        Some(actor) => format!(
            "by another user ({})",
            actor.chars().take(8).collect::<String>()
        ),
        None => "by an unknown user".to_string(),
    };
    if verified {
        who
    } else {
        format!("{who}, unverified: posted by hand, not made in the app")
    }
}

pub fn describe_event(event_type: &str, data: &Value) -> (String, Vec<String>) {
    let Ok(event_type) = event_type.parse::<TaskEventType>() else {
        return (event_type.to_string(), Vec::new());
    };
    let headline = match event_type {
        TaskEventType::Created => "Created",
        TaskEventType::Updated => "Changed",
        TaskEventType::Deleted => "Deleted",
    };
    let details = match TaskEvent::from_data(event_type, data.clone()) {
        Ok(TaskEvent::Updated(update)) => update
            .changes
            .iter()
            .map(|(field, change)| describe_change(field, change))
            .collect(),
        Ok(TaskEvent::Created(task)) => vec![format!(
            "“{}”, {}",
            task.title,
            status_label(task.status).to_lowercase()
        )],
        Ok(TaskEvent::Deleted(task)) => vec![format!("“{}”", task.title)],
        Err(_) => Vec::new(),
    };
    (headline.to_string(), details)
}

/// What screen readers hear of a change made elsewhere.
pub fn describe_elsewhere(change: &Elsewhere) -> String {
    match change {
        Elsewhere::Added(title) => format!("“{title}” was added elsewhere."),
        Elsewhere::Changed(title) => format!("“{title}” was changed elsewhere."),
        Elsewhere::Deleted(title) => format!("“{title}” was deleted elsewhere."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use serde_json::json;

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let ago = |seconds| relative_time(now - Duration::seconds(seconds), now);
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(60 * 5 + 10), "5 minutes ago");
        assert_eq!(ago(3_600 * 3), "3 hours ago");
        assert_eq!(ago(86_400 + 10), "yesterday");
        assert_eq!(ago(86_400 * 4), "4 days ago");
        assert_eq!(ago(86_400 * 30), "on 2026-10-25");
        assert_eq!(relative_time(now + Duration::seconds(3), now), "just now");
    }

    #[test]
    fn changes_made_elsewhere_name_the_task() {
        let said = |change| describe_elsewhere(&change);
        assert_eq!(
            said(Elsewhere::Changed("Buy milk".into())),
            "“Buy milk” was changed elsewhere."
        );
        assert_eq!(
            said(Elsewhere::Added("Buy milk".into())),
            "“Buy milk” was added elsewhere."
        );
        assert_eq!(
            said(Elsewhere::Deleted("Buy milk".into())),
            "“Buy milk” was deleted elsewhere."
        );
    }

    #[test]
    fn changes_read_old_to_new() {
        let change = FieldChange {
            old: json!("pending"),
            new: json!("in_progress"),
        };
        assert_eq!(
            describe_change("status", &change),
            "status: Pending → In progress"
        );
        let cleared = FieldChange {
            old: json!("2 litres"),
            new: Value::Null,
        };
        assert_eq!(
            describe_change("description", &cleared),
            "description: “2 litres” → (none)"
        );
    }

    #[test]
    fn history_entries_say_who_made_the_change() {
        assert_eq!(describe_actor(Some("u1"), true, Some("u1")), "by you");
        assert_eq!(
            describe_actor(Some("8f2c41d0-aaaa"), true, Some("u1")),
            "by another user (8f2c41d0)"
        );
        assert_eq!(describe_actor(None, true, Some("u1")), "by an unknown user");
        assert_eq!(
            describe_actor(Some("u1"), false, Some("u1")),
            "by you, unverified: posted by hand, not made in the app"
        );
    }

    #[test]
    fn history_entries_say_what_happened() {
        let task = json!({"id": 1, "title": "Buy milk", "description": null, "status": "pending",
            "created_at": "2026-11-24T06:00:00Z", "updated_at": "2026-11-24T06:00:00Z", "version": 1});
        let (headline, details) = describe_event("task.created", &task);
        assert_eq!(headline, "Created");
        assert_eq!(details, ["“Buy milk”, pending"]);

        let mut updated = task.clone();
        updated["changes"] = json!({"title": {"old": "Buy milk", "new": "Buy oat milk"}});
        let (headline, details) = describe_event("task.updated", &updated);
        assert_eq!(headline, "Changed");
        assert_eq!(details, ["title: “Buy milk” → “Buy oat milk”"]);

        assert_eq!(describe_event("something.else", &task).0, "something.else");
    }
}
