//! `GET /api/tasks/{id}/history`: a task's audit trail, a page at a time.

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
    /// The change's place in the task's life: the version it produced (a
    /// deletion: one past the last). Entries are listed by it, newest first.
    pub sequence: i32,
    /// When the change happened (the CloudEvent's `time`).
    pub time: Option<DateTime<Utc>>,
    /// When the audit function recorded it.
    pub processed_at: DateTime<Utc>,
    /// Who made the change (the `sub` of the signed-in user; none for
    /// changes recorded before the app had sign-in).
    #[serde(default)]
    pub actor: Option<String>,
    /// Whether the record was checked against the change the app committed;
    /// false for an event posted by hand from another source (its actor is
    /// then only what the event claimed).
    #[serde(default = "verified")]
    pub verified: bool,
    /// The event's data: the task, and for `task.updated` its `changes`.
    #[cfg_attr(feature = "server", schema(value_type = Object))]
    pub data: Value,
}

fn verified() -> bool {
    true
}

/// Entries per page when `limit` is left out.
pub const HISTORY_DEFAULT_LIMIT: i64 = 20;
/// Largest page: 50 of the largest entries (a `task.updated` replacing a
/// 10,000-character description, about 185 KB each) make about 9 MB.
pub const HISTORY_MAX_LIMIT: i64 = 50;

/// The query string of `GET /api/tasks/{id}/history`, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "server", into_params(parameter_in = Query))]
pub struct HistoryQuery {
    /// Page size, 1 to 50 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(value_type = Option<i64>, minimum = 1, maximum = 50))]
    pub limit: Option<String>,
    /// Where the next (older) page starts: taken from the `Link: rel="next"` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(pattern = r"^[0-9]+\.[0-9]+$"))]
    pub cursor: Option<String>,
}

/// One page of a task's history: the newest entries first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPage {
    /// Only entries before this one (its `(sequence, row)` position).
    pub before: Option<HistoryPosition>,
    pub limit: i64,
}

/// Where an entry stands in its task's history: the change's sequence
/// number, then the row (for the rare change recorded twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HistoryPosition {
    pub sequence: i32,
    pub row: i64,
}

impl HistoryPosition {
    /// `<sequence>.<row>`, as the cursor carries it.
    pub fn to_cursor(self) -> String {
        format!("{}.{}", self.sequence, self.row)
    }

    /// Reads `<sequence>.<row>`. Numbers past the largest position stand
    /// for it (a cursor after every entry), as any digits are a valid cursor.
    fn parse(cursor: &str) -> Option<Self> {
        let (sequence, row) = cursor.split_once('.')?;
        let number = |s: &str| -> Option<i64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(s.parse().unwrap_or(i64::MAX))
        };
        Some(Self {
            sequence: i32::try_from(number(sequence)?).unwrap_or(i32::MAX),
            row: number(row)?,
        })
    }
}

impl HistoryQuery {
    /// Checks every parameter; the error names each bad one.
    pub fn validate(&self) -> Result<HistoryPage, Vec<crate::problem::FieldError>> {
        use crate::problem::FieldError;
        let mut errors = Vec::new();
        let limit = match self.limit.as_deref().map(str::parse::<i64>) {
            None => HISTORY_DEFAULT_LIMIT,
            Some(Ok(limit)) if (1..=HISTORY_MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                errors.push(FieldError::new(
                    "limit",
                    format!("must be an integer from 1 to {HISTORY_MAX_LIMIT}"),
                ));
                HISTORY_DEFAULT_LIMIT
            }
        };
        let before = match self.cursor.as_deref() {
            None => None,
            Some(cursor) => match HistoryPosition::parse(cursor) {
                Some(position) => Some(position),
                None => {
                    errors.push(FieldError::new(
                        "cursor",
                        "must be the cursor of a Link header (<sequence>.<row>)",
                    ));
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(HistoryPage { before, limit })
        } else {
            Err(errors)
        }
    }

    /// The query string of the page after the one that ended at `last`.
    pub fn next_page(&self, last: HistoryPosition) -> String {
        let mut query = format!("cursor={}", last.to_cursor());
        if let Some(limit) = self.limit.as_deref().filter(|l| !l.is_empty()) {
            query = format!("limit={limit}&{query}");
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: &str, cursor: &str) -> HistoryQuery {
        let some = |v: &str| (!v.is_empty()).then(|| v.to_string());
        HistoryQuery {
            limit: some(limit),
            cursor: some(cursor),
        }
    }

    #[test]
    fn a_page_starts_at_the_newest_twenty_entries() {
        let page = HistoryQuery::default().validate().unwrap();
        assert_eq!(
            page,
            HistoryPage {
                before: None,
                limit: 20
            }
        );
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_named() {
        let position = HistoryPosition {
            sequence: 12,
            row: 3456,
        };
        let next = query("5", "").next_page(position);
        assert_eq!(next, "limit=5&cursor=12.3456");
        let page = query("5", "12.3456").validate().unwrap();
        assert_eq!(page.before, Some(position));
        let far = query("", "702958062250.99999999999999999999")
            .validate()
            .unwrap();
        assert_eq!(
            far.before,
            Some(HistoryPosition {
                sequence: i32::MAX,
                row: i64::MAX
            })
        );
        for cursor in ["12", "a.b", "-1.2", "1.", ".1", "1.2.3", "+1.2"] {
            let errors = query("", cursor).validate().unwrap_err();
            assert_eq!(errors[0].field, "cursor", "{cursor}");
        }
        let errors = query("51", "").validate().unwrap_err();
        assert_eq!(errors[0].field, "limit");
    }
}
