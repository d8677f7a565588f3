use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use task_core::auth::Admin;
use task_core::extract::QueryString;
use task_core::list::{OwnerCounts, OwnersQuery};
use task_core::problem::Problem;
use task_core::{ApiError, AppState, response};

/// Every user who has tasks, with the counts of each status (admins only),
/// in `owner` order, a page at a time: when more remain, `Link: <...>;
/// rel="next"` points at the next page. From the counters: constant work
/// per user listed.
#[utoipa::path(
    get,
    path = "/api/task-owners",
    tag = "tasks",
    security(("bearer" = [])),
    params(OwnersQuery),
    responses(
        (status = 200, description = "One page of owners and their counts", body = [OwnerCounts],
            headers(("Link" = String, description = "`<url>; rel=\"next\"` when more owners remain"))),
        (status = 400, description = "Malformed query string", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token, or not a valid one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn task_owners(
    State(state): State<AppState>,
    _admin: Admin,
    QueryString(query): QueryString<OwnersQuery>,
) -> Result<Response, ApiError> {
    let page = query.validate()?;
    // One more than the page tells whether another page follows.
    let owners: Vec<OwnerCounts> = state
        .tasks
        .owners(page.after.as_deref(), page.limit + 1)
        .await?
        .into_iter()
        .map(|(owner, counts)| OwnerCounts { owner, counts })
        .collect();
    let (headers, owners) = response::page(owners, page.limit, |last| {
        format!("/api/task-owners?{}", query.next_page(&last.owner))
    });
    Ok((headers, Json(owners)).into_response())
}
