use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use task_core::auth::Caller;
use task_core::extract::{QueryString, TaskId};
use task_core::history::{HistoryEntry, HistoryPage, HistoryQuery};
use task_core::problem::Problem;
use task_core::response::page;
use task_core::{ApiError, AppState};

/// A task's audit trail, a page at a time, the newest change first: every
/// event the audit function has recorded for it, in the order the changes
/// were made (not the order their events arrived), also after the task was
/// deleted, each naming who made it. The caller's own tasks only (another
/// user's is a 404, as a missing one); an admin's, any. When older entries
/// remain, `Link: <...>; rel="next"` points at them.
#[utoipa::path(
    get,
    path = "/api/tasks/{id}/history",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1, description = "The task id"), HistoryQuery),
    responses(
        (status = 200, description = "One page of the task's events, the newest change first", body = [HistoryEntry],
            headers(("Link" = String, description = "`<url>; rel=\"next\"` when older entries remain"))),
        (status = 400, description = "The id is not a positive integer, or a malformed query string", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token, or not a valid one", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task ever existed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn task_history(
    State(state): State<AppState>,
    caller: Caller,
    TaskId(id): TaskId,
    QueryString(query): QueryString<HistoryQuery>,
) -> Result<Response, ApiError> {
    let wanted = query.validate()?;
    let limit = wanted.limit;
    let owner = caller.visible_owner();
    // One more than the page tells whether another page follows.
    let entries = state
        .audit_log
        .history(
            id,
            owner,
            &HistoryPage {
                limit: limit + 1,
                ..wanted
            },
        )
        .await?;
    // No entries: either the task never existed, or its first event is on its way.
    if entries.is_empty() && wanted.before.is_none() && state.tasks.find(id, owner).await?.is_none()
    {
        return Err(ApiError::TaskNotFound(id));
    }
    let (headers, entries) = page(entries, limit, |(last, _)| {
        format!("/api/tasks/{id}/history?{}", query.next_page(*last))
    });
    let entries: Vec<HistoryEntry> = entries.into_iter().map(|(_, entry)| entry).collect();
    Ok((headers, Json(entries)).into_response())
}
