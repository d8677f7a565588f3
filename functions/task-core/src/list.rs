//! The query of `GET /api/tasks`: filters, page size and the keyset cursor.

use serde::{Deserialize, Serialize};

use crate::problem::FieldError;
use crate::task::TaskStatus;

/// Page size when `limit` is left out.
pub const DEFAULT_LIMIT: i64 = 100;
/// Largest page a client may ask for: 200 of the largest tasks (about 60 KB
/// of JSON each, every character escaped) make a 12 MB response, well within
/// a function's 64 MiB.
pub const MAX_LIMIT: i64 = 200;
/// Longest search text, in characters.
pub const SEARCH_MAX_CHARS: usize = 255;
/// Shortest search text, in characters: a trigram index answers 3 or more;
/// anything shorter would read the whole table.
pub const SEARCH_MIN_CHARS: usize = 3;
/// A search's counts stop at this many matching tasks (`exact` is then
/// false). Reaching it costs a walk of `SEARCH_COUNT_CAP / density` rows for
/// a common word, so it stays small: past a hundred matches a person refines
/// the search rather than reads the number.
pub const SEARCH_COUNT_CAP: i64 = 100;

/// The query string of `GET /api/tasks`, as sent. An empty `q` searches
/// nothing; an empty `status`, `limit` or `cursor` is invalid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "server", into_params(parameter_in = Query))]
pub struct ListQuery {
    /// Only tasks with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(value_type = Option<TaskStatus>))]
    pub status: Option<String>,
    /// Case-insensitive text searched in title and description: 3 to 255
    /// characters (empty: no search).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "server",
        param(max_length = 255, pattern = r"^([^\u0000]{3,})?$")
    )]
    pub q: Option<String>,
    /// Page size, 1 to 200 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(value_type = Option<i64>, minimum = 1, maximum = 200))]
    pub limit: Option<String>,
    /// Where the next page starts: taken from the `Link: rel="next"` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(value_type = Option<i64>, minimum = 1))]
    pub cursor: Option<String>,
    /// Only the tasks of this user (its `sub`). An admin's list shows every
    /// user's tasks without it; anyone else may name only itself (403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// How many tasks there are of each status (optionally among those matching a
/// search): the answer of `GET /api/task-counts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct TaskCounts {
    pub total: i64,
    pub pending: i64,
    pub in_progress: i64,
    pub complete: i64,
    /// False when a search matched more tasks than were counted
    /// ([`SEARCH_COUNT_CAP`]): every number is then a lower bound.
    #[serde(default = "exact")]
    pub exact: bool,
}

fn exact() -> bool {
    true
}

impl Default for TaskCounts {
    fn default() -> Self {
        Self {
            total: 0,
            pending: 0,
            in_progress: 0,
            complete: 0,
            exact: true,
        }
    }
}

impl TaskCounts {
    /// The count of one status, or of all when `None`.
    pub fn of(&self, status: Option<TaskStatus>) -> i64 {
        match status {
            None => self.total,
            Some(TaskStatus::Pending) => self.pending,
            Some(TaskStatus::InProgress) => self.in_progress,
            Some(TaskStatus::Complete) => self.complete,
        }
    }
}

/// Counts from `(status, how many)` pairs, as the queries return them.
impl FromIterator<(TaskStatus, i64)> for TaskCounts {
    fn from_iter<I: IntoIterator<Item = (TaskStatus, i64)>>(pairs: I) -> Self {
        let mut counts = Self::default();
        for (status, count) in pairs {
            counts.total += count;
            match status {
                TaskStatus::Pending => counts.pending += count,
                TaskStatus::InProgress => counts.in_progress += count,
                TaskStatus::Complete => counts.complete += count,
            }
        }
        counts
    }
}

/// Which tasks a list returns: newest first, optionally filtered, one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only this user's tasks; `None`: every user's (an admin's list).
    pub owner: Option<String>,
    pub status: Option<TaskStatus>,
    /// Case-insensitive substring of the title or the description.
    pub search: Option<String>,
    /// Keyset cursor: only tasks with a smaller id (older) than this.
    pub before_id: Option<i64>,
    pub limit: i64,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

impl ListQuery {
    /// Checks every parameter; the error names each bad one.
    pub fn validate(&self) -> Result<TaskFilter, Vec<FieldError>> {
        let mut errors = Vec::new();
        let status = self
            .status
            .as_deref()
            .and_then(|status| match status.parse::<TaskStatus>() {
                Ok(status) => Some(status),
                Err(err) => {
                    errors.push(FieldError::new("status", err.to_string()));
                    None
                }
            });
        let search = check_search(&self.q, &mut errors);
        let limit = match self.limit.as_deref().map(str::parse::<i64>) {
            None => DEFAULT_LIMIT,
            Some(Ok(limit)) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                errors.push(FieldError::new(
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIMIT}"),
                ));
                DEFAULT_LIMIT
            }
        };
        let before_id = match self.cursor.as_deref().map(str::parse::<i64>) {
            None => None,
            Some(Ok(cursor)) if cursor > 0 => Some(cursor),
            Some(_) => {
                errors.push(FieldError::new("cursor", "must be a positive integer"));
                None
            }
        };
        if errors.is_empty() {
            Ok(TaskFilter {
                owner: present(&self.owner).map(str::to_string),
                status,
                search,
                before_id,
                limit,
            })
        } else {
            Err(errors)
        }
    }

    /// The query string of the page after the one that ended at `last_id`.
    pub fn next_page(&self, last_id: i64) -> String {
        let next = ListQuery {
            cursor: Some(last_id.to_string()),
            ..self.clone()
        };
        serde_urlencoded_string(&next)
    }

    /// This query as a URL query string (without `?`).
    pub fn to_query_string(&self) -> String {
        serde_urlencoded_string(self)
    }
}

