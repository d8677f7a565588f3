//! Every error a function can answer with, and its one mapping to HTTP.

use std::panic::Location;

use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::problem::{FieldError, PROBLEM_JSON, Problem, ProblemType};
use crate::task::Task;

/// An error answered as `application/problem+json`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, wrong types, unknown fields, a bad id.
    #[error("{0}")]
    BadRequest(String),
    /// No access token (RFC 6750: no error code, only the scheme).
    #[error("this needs an access token: sign in, then send it as Authorization: Bearer")]
    Unauthenticated,
    /// An access token that is malformed, expired, or not for this API.
    #[error("the access token is not valid: {0}")]
    InvalidToken(crate::auth::InvalidToken),
    /// A valid token without the role the request needs.
    #[error("{0}")]
    InsufficientScope(&'static str),
    /// The function serves signed-in routes but was started without the
    /// token checks' settings (a deployment mistake; see `AuthConfig`).
    #[error("sign-in is not configured for this function")]
    SignInNotConfigured,
    #[error("request validation failed")]
    Validation(Vec<FieldError>),
    #[error("task {0} does not exist")]
    TaskNotFound(i64),
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("method {method} is not allowed on this path")]
    MethodNotAllowed { method: String },
    /// If-Match named a version that is not the current one.
    #[error("task {} changed since you read it; it is now at version {}", .0.id, .0.version)]
    PreconditionFailed(Box<Task>),
    #[error("the request body must be at most {} KiB", .limit / 1024)]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the query string must be at most {limit} bytes")]
    QueryTooLong { limit: usize },
    /// The database cannot be reached (or is overloaded); retrying later can succeed.
    #[error("the database is unavailable; retry shortly")]
    Unavailable {
        #[source]
        source: sqlx::Error,
        /// Where the failing query was awaited (logged, never answered).
        at: &'static Location<'static>,
    },
    /// The database has not been migrated to what this build needs.
    #[error(
        "the database schema is at version {found}, this build needs {expected}: apply the migrations"
    )]
    SchemaOutdated { found: i64, expected: i64 },
    /// Anything else: a bug or an unexpected database error.
    #[error("internal error")]
    Internal {
        #[source]
        source: sqlx::Error,
        /// Where the failing query was awaited (logged, never answered).
        at: &'static Location<'static>,
    },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.problem_type().status())
            .expect("every problem type has a valid status")
    }

    /// The kind of problem: one per kind of error.
    fn problem_type(&self) -> ProblemType {
        match self {
            Self::BadRequest(_) => ProblemType::BadRequest,
            Self::Unauthenticated => ProblemType::Unauthenticated,
            Self::InvalidToken(_) => ProblemType::InvalidToken,
            Self::InsufficientScope(_) => ProblemType::InsufficientScope,
            Self::Validation(_) => ProblemType::ValidationFailed,
            Self::TaskNotFound(_) => ProblemType::TaskNotFound,
            Self::RouteNotFound(_) => ProblemType::RouteNotFound,
            Self::MethodNotAllowed { .. } => ProblemType::MethodNotAllowed,
            Self::PreconditionFailed(_) => ProblemType::StaleVersion,
            Self::PayloadTooLarge { .. } => ProblemType::PayloadTooLarge,
            Self::UnsupportedMediaType => ProblemType::UnsupportedMediaType,
            Self::QueryTooLong { .. } => ProblemType::UriTooLong,
            Self::Unavailable { .. } | Self::SchemaOutdated { .. } | Self::SignInNotConfigured => {
                ProblemType::Unavailable
            }
            Self::Internal { .. } => ProblemType::Internal,
        }
    }

    pub fn to_problem(&self) -> Problem {
        let kind = self.problem_type();
        let detail = match self {
            Self::Validation(errors) => errors
                .iter()
                .map(|e| format!("{} {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        Problem {
            type_uri: kind.uri().to_string(),
            title: kind.title().to_string(),
            status: kind.status(),
            detail,
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            current: match self {
                Self::PreconditionFailed(task) => Some((**task).clone()),
                _ => None,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal { source, at } => {
                tracing::error!(error = %source, %at, "request failed")
            }
            Self::Unavailable { source, at } => {
                tracing::warn!(error = %source, %at, "database unavailable")
            }
            _ => {}
        }
        let status = self.status();
        let body = serde_json::to_vec(&self.to_problem()).expect("a problem always serializes");
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            Self::PreconditionFailed(task) => {
                if let Ok(etag) = HeaderValue::from_str(&task.etag()) {
                    headers.insert(header::ETAG, etag);
                }
            }
            Self::Unavailable { .. } | Self::SchemaOutdated { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Unauthenticated | Self::InvalidToken(_) | Self::InsufficientScope(_) => {
                headers.insert(header::WWW_AUTHENTICATE, self.challenge());
            }
            _ => {}
        }
        response
    }
}

impl ApiError {
    /// The `WWW-Authenticate` challenge of a 401 or 403 (RFC 6750, 3).
    fn challenge(&self) -> HeaderValue {
        let (error, description) = match self {
            Self::InvalidToken(reason) => ("invalid_token", reason.0.as_str()),
            Self::InsufficientScope(reason) => ("insufficient_scope", *reason),
            _ => return HeaderValue::from_static(r#"Bearer realm="task-api""#),
        };
        // A quoted-string: no quotes or backslashes inside, printable ASCII.
        let description: String = description
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control() && !matches!(c, '"' | '\\'))
            .collect();
        HeaderValue::from_str(&format!(
            r#"Bearer realm="task-api", error="{error}", error_description="{description}""#
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(r#"Bearer realm="task-api""#))
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Validation(errors)
    }
}

/// `?` on a query's result names the line it stands on: the log says which
/// step of which handler failed, not only what the database said.
impl From<sqlx::Error> for ApiError {
    #[track_caller]
    fn from(source: sqlx::Error) -> Self {
        let unavailable = is_unavailable(&source);
        Self::from_source(source, unavailable, Location::caller())
    }
}

impl ApiError {
    /// The answer to each of `requests` that one failed statement served
    /// (creates written together): the first carries `source` itself, the
    /// others the same answer with its text (a `sqlx::Error` is not Clone).
    #[track_caller]
    pub fn for_each_of(requests: usize, source: sqlx::Error) -> Vec<ApiError> {
        let at = Location::caller();
        let unavailable = is_unavailable(&source);
        let text = source.to_string();
        let mut answers = vec![Self::from_source(source, unavailable, at)];
        answers.extend((1..requests).map(|_| {
            let copy = sqlx::Error::Io(std::io::Error::other(text.clone()));
            Self::from_source(copy, unavailable, at)
        }));
        answers.truncate(requests);
        answers
    }

    fn from_source(source: sqlx::Error, unavailable: bool, at: &'static Location<'static>) -> Self {
        if unavailable {
            Self::Unavailable { source, at }
        } else {
            Self::Internal { source, at }
        }
    }
}

/// Errors that go away by themselves: no connection, a restarting server, a
/// full pool, or a transaction the server asks us to retry.
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception, 40: transaction rollback (serialization,
            // deadlock), 53: insufficient resources, 57: operator intervention
            // (shutdown, restart), 58: system error.
            ["08", "40", "53", "57", "58"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        _ => false,
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            JsonRejection::BytesRejection(ref inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Self::PayloadTooLarge {
                    limit: crate::app::BODY_LIMIT_BYTES,
                }
            }
            // Syntax errors and wrong types or unknown fields alike are malformed
            // requests (400); 422 is kept for well-formed values that break a rule.
            other => Self::BadRequest(other.body_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problems_list_every_field() {
        let problem = ApiError::Validation(vec![
            FieldError::new("title", "must not be blank"),
            FieldError::new("status", "must be one of pending, in_progress, complete"),
        ])
        .to_problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors.len(), 2);
        assert!(problem.detail.contains("title must not be blank"));
    }

    #[test]
    fn a_failed_query_names_the_line_that_awaited_it() {
        fn step() -> Result<(), ApiError> {
            Err(sqlx::Error::RowNotFound)?;
            Ok(())
        }
        let line = line!() - 3;
        match step() {
            Err(ApiError::Internal { at, .. }) => {
                assert_eq!((at.file(), at.line()), (file!(), line));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failure_shared_by_several_requests_answers_each_alike() {
        let answers = ApiError::for_each_of(3, sqlx::Error::PoolTimedOut);
        assert_eq!(answers.len(), 3);
        assert!(
            answers
                .iter()
                .all(|answer| answer.status() == StatusCode::SERVICE_UNAVAILABLE)
        );
        let answers = ApiError::for_each_of(2, sqlx::Error::RowNotFound);
        assert!(
            answers
                .iter()
                .all(|answer| answer.status() == StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert!(ApiError::for_each_of(0, sqlx::Error::RowNotFound).is_empty());
    }

    #[test]
    fn pool_timeouts_are_unavailable_not_internal() {
        assert_eq!(
            ApiError::from(sqlx::Error::PoolTimedOut).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::from(sqlx::Error::RowNotFound).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
