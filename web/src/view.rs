//! What the URL says the person is looking at: a status filter and a search.
//! Reload and back/forward keep them because they live in the query string.

use task_core::list::{ListQuery, SEARCH_MIN_CHARS};
use task_core::task::TaskStatus;

/// Tasks asked for per page.
pub const PAGE_SIZE: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub status: Option<TaskStatus>,
    pub search: String,
}

impl View {
    /// Reads `?status=...&q=...` (the leading `?` is optional); unknown
    /// statuses and other parameters are ignored.
    pub fn from_query(query: &str) -> Self {
        let mut view = Self::default();
        for (name, value) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            match name.as_ref() {
                "status" => view.status = value.parse().ok(),
                "q" => view.search = value.into_owned(),
                _ => {}
            }
        }
        view
    }

    /// `?status=...&q=...`, or empty for the default view.
    pub fn to_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(status) = self.status {
            query.append_pair("status", status.as_str());
        }
        if !self.search.trim().is_empty() {
            query.append_pair("q", self.search.trim());
        }
        let query = query.finish();
        if query.is_empty() {
            query
        } else {
            format!("?{query}")
        }
    }

    /// What the API searches for: the typed text once it has the 3
    /// characters the search index needs; until then, nothing.
    pub fn effective_search(&self) -> &str {
        let search = self.search.trim();
        if search.chars().count() >= SEARCH_MIN_CHARS {
            search
        } else {
            ""
        }
    }

    /// Text typed that is still too short to search for.
    pub fn search_too_short(&self) -> bool {
        !self.search.trim().is_empty() && self.effective_search().is_empty()
    }

    /// The API query of one page of this view, after `cursor`.
    pub fn list_query(&self, cursor: Option<i64>) -> ListQuery {
        ListQuery {
            status: self.status.map(|s| s.as_str().to_string()),
            q: Some(self.effective_search().to_string()).filter(|q| !q.is_empty()),
            limit: Some(PAGE_SIZE.to_string()),
            cursor: cursor.map(|c| c.to_string()),
            owner: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_view_has_an_empty_query() {
        assert_eq!(View::from_query(""), View::default());
        assert_eq!(View::default().to_query(), "");
    }

    #[test]
    fn status_and_search_round_trip_through_the_url() {
        let view = View {
            status: Some(TaskStatus::InProgress),
            search: "milk & honey 50%".into(),
        };
        let query = view.to_query();
        assert_eq!(query, "?status=in_progress&q=milk+%26+honey+50%25");
        assert_eq!(View::from_query(&query), view);
    }

    #[test]
    fn unknown_values_are_ignored() {
        let view = View::from_query("?status=archived&sort=asc&q=x");
        assert_eq!(view.status, None);
        assert_eq!(view.search, "x");
    }

    #[test]
    fn pages_carry_the_filter_and_the_cursor() {
        let view = View::from_query("status=pending&q=%20bread%20");
        let query = view.list_query(Some(42));
        assert_eq!(query.status.as_deref(), Some("pending"));
        assert_eq!(query.q.as_deref(), Some("bread"));
        assert_eq!(query.cursor.as_deref(), Some("42"));
        assert_eq!(query.limit.as_deref(), Some("50"));
    }

    #[test]
    fn a_search_starts_at_three_characters() {
        let view = |search: &str| View {
            status: None,
            search: search.into(),
        };
        assert_eq!(view(" mi ").list_query(None).q, None);
        assert!(view(" mi ").search_too_short());
        assert_eq!(view("mil").list_query(None).q.as_deref(), Some("mil"));
        assert!(!view("mil").search_too_short());
        assert!(!view("").search_too_short());
    }
}
