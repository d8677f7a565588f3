use axum::extract::State;
use task_core::auth::Caller;
use task_core::extract::TaskId;
use task_core::problem::Problem;
use task_core::response::TaskResponse;
use task_core::task::Task;
use task_core::{ApiError, AppState};

/// One task, with its version as `ETag`: the caller's own (another user's is
/// a 404, as a missing one), or any for an admin.
#[utoipa::path(
    get,
    path = "/api/tasks/{id}",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The task id")),
    responses(
        (status = 200, description = "The task", body = Task,
            headers(("ETag" = String, description = "The task's version"))),
        (status = 400, description = "The id is not a positive integer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token, or not a valid one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_task(
    State(state): State<AppState>,
    caller: Caller,
    TaskId(id): TaskId,
) -> Result<TaskResponse, ApiError> {
    let task = state
        .tasks
        .find(id, caller.visible_owner())
        .await?
        .ok_or(ApiError::TaskNotFound(id))?;
    Ok(TaskResponse(task))
}
