//! `GET /api/task-events`: the caller's task changes as Server-Sent Events.
//!
//! The messages, each with `id: <epoch>-<sequence>` (its position):
//! - `retry: 2000` first: how long `EventSource` waits before it reconnects;
//! - `ready`, on a fresh subscription: from here on nothing is missed, so
//!   the client loads the list now (subscribe first, then load);
//! - `task`, `{"type","task_id","version"}`: a task of the caller's changed;
//! - `reset`, for a `Last-Event-ID` (or `?since=`) this process no longer
//!   holds (it restarted, or the ring moved past it): load the list again;
//! - a `: keep-alive` comment with the current position, every
//!   `STREAM_KEEPALIVE_SECONDS`, so a client that sees none of the changes
//!   (another user's) still resumes from a position the ring holds.
//!
//! The stream ends after `STREAM_MAX_SECONDS` (or at shutdown) and the
//! client resumes from its last id.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use task_core::ApiError;
use task_core::auth::Caller;
use task_core::problem::Problem;
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::StreamState;
use crate::buffer::{BadPosition, ChangeBuffer, Position, Since};

/// How long a client waits before it reconnects (the SSE `retry` field).
pub const RETRY: Duration = Duration::from_secs(2);

/// Tells nginx not to buffer the stream (it would hold messages back).
const ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// One message of the stream, as an SSE client reads its fields (the
/// OpenAPI document's description of the stream).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // described, never built: the stream writes the fields itself
pub struct StreamMessage {
    /// `ready` (subscribed: load the list now), `task` (a task changed) or
    /// `reset` (the position is gone: load the list again).
    #[schema(pattern = "^(ready|task|reset)$")]
    event: Option<String>,
    /// The message's position, `<epoch>-<sequence>`: send it back as
    /// `Last-Event-ID` to resume after it.
    #[schema(pattern = "^[0-9]{1,19}-[0-9]{1,19}$")]
    id: Option<String>,
    /// JSON text: `{}`, or for `task` `{"type", "task_id", "version"}` (the
    /// version the change produced; a deletion's is the task's last plus one).
    data: Option<String>,
    /// How long to wait before reconnecting, in ms.
    retry: Option<u64>,
}

/// The signed-in caller's task changes (an admin's: everyone's), from now
/// or from the position of `Last-Event-ID` or `?since=`.
#[utoipa::path(
    get,
    path = "/api/task-events",
    tag = "tasks",
    security(("bearer" = [])),
    params(
        ("since" = Option<String>, Query, nullable = false, pattern = "^[0-9]{1,19}-[0-9]{1,19}$",
            description = "Resume after this position (`<epoch>-<sequence>`); the `Last-Event-ID` header, which SSE clients send, does the same and wins"),
    ),
    responses(
        (status = 200, description = "A stream of `ready`, `task` and `reset` events", content_type = "text/event-stream", body = StreamMessage),
        (status = 400, description = "The position is not `<epoch>-<sequence>`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No access token, or not a valid one", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn task_events(
    State(state): State<StreamState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let resume = resume_position(&headers, query.as_deref())?;
    let reader = Reader::new(&state, caller, resume);
    let stream = futures::stream::unfold(reader, Reader::next);
    let mut response = Sse::new(stream).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response_headers.insert(ACCEL_BUFFERING, HeaderValue::from_static("no"));
    debug_assert_eq!(response.status(), StatusCode::OK);
    Ok(response)
}

/// The position to resume after: `Last-Event-ID`, or `?since=` (either
/// must be well formed, when given; the header wins).
fn resume_position(headers: &HeaderMap, query: Option<&str>) -> Result<Option<Position>, ApiError> {
    let parse = |text: &str| {
        text.parse::<Position>()
            .map_err(|err: BadPosition| ApiError::BadRequest(err.to_string()))
    };
    let since = query
        .and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("since="))
        })
        .map(parse)
        .transpose()?;
    let header = headers
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::BadRequest("Last-Event-ID is not text".into()))
                .and_then(parse)
        })
        .transpose()?;
    Ok(header.or(since))
}

/// One open stream: where its client is, and what is queued for it.
struct Reader {
    changes: Arc<ChangeBuffer>,
    caller: Caller,
    seen: Position,
    woken: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
    keep_alive: Interval,
    ends_at: Instant,
    queued: VecDeque<Event>,
}

/// What woke a reader.
enum Wake {
    Change,
    KeepAlive,
    End,
}

impl Reader {
    fn new(state: &StreamState, caller: Caller, resume: Option<Position>) -> Self {
        // Subscribed before the position is read: no change falls between.
        let woken = state.changes.subscribe();
        let period = state.settings.keep_alive;
        let mut keep_alive = tokio::time::interval_at(Instant::now() + period, period);
        keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut reader = Self {
            changes: state.changes.clone(),
            caller,
            seen: state.changes.position(),
            woken,
            stopping: state.stop.subscribe(),
            keep_alive,
            ends_at: Instant::now() + state.settings.max_duration,
            queued: VecDeque::from([Event::default().retry(RETRY)]),
        };
        match resume {
            None => reader.queue("ready", reader.seen, "{}".into()),
            Some(position) => {
                reader.seen = position;
                reader.read();
            }
        }
        reader
    }

    fn queue(&mut self, kind: &str, at: Position, data: String) {
        self.queued
            .push_back(Event::default().event(kind).id(at.to_string()).data(data));
    }

    /// Queues what came after `seen` that the caller may see.
    fn read(&mut self) {
        match self.changes.since(self.seen) {
            Since::Changes(changes, current) => {
                for (at, change) in changes {
                    if self.caller.admin || change.owner == self.caller.sub {
                        let data =
                            serde_json::to_string(&change).expect("a change always serializes");
                        self.queue("task", at, data);
                    }
                }
                self.seen = current;
            }
            Since::Reset(current) => {
                self.queue("reset", current, "{}".into());
                self.seen = current;
            }
        }
    }

    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Some((Ok(event), self));
            }
            let wake = tokio::select! {
                biased;
                _ = self.stopping.wait_for(|stopping| *stopping) => Wake::End,
                _ = tokio::time::sleep_until(self.ends_at) => Wake::End,
                changed = self.woken.changed() => match changed {
                    Ok(()) => Wake::Change,
                    Err(_) => Wake::End,
                },
                _ = self.keep_alive.tick() => Wake::KeepAlive,
            };
            match wake {
                Wake::Change => self.read(),
                Wake::KeepAlive => self.queued.push_back(
                    Event::default()
                        .comment("keep-alive")
                        .id(self.seen.to_string()),
                ),
                Wake::End => return None,
            }
        }
    }
}
