use axum::Json;
use axum::extract::State;
use task_core::auth::Caller;
use task_core::extract::QueryString;
use task_core::list::{CountQuery, TaskCounts};
use task_core::problem::Problem;
use task_core::{ApiError, AppState};

/// How many of the caller's tasks (an admin: every user's, or one user's
/// with `owner`) there are of each status, and in all; with `q`, only among
/// the tasks a list with that `q` would return.
#[utoipa::path(
    get,
    path = "/api/task-counts",
    tag = "tasks",
    security(("bearer" = [])),
    params(CountQuery),
    responses(
        (status = 200, description = "The counts", body = TaskCounts),
        (status = 400, description = "Malformed query string", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token, or not a valid one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`owner` names another user and the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn count_tasks(
    State(state): State<AppState>,
    caller: Caller,
    QueryString(query): QueryString<CountQuery>,
) -> Result<Json<TaskCounts>, ApiError> {
    let search = query.validate()?;
    let owner = caller.owner_filter(query.owner.as_deref().filter(|o| !o.is_empty()))?;
    Ok(Json(
        state
            .tasks
            .count_by_status(owner.as_deref(), search.as_deref())
            .await?,
    ))
}
