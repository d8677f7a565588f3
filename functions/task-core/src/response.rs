//! Successful responses: one task, or one page of a list.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::task::Task;

/// One page of a list, fetched with one item more than `limit` (which tells
/// that another page follows): the page, and when another follows the
/// `Link: <next(last item)>; rel="next"` header.
pub fn page<T>(
    mut items: Vec<T>,
    limit: i64,
    next: impl FnOnce(&T) -> String,
) -> (HeaderMap, Vec<T>) {
    let mut headers = HeaderMap::new();
    if items.len() as i64 > limit {
        items.truncate(limit as usize);
        if let Some(last) = items.last()
            && let Ok(link) = HeaderValue::from_str(&format!("<{}>; rel=\"next\"", next(last)))
        {
            headers.insert(header::LINK, link);
        }
    }
    (headers, items)
}

/// `200` with the task as JSON and its `ETag`.
#[derive(Debug)]
pub struct TaskResponse(pub Task);

impl IntoResponse for TaskResponse {
    fn into_response(self) -> Response {
        let etag = HeaderValue::from_str(&self.0.etag()).expect("an etag is always ASCII");
        ([(header::ETAG, etag)], Json(self.0)).into_response()
    }
}

/// `201` with the task, its `ETag` and its `Location`.
#[derive(Debug)]
pub struct CreatedTask(pub Task);

impl IntoResponse for CreatedTask {
    fn into_response(self) -> Response {
        let location = format!("/api/tasks/{}", self.0.id);
        (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            TaskResponse(self.0),
        )
            .into_response()
    }
}
