use axum::extract::State;
use task_core::ApiError;
use task_core::auth::Caller;
use task_core::extract::{JsonBody, TraceParent};
use task_core::problem::Problem;
use task_core::response::CreatedTask;
use task_core::task::{CreateTaskRequest, Task};

use crate::queue::{Create, CreateQueue};

/// Creates a task of the caller's own. The title is trimmed; everything else
/// is stored as sent. Emits `task.created`, the caller its actor. Written with the creates that arrive meanwhile
/// ([`CreateQueue`]).
#[utoipa::path(
    post,
    path = "/api/tasks",
    tag = "tasks",
    security(("bearer" = [])),
    request_body = CreateTaskRequest,
    responses(
        (status = 201, description = "The task was created", body = Task,
            headers(("Location" = String, description = "/api/tasks/{id}"), ("ETag" = String, description = "The task's version"))),
        (status = 400, description = "Malformed JSON, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token, or not a valid one", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 128 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_task(
    State(creates): State<CreateQueue>,
    caller: Caller,
    TraceParent(traceparent): TraceParent,
    JsonBody(request): JsonBody<CreateTaskRequest>,
) -> Result<CreatedTask, ApiError> {
    let task = request.validate()?;
    let task = creates
        .create(Create {
            task,
            creator: caller.sub,
            traceparent,
        })
        .await?;
    Ok(CreatedTask(task))
}
