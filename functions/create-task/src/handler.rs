use axum::extract::State;
use task_core::ApiError;
use task_core::extract::{JsonBody, TraceParent};
use task_core::problem::Problem;
use task_core::response::CreatedTask;
use task_core::task::{CreateTaskRequest, Task};

use crate::queue::CreateQueue;

/// Creates a task. The title is trimmed; everything else is stored as sent.
/// Emits `task.created`. Written with the creates that arrive meanwhile
/// ([`CreateQueue`]).
#[utoipa::path(
    post,
    path = "/api/tasks",
    tag = "tasks",
    request_body = CreateTaskRequest,
    responses(
        (status = 201, description = "The task was created", body = Task,
            headers(("Location" = String, description = "/api/tasks/{id}"), ("ETag" = String, description = "The task's version"))),
        (status = 400, description = "Malformed JSON, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 128 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_task(
    State(creates): State<CreateQueue>,
    TraceParent(traceparent): TraceParent,
    JsonBody(request): JsonBody<CreateTaskRequest>,
) -> Result<CreatedTask, ApiError> {
    let new_task = request.validate()?;
    let task = creates.create(new_task, traceparent).await?;
    Ok(CreatedTask(task))
}
