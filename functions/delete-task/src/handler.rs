use axum::extract::State;
use axum::http::StatusCode;
use task_core::auth::Caller;
use task_core::extract::{TaskId, TraceParent};
use task_core::problem::Problem;
use task_core::{ApiError, AppState, TaskRepository};
use task_events::TaskEvent;
use task_events::publisher::EventPublisher;

/// Deletes a task (a user its own; another user's is a 404, as a missing
/// one; an admin any). Emits `task.deleted` with the task as it was, the
/// caller its actor.
#[utoipa::path(
    delete,
    path = "/api/tasks/{id}",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The task id")),
    responses(
        (status = 204, description = "The task was deleted"),
        (status = 400, description = "The id is not a positive integer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token, or not a valid one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_task(
    State(state): State<AppState>,
    State(events): State<EventPublisher>,
    caller: Caller,
    traceparent: TraceParent,
    TaskId(id): TaskId,
) -> Result<StatusCode, ApiError> {
    let mut change = events.begin(&state).await?;
    let task = TaskRepository::delete(change.conn(), id, caller.visible_owner())
        .await?
        .ok_or(ApiError::TaskNotFound(id))?;
    change
        .commit(
            TaskEvent::Deleted(task),
            &caller.sub,
            traceparent.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
