//! Successful responses that carry one task.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::task::Task;

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
