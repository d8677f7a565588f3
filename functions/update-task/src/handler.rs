use axum::extract::State;
use task_core::auth::Caller;
use task_core::extract::{IfMatch, JsonBody, TaskId, TraceParent};
use task_core::problem::Problem;
use task_core::response::TaskResponse;
use task_core::task::{Task, UpdateTaskRequest};
use task_core::{ApiError, AppState, TaskRepository};
use task_events::publisher::EventPublisher;
use task_events::{TaskEvent, TaskUpdated};

/// Changes the fields sent and leaves the others. With `If-Match`, only when the
/// task is still at that version. A change that changes nothing keeps the version
/// and emits nothing; any other emits `task.updated` with the changed fields,
/// the caller its actor. A user changes its own tasks (another user's is a
/// 404, as a missing one); an admin any, whose owner stays.
#[utoipa::path(
    put,
    path = "/api/tasks/{id}",
    tag = "tasks",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, minimum = 1, description = "The task id"),
        ("If-Match" = Option<String>, Header, description = "Only update if the task's ETag is one of these"),
    ),
    request_body = UpdateTaskRequest,
    responses(
        (status = 200, description = "The task after the change", body = Task,
            headers(("ETag" = String, description = "The task's version"))),
        (status = 400, description = "Malformed JSON, wrong types, unknown fields or a bad id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token, or not a valid one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The task changed since that version; `current` holds it", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 128 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_task(
    State(state): State<AppState>,
    State(events): State<EventPublisher>,
    caller: Caller,
    traceparent: TraceParent,
    TaskId(id): TaskId,
    if_match: IfMatch,
    JsonBody(request): JsonBody<UpdateTaskRequest>,
) -> Result<TaskResponse, ApiError> {
    let patch = request.validate()?;
    let mut change = events.begin(&state).await?;
    let current = TaskRepository::find_for_update(change.conn(), id, caller.visible_owner())
        .await?
        .ok_or(ApiError::TaskNotFound(id))?;
    if_match.check(&current)?;
    let Some(changed) = patch.apply_to(&current) else {
        return Ok(TaskResponse(current));
    };
    let task = TaskRepository::update(change.conn(), &changed).await?;
    change
        .commit(
            TaskEvent::Updated(TaskUpdated::between(&current, &task)),
            &caller.sub,
            traceparent.as_deref(),
        )
        .await?;
    Ok(TaskResponse(task))
}
