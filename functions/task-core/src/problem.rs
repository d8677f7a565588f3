//! RFC 9457 problem details: the body of every error the API returns.

use serde::{Deserialize, Serialize};

use crate::task::Task;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The kinds of problem the API, the edge router and the broker answer: one
/// type URI each, stable for clients to match on, with its status and title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    BadRequest,
    Unauthenticated,
    InvalidToken,
    InsufficientScope,
    ValidationFailed,
    TaskNotFound,
    RouteNotFound,
    MethodNotAllowed,
    StaleVersion,
    PayloadTooLarge,
    UnsupportedMediaType,
    UriTooLong,
    Unavailable,
    Internal,
}

impl ProblemType {
    /// The problem's `type`.
    pub const fn uri(self) -> &'static str {
        match self {
            Self::BadRequest => "urn:task-app:problem:bad-request",
            Self::Unauthenticated => "urn:task-app:problem:unauthenticated",
            Self::InvalidToken => "urn:task-app:problem:invalid-token",
            Self::InsufficientScope => "urn:task-app:problem:insufficient-scope",
            Self::ValidationFailed => "urn:task-app:problem:validation-failed",
            Self::TaskNotFound => "urn:task-app:problem:task-not-found",
            Self::RouteNotFound => "urn:task-app:problem:route-not-found",
            Self::MethodNotAllowed => "urn:task-app:problem:method-not-allowed",
            Self::StaleVersion => "urn:task-app:problem:stale-version",
            Self::PayloadTooLarge => "urn:task-app:problem:payload-too-large",
            Self::UnsupportedMediaType => "urn:task-app:problem:unsupported-media-type",
            Self::UriTooLong => "urn:task-app:problem:uri-too-long",
            Self::Unavailable => "urn:task-app:problem:unavailable",
            Self::Internal => "urn:task-app:problem:internal",
        }
    }

    /// The HTTP status it is answered with.
    pub const fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthenticated | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ValidationFailed => 422,
            Self::TaskNotFound | Self::RouteNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::StaleVersion => 412,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::UriTooLong => 414,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    /// The problem's `title`: the status's reason phrase.
    pub const fn title(self) -> &'static str {
        match self.status() {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            412 => "Precondition Failed",
            413 => "Payload Too Large",
            414 => "URI Too Long",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Entity",
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }
}

/// One invalid field of a request, named so a client can show it beside the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An `application/problem+json` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every invalid field (422 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The task as it is now (412 only), so a client can show what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Task>,
}
