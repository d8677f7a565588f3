use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use task_core::auth::Admin;
use task_core::extract::QueryString;
use task_core::list::{OwnerCounts, OwnersQuery};
use task_core::problem::Problem;
use task_core::{ApiError, AppState};

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
    let mut owners = state
        .tasks
        .owners(page.after.as_deref(), page.limit + 1)
        .await?;
    let mut headers = HeaderMap::new();
    if owners.len() as i64 > page.limit {
        owners.truncate(page.limit as usize);
        if let Some((last, _)) = owners.last() {
            let link = format!("</api/task-owners?{}>; rel=\"next\"", query.next_page(last));
            if let Ok(link) = HeaderValue::from_str(&link) {
                headers.insert(header::LINK, link);
            }
        }
    }
    let owners: Vec<OwnerCounts> = owners
        .into_iter()
        .map(|(owner, counts)| OwnerCounts { owner, counts })
        .collect();
    Ok((headers, Json(owners)).into_response())
}
