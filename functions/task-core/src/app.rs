//! The Router every function serves: its own routes plus what they all share.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, Request};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sqlx::PgPool;
use tower_http::trace::TraceLayer;

use crate::audit_log::AuditLog;
use crate::auth::Authenticator;
use crate::background::Background;
use crate::error::ApiError;
use crate::health::health;
use crate::repository::TaskRepository;

/// Request bodies above this are refused with 413. Every valid task fits
/// however its client escapes JSON: a character outside the Basic
/// Multilingual Plane written as a `\uXXXX\uXXXX` surrogate pair takes 12
/// bytes (Python's `json.dumps` does this by default), so a 255-character
/// title and a 10,000-character description take 123,060 bytes, plus the
/// names, the status and some whitespace.
pub const BODY_LIMIT_BYTES: usize = 128 * 1024;

/// Query strings above this are refused with 414. The longest valid one (a
/// status, a 255-character search of 4-byte characters percent-encoded, a
/// limit and a cursor) is about 3.1 KB.
pub const QUERY_LIMIT_BYTES: usize = 4 * 1024;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// This function's name, as in the route table.
    pub function: &'static str,
    pub tasks: TaskRepository,
    pub audit_log: AuditLog,
    /// What runs after a response (event sends); drained on shutdown.
    pub background: Background,
    /// Checks callers' access tokens ([`crate::auth::Caller`]); `None` in a
    /// function that serves no signed-in route.
    pub auth: Option<Authenticator>,
}

impl AppState {
    pub fn new(function: &'static str, pool: PgPool) -> Self {
        Self {
            function,
            tasks: TaskRepository::new(pool.clone()),
            audit_log: AuditLog::new(pool),
            background: Background::default(),
            auth: None,
        }
    }

    /// Checks callers' tokens with `auth`.
    pub fn with_auth(self, auth: Authenticator) -> Self {
        Self {
            auth: Some(auth),
            ..self
        }
    }
}

/// A function's own routes with the state they need, made from [`AppState`]
/// when the function starts. A handler can only extract state its function's
/// state type provides ([`FromRef`]): a missing dependency does not compile.
pub struct FunctionRoutes(Box<dyn FnOnce(AppState) -> Router + Send>);

impl FunctionRoutes {
    /// Routes whose state is `AppState` plus what `with` adds to it (an
    /// event publisher, settings of the function's own).
    pub fn with_state<S>(
        routes: Router<S>,
        with: impl FnOnce(AppState) -> S + Send + 'static,
    ) -> Self
    where
        S: Clone + Send + Sync + 'static,
        AppState: FromRef<S>,
    {
        Self(Box::new(move |state| routes.with_state(with(state))))
    }
}

/// Routes that need nothing but `AppState`.
impl From<Router<AppState>> for FunctionRoutes {
    fn from(routes: Router<AppState>) -> Self {
        Self(Box::new(move |state| routes.with_state(state)))
    }
}

/// Adds `/health`, problem+json for unknown routes and methods, the body limit
/// and request tracing to a function's own `routes`.
pub fn build_app(routes: impl Into<FunctionRoutes>, state: AppState) -> Router {
    let function = state.function;
    let own = (routes.into().0)(state.clone());
    Router::new()
        .route("/health", get(health))
        // Liveness: the process answers. Not the database: an outage must not
        // make Kubernetes restart every pod (readiness, on /health, covers it).
        .route("/live", get(|| async { "ok" }))
        .with_state(state)
        .merge(own)
        .fallback(|request: Request| async move {
            ApiError::RouteNotFound(request.uri().path().to_string())
        })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::MethodNotAllowed {
                method: method.to_string(),
            }
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(refuse_long_queries))
        .layer(
            TraceLayer::new_for_http().make_span_with(move |request: &Request| {
                tracing::info_span!(
                    "request",
                    function,
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            }),
        )
}

/// 414 (problem+json) for a query string no valid request has.
async fn refuse_long_queries(request: Request, next: Next) -> Response {
    if request
        .uri()
        .query()
        .is_some_and(|q| q.len() > QUERY_LIMIT_BYTES)
    {
        return ApiError::QueryTooLong {
            limit: QUERY_LIMIT_BYTES,
        }
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{StatusCode, header};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    /// What every function answers before its first query: no routes of its
    /// own, and a pool that would connect only when used (to nothing).
    fn app() -> Router {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .expect("a well-formed URL");
        build_app(Router::<AppState>::new(), AppState::new("test", pool))
    }

    async fn answer(method: &str, uri: &str) -> (StatusCode, String, Vec<u8>) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("a valid request");
        let response = app().oneshot(request).await.expect("infallible");
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, content_type, body.to_vec())
    }

    async fn assert_problem(method: &str, uri: &str, status: u16) {
        let (answered, content_type, body) = answer(method, uri).await;
        assert_eq!(answered.as_u16(), status, "{method} {uri}");
        assert_eq!(content_type, crate::problem::PROBLEM_JSON, "{method} {uri}");
        let problem: Value = serde_json::from_slice(&body).expect("problem+json");
        assert_eq!(problem["status"], status, "{problem}");
    }

    #[tokio::test]
    async fn the_shared_edges_answer_problem_json_without_the_database() {
        assert_problem("GET", "/api/nothing-here", 404).await;
        assert_problem("DELETE", "/health", 405).await;
        let long = "x".repeat(QUERY_LIMIT_BYTES + 1);
        assert_problem("GET", &format!("/api/tasks?q={long}"), 414).await;
        // Liveness does not touch the database.
        let (status, _, body) = answer("GET", "/live").await;
        assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok"[..]));
    }
}
