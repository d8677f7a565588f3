use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use task_core::auth::Caller;
use task_core::extract::QueryString;
use task_core::list::{ListQuery, TaskFilter};
use task_core::problem::Problem;
use task_core::response::page;
use task_core::task::Task;
use task_core::{ApiError, AppState};

/// Lists the caller's tasks (an admin: every user's, or one user's with
/// `owner`), newest first. When more remain, `Link: <...>; rel="next"`
/// points at the next page.
#[utoipa::path(
    get,
    path = "/api/tasks",
    tag = "tasks",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "One page of tasks, newest first", body = [Task],
            headers(("Link" = String, description = "`<url>; rel=\"next\"` when more tasks remain"))),
        (status = 400, description = "Malformed query string", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token, or not a valid one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`owner` names another user and the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    caller: Caller,
    QueryString(query): QueryString<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = query.validate()?;
    let filter = TaskFilter {
        owner: caller.owner_filter(filter.owner.as_deref())?,
        ..filter
    };
    // One more than the page tells whether another page follows.
    let tasks = state
        .tasks
        .list(&TaskFilter {
            limit: filter.limit + 1,
            ..filter.clone()
        })
        .await?;
    let (headers, tasks) = page(tasks, filter.limit, |last| {
        format!("/api/tasks?{}", query.next_page(last.id))
    });
    Ok((headers, Json(tasks)).into_response())
}
