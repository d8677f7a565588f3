use axum::Json;
use axum::extract::State;
use task_core::extract::TaskId;
use task_core::history::HistoryEntry;
use task_core::problem::Problem;
use task_core::{ApiError, AppState};

/// A task's audit trail, oldest first: every event the audit function has
/// recorded for it, also after the task was deleted.
#[utoipa::path(
    get,
    path = "/api/tasks/{id}/history",
    tag = "tasks",
    params(("id" = i64, Path, minimum = 1, description = "The task id")),
    responses(
        (status = 200, description = "The task's events, oldest first", body = [HistoryEntry]),
        (status = 400, description = "The id is not a positive integer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task ever existed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn task_history(
    State(state): State<AppState>,
    TaskId(id): TaskId,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let entries = state.audit_log.history(id).await?;
    // No entries: either the task never existed, or its first event is on its way.
    if entries.is_empty() && state.tasks.find(id).await?.is_none() {
        return Err(ApiError::TaskNotFound(id));
    }
    Ok(Json(entries))
}
