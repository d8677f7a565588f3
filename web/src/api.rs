//! The public API, on the same origin, called with the session's access
//! token: a 401 refreshes it once and tries again, then ends the session.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use task_core::history::HistoryEntry;
use task_core::list::TaskCounts;
use task_core::problem::Problem;
use task_core::task::{CreateTaskRequest, Task, UpdateTaskRequest};

use crate::view::View;

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiFailure {
    /// No answer at all: the network or the server is down.
    Unreachable,
    /// The API refused, and said why.
    Refused(Problem),
    /// An answer that is neither success nor a problem.
    Unexpected(u16),
    /// The session is over: the page shows that it is signed out.
    SignedOut,
}

impl ApiFailure {
    /// The server or the network is down, rather than the request wrong.
    pub fn is_outage(&self) -> bool {
        match self {
            Self::Unreachable => true,
            Self::Refused(problem) => problem.status >= 500,
            Self::Unexpected(status) => *status >= 500,
            Self::SignedOut => false,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Unreachable => "The server cannot be reached.".into(),
            Self::Refused(problem) => problem.detail.clone(),
            Self::Unexpected(status) => format!("The server answered {status}."),
            Self::SignedOut => "Your session has ended: sign in again.".into(),
        }
    }
}

/// One call: made again, with a new token, after a 401.
struct Call<'a> {
    request: &'a dyn Fn() -> RequestBuilder,
    /// A JSON body.
    json: Option<String>,
}

impl Call<'_> {
    /// With the session's token; `None` for a request that cannot be built
    /// (a bug: it shows as "unexpected").
    fn build(&self) -> Option<Request> {
        let mut builder = (self.request)();
        if let Some(token) = crate::session::access_token() {
            builder = builder.header("authorization", &format!("Bearer {token}"));
        }
        let built = match &self.json {
            Some(json) => builder
                .header("content-type", "application/json")
                .body(json.clone()),
            None => builder.build(),
        };
        built.ok()
    }
}

async fn send(request: &dyn Fn() -> RequestBuilder) -> Result<Response, ApiFailure> {
    call(Call {
        request,
        json: None,
    })
    .await
}

async fn call(call: Call<'_>) -> Result<Response, ApiFailure> {
    let mut response = call
        .build()
        .ok_or(ApiFailure::Unexpected(0))?
        .send()
        .await
        .map_err(|_| ApiFailure::Unreachable)?;
    if response.status() == 401 {
        // Once: a fresh token, then the request again; refused still, the
        // session is over.
        if crate::session::refresh().await {
            response = call
                .build()
                .ok_or(ApiFailure::Unexpected(0))?
                .send()
                .await
                .map_err(|_| ApiFailure::Unreachable)?;
        }
        if response.status() == 401 {
            crate::session::ended(Some("Your session has ended: sign in again.".into()));
            return Err(ApiFailure::SignedOut);
        }
    }
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    match response.json::<Problem>().await {
        Ok(problem) => Err(ApiFailure::Refused(problem)),
        Err(_) => Err(ApiFailure::Unexpected(status)),
    }
}

async fn json<T: DeserializeOwned>(call: Call<'_>) -> Result<T, ApiFailure> {
    let response = self::call(call).await?;
    response
        .json()
        .await
        .map_err(|_| ApiFailure::Unexpected(response.status()))
}

/// One page of `view`; the second value is where the next page starts.
pub async fn list_tasks(
    view: &View,
    cursor: Option<i64>,
) -> Result<(Vec<Task>, Option<i64>), ApiFailure> {
    let query = view.list_query(cursor).to_query_string();
    let url = format!("/api/tasks?{query}");
    let response = send(&|| Request::get(&url)).await?;
    let next = response
        .headers()
        .get("link")
        .and_then(|link| next_cursor(&link))
        .and_then(|cursor| cursor.parse().ok());
    let tasks = response
        .json()
        .await
        .map_err(|_| ApiFailure::Unexpected(response.status()))?;
    Ok((tasks, next))
}

/// The `cursor` of a `Link: </api/...?...&cursor=C>; rel="next"` header.
pub fn next_cursor(link: &str) -> Option<String> {
    let url = link.split('>').next()?.trim_start_matches('<');
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "cursor")
        .map(|(_, value)| value.into_owned())
}

pub async fn count_tasks(search: &str) -> Result<TaskCounts, ApiFailure> {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", search.trim())
        .finish();
    let url = format!("/api/task-counts?{query}");
    json(Call {
        request: &|| Request::get(&url),
        json: None,
    })
    .await
}

pub async fn create_task(request: &CreateTaskRequest) -> Result<Task, ApiFailure> {
    json(Call {
        request: &|| Request::post("/api/tasks"),
        json: serde_json::to_string(request).ok(),
    })
    .await
}

/// Changes a task if it is still at `version` (412 otherwise).
pub async fn update_task(
    id: i64,
    version: i32,
    request: &UpdateTaskRequest,
) -> Result<Task, ApiFailure> {
    let (url, if_match) = (format!("/api/tasks/{id}"), format!("\"{version}\""));
    json(Call {
        request: &|| Request::put(&url).header("if-match", &if_match),
        json: serde_json::to_string(request).ok(),
    })
    .await
}

pub async fn delete_task(id: i64) -> Result<(), ApiFailure> {
    let url = format!("/api/tasks/{id}");
    send(&|| Request::delete(&url)).await.map(|_| ())
}

/// A task as it is now; `None` when it no longer exists (or is not the
/// caller's: the API answers 404 either way).
pub async fn get_task(id: i64) -> Result<Option<Task>, ApiFailure> {
    let url = format!("/api/tasks/{id}");
    let answer = json(Call {
        request: &|| Request::get(&url),
        json: None,
    })
    .await;
    match answer {
        Ok(task) => Ok(Some(task)),
        Err(ApiFailure::Refused(Problem { status: 404, .. })) => Ok(None),
        Err(failure) => Err(failure),
    }
}

/// One page of a task's history (the newest changes first), after `cursor`;
/// the second value is where the next (older) page starts.
pub async fn task_history(
    id: i64,
    cursor: Option<&str>,
) -> Result<(Vec<HistoryEntry>, Option<String>), ApiFailure> {
    let mut url = format!("/api/tasks/{id}/history");
    if let Some(cursor) = cursor {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("cursor", cursor)
            .finish();
        url = format!("{url}?{query}");
    }
    let response = send(&|| Request::get(&url)).await?;
    let next = response
        .headers()
        .get("link")
        .and_then(|link| next_cursor(&link));
    let entries = response
        .json()
        .await
        .map_err(|_| ApiFailure::Unexpected(response.status()))?;
    Ok((entries, next))
}

/// Whether the API answers at all (used to notice recovery after an outage).
pub async fn is_up() -> bool {
    send(&|| Request::get("/health")).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::next_cursor;

    #[test]
    fn the_next_cursor_comes_from_the_link_header() {
        assert_eq!(
            next_cursor("</api/tasks?status=pending&limit=50&cursor=42>; rel=\"next\"").as_deref(),
            Some("42")
        );
        assert_eq!(
            next_cursor("</api/tasks/7/history?cursor=12.345>; rel=\"next\"").as_deref(),
            Some("12.345")
        );
        assert_eq!(next_cursor("</api/tasks?limit=50>; rel=\"next\""), None);
    }
}
