//! A task event as a Trigger delivers it over HTTP (or as a tester posts it):
//! read and checked in one place for every subscriber (the audit function,
//! `task-stream`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use cloudevents::Event;
use cloudevents::binding::http::to_event;
use task_core::ApiError;

use crate::cloudevent::{InvalidTaskEvent, decode_header_values, parse_task_event};
use crate::payloads::TaskEvent;

/// A task event as delivered over HTTP, checked.
#[derive(Debug)]
pub struct Delivery {
    pub event: Event,
    pub task_event: TaskEvent,
    pub task_id: i64,
}

/// Why a delivery is not a task event (the subscriber answers 400, and the
/// Trigger dead-letters it).
#[derive(Debug, thiserror::Error)]
pub enum InvalidDelivery {
    #[error("not a CloudEvent: {0}")]
    NotACloudEvent(String),
    #[error(transparent)]
    NotATaskEvent(#[from] InvalidTaskEvent),
}

/// Reads a CloudEvent in structured mode (`application/cloudevents+json`) or
/// binary mode (`ce-` headers, their values percent-decoded) and checks that
/// it is a task event. Any input gives a value or an error, never a panic
/// (see the audit function's fuzz target).
pub fn read_delivery(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, InvalidDelivery> {
    let structured = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/cloudevents+json"));
    let mut event = to_event(headers, body.to_vec())
        .map_err(|err| InvalidDelivery::NotACloudEvent(err.to_string()))?;
    if !structured {
        decode_header_values(&mut event)?;
    }
    let (task_event, task_id) = parse_task_event(&event)?;
    Ok(Delivery {
        event,
        task_event,
        task_id,
    })
}

/// A subscriber's handler takes the delivery as an argument: 413 past the
/// route's body limit (`MAX_EVENT_BYTES`), 400 for anything that is not a
/// task event.
impl<S: Send + Sync> FromRequest<S> for Delivery {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let headers = request.headers().clone();
        let body =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
                        limit: crate::MAX_EVENT_BYTES,
                    },
                    _ => ApiError::BadRequest(rejection.body_text()),
                })?;
        read_delivery(&headers, &body).map_err(|err| ApiError::BadRequest(err.to_string()))
    }
}
