//! The stream itself, in the tab that holds it: `GET /api/task-events` read
//! with fetch (EventSource can neither send the access token as a header nor
//! retry a 503), and kept open: reopened soon after the server ends it,
//! after failures with exponential backoff, always resuming from the last
//! event id.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_net::http::Request;
use gloo_timers::callback::Timeout;
use gloo_timers::future::TimeoutFuture;
use js_sys::Uint8Array;
use serde::Deserialize;
use task_events::TaskEventType;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStreamDefaultReader, ReadableStreamReadResult};

use super::LiveMessage;
use super::sse::{Event, Parser};
use crate::api::ApiFailure;

const URL: &str = "/api/task-events";
/// The wait after a first failure (at random up to it: "full jitter", so
/// that browsers cut off together do not all return together); it doubles
/// with every failure in a row, up to the last.
const BACKOFF_FIRST_MS: f64 = 1_000.0;
const BACKOFF_MAX_MS: f64 = 15_000.0;
/// The server ends every stream after a few minutes: reopen it soon, at
/// random within this.
const REOPEN_WITHIN_MS: f64 = 500.0;
/// A reopening that takes longer than this (an edge router waiting for the
/// function to start) stops counting as live.
const STALE_AFTER_MS: u32 = 2_000;

/// What the stream tells the tab that holds it.
pub enum Report {
    /// Connected, or not.
    Live(bool),
    Message(LiveMessage),
    /// Only the last event id moved (a keep-alive).
    Moved,
}

/// What the stream and the tab holding it share.
#[derive(Default)]
pub struct Handle {
    /// Where to resume: the last event id heard (empty: none yet).
    pub last_id: RefCell<String>,
    stopped: Cell<bool>,
    /// Aborts the request under way, or the body being read.
    abort: RefCell<Option<AbortController>>,
}

impl Handle {
    pub fn stop(&self) {
        self.stopped.set(true);
        if let Some(controller) = self.abort.take() {
            controller.abort();
        }
    }

    pub fn stopped(&self) -> bool {
        self.stopped.get()
    }
}

/// How a connection ended.
enum End {
    /// The server ended the stream after speaking.
    Clean,
    Unauthorized,
    /// Refused, unreachable, not a stream, cut off, or closed unspoken.
    Failed,
}

/// Keeps the stream open until `handle` is stopped or the session ends.
pub async fn run(handle: Rc<Handle>, report: Rc<dyn Fn(Report)>) {
    let mut failures = 0;
    let mut refreshed = false;
    loop {
        let (end, spoke) = connect(&handle, &report).await;
        if handle.stopped() {
            return;
        }
        if spoke {
            failures = 0;
        }
        let wait = match end {
            End::Clean => REOPEN_WITHIN_MS,
            // Once: a fresh token, then at once again; refused still (or no
            // fresh token), the session is over, as for any API call.
            End::Unauthorized => {
                if refreshed || !crate::session::refresh().await {
                    if !handle.stopped() {
                        crate::session::ended(Some(ApiFailure::SignedOut.message()));
                    }
                    return;
                }
                refreshed = true;
                0.0
            }
            End::Failed => {
                report(Report::Live(false));
                let wait = BACKOFF_FIRST_MS * 2f64.powi(failures);
                failures = (failures + 1).min(8);
                wait.min(BACKOFF_MAX_MS)
            }
        };
        if !matches!(end, End::Unauthorized) {
            refreshed = false;
        }
        TimeoutFuture::new((js_sys::Math::random() * wait) as u32).await;
        if handle.stopped() {
            return;
        }
    }
}

/// One connection, read to its end; also whether the server spoke on it.
async fn connect(handle: &Handle, report: &Rc<dyn Fn(Report)>) -> (End, bool) {
    let last_id = handle.last_id.borrow().clone();
    let mut request = Request::get(URL).header("accept", "text/event-stream");
    if let Some(token) = crate::session::access_token() {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    if !last_id.is_empty() {
        request = request.header("last-event-id", &last_id);
    }
    let controller = AbortController::new().ok();
    let request = request.abort_signal(controller.as_ref().map(|c| c.signal()).as_ref());
    *handle.abort.borrow_mut() = controller;

    let stale = {
        let report = report.clone();
        Timeout::new(STALE_AFTER_MS, move || report(Report::Live(false)))
    };
    let response = request.send().await;
    drop(stale);
    let Ok(response) = response else {
        return (End::Failed, false);
    };
    match response.status() {
        200 => {}
        401 => return (End::Unauthorized, false),
        _ => return (End::Failed, false),
    }
    let is_stream = response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let Some(body) = response.body().filter(|_| is_stream) else {
        return (End::Failed, false);
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    report(Report::Live(true));

    let mut parser = Parser::resuming(last_id);
    let mut spoke = false;
    loop {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            return (End::Failed, spoke);
        };
        let chunk: ReadableStreamReadResult = chunk.unchecked_into();
        if chunk.get_done().unwrap_or(true) {
            return (if spoke { End::Clean } else { End::Failed }, spoke);
        }
        let bytes = Uint8Array::new(&chunk.get_value()).to_vec();
        spoke |= !bytes.is_empty();
        for event in parser.feed(&bytes) {
            *handle.last_id.borrow_mut() = event.id.clone();
            if let Some(message) = message(&event) {
                report(Report::Message(message));
            }
        }
        if *handle.last_id.borrow() != parser.last_event_id() {
            *handle.last_id.borrow_mut() = parser.last_event_id().to_string();
            report(Report::Moved);
        }
    }
}

/// What an event means here; `None` for one this app does not know.
fn message(event: &Event) -> Option<LiveMessage> {
    #[derive(Deserialize)]
    struct Change {
        /// Checked only: another type is no task change.
        #[serde(rename = "type")]
        _type: TaskEventType,
        task_id: i64,
        version: i32,
    }
    match event.name.as_str() {
        "ready" | "reset" => Some(LiveMessage::Reload),
        "task" => serde_json::from_str::<Change>(&event.data)
            .ok()
            .map(|change| LiveMessage::Changed {
                task_id: change.task_id,
                version: change.version,
            }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str) -> Event {
        Event {
            name: name.into(),
            data: data.into(),
            id: "1-1".into(),
        }
    }

    #[test]
    fn ready_and_reset_reload_and_task_events_name_a_change() {
        assert_eq!(message(&event("ready", "{}")), Some(LiveMessage::Reload));
        assert_eq!(message(&event("reset", "{}")), Some(LiveMessage::Reload));
        for kind in ["task.created", "task.updated", "task.deleted"] {
            let data = format!(r#"{{"type":"{kind}","task_id":123,"version":4}}"#);
            assert_eq!(
                message(&event("task", &data)),
                Some(LiveMessage::Changed {
                    task_id: 123,
                    version: 4
                })
            );
        }
    }

    #[test]
    fn anything_else_is_ignored() {
        let other_type = r#"{"type":"task.archived","task_id":1,"version":2}"#;
        assert_eq!(message(&event("task", other_type)), None);
        assert_eq!(message(&event("task", "not json")), None);
        assert_eq!(message(&event("task", r#"{"type":"task.created"}"#)), None);
        assert_eq!(message(&event("message", "{}")), None);
    }
}