/// The query string of `GET /api/task-counts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "server", into_params(parameter_in = Query))]
pub struct CountQuery {
    /// Count only this user's tasks (as in the list: an admin counts every
    /// user's without it; anyone else may name only itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Count only tasks whose title or description contains this
    /// (case-insensitive; 3 to 255 characters). The counts of a search stop
    /// at 100 matching tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "server",
        param(max_length = 255, pattern = r"^([^\u0000]{3,})?$")
    )]
    pub q: Option<String>,
}

impl CountQuery {
    /// The search text, checked like the list's.
    pub fn validate(&self) -> Result<Option<String>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let search = check_search(&self.q, &mut errors);
        if errors.is_empty() {
            Ok(search)
        } else {
            Err(errors)
        }
    }
}

/// One user's counts (`GET /api/task-owners`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct OwnerCounts {
    /// The user (its `sub`).
    pub owner: String,
    #[serde(flatten)]
    pub counts: TaskCounts,
}

/// Owners per page when `limit` is left out, and at most.
pub const OWNERS_DEFAULT_LIMIT: i64 = 100;
pub const OWNERS_MAX_LIMIT: i64 = 1000;

/// The query string of `GET /api/task-owners`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "server", into_params(parameter_in = Query))]
pub struct OwnersQuery {
    /// Page size, 1 to 1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(value_type = Option<i64>, minimum = 1, maximum = 1000))]
    pub limit: Option<String>,
    /// Where the next page starts: taken from the `Link: rel="next"` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// A checked [`OwnersQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnersPage {
    pub after: Option<String>,
    pub limit: i64,
}

impl OwnersQuery {
    pub fn validate(&self) -> Result<OwnersPage, Vec<FieldError>> {
        match self.limit.as_deref().map(str::parse::<i64>) {
            None => Ok(OWNERS_DEFAULT_LIMIT),
            Some(Ok(limit)) if (1..=OWNERS_MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => Err(vec![FieldError::new(
                "limit",
                format!("must be an integer from 1 to {OWNERS_MAX_LIMIT}"),
            )]),
        }
        .map(|limit| OwnersPage {
            after: present(&self.after).map(str::to_string),
            limit,
        })
    }

    /// The query string of the page after the one that ended at `last`.
    pub fn next_page(&self, last: &str) -> String {
        let mut query = format!("after={}", percent_encode(last));
        if let Some(limit) = present(&self.limit) {
            query = format!("limit={}&{query}", percent_encode(limit));
        }
        query
    }
}

fn check_search(q: &Option<String>, errors: &mut Vec<FieldError>) -> Option<String> {
    let q = present(q)?;
    let chars = q.chars().count();
    if chars > SEARCH_MAX_CHARS {
        errors.push(FieldError::new(
            "q",
            format!("must be at most {SEARCH_MAX_CHARS} characters"),
        ));
        None
    } else if chars < SEARCH_MIN_CHARS {
        errors.push(FieldError::new(
            "q",
            format!("must be at least {SEARCH_MIN_CHARS} characters (or left out)"),
        ));
        None
    } else if q.contains('\0') {
        errors.push(FieldError::new("q", "must not contain NUL characters"));
        None
    } else {
        Some(q.to_string())
    }
}

fn serde_urlencoded_string(query: &ListQuery) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (name, value) in [
        ("status", &query.status),
        ("q", &query.q),
        ("limit", &query.limit),
        ("cursor", &query.cursor),
        ("owner", &query.owner),
    ] {
        if let Some(value) = present(value) {
            pairs.push((name, value));
        }
    }
    pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Encodes everything but RFC 3986 unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(status: &str, q: &str, limit: &str, cursor: &str) -> ListQuery {
        let some = |v: &str| (!v.is_empty()).then(|| v.to_string());
        ListQuery {
            status: some(status),
            q: some(q),
            limit: some(limit),
            cursor: some(cursor),
            owner: None,
        }
    }

    #[test]
    fn an_empty_query_lists_the_newest_hundred() {
        let filter = ListQuery::default().validate().unwrap();
        assert_eq!(filter.limit, DEFAULT_LIMIT);
        assert_eq!(filter.status, None);
        assert_eq!(filter.search, None);
        assert_eq!(filter.before_id, None);
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let errors = query("done", "", "201", "-4").validate().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["status", "limit", "cursor"]);
        assert!(query("", "", "0", "").validate().is_err());
        assert!(query("", "", "ten", "").validate().is_err());
        assert!(query("", &"x".repeat(256), "", "").validate().is_err());
        assert!(query("", "ab", "", "").validate().is_err());
        assert!(query("", "abc", "", "").validate().is_ok());
    }

    #[test]
    fn the_next_page_keeps_the_filters_and_encodes_them() {
        let next = query("pending", "50% off & more", "10", "99").next_page(42);
        assert_eq!(
            next,
            "status=pending&q=50%25%20off%20%26%20more&limit=10&cursor=42"
        );
    }
}
