//! `task-stream`: the second subscriber of the task events (its own Trigger,
//! `knative/base/eventing/trigger-task-stream.yaml`). It keeps the recent
//! changes in a ring (`buffer.rs`) and streams each signed-in user theirs
//! (an admin: all) as Server-Sent Events at `GET /api/task-events`
//! (`stream.rs`), so every open page shows a change made elsewhere.
//!
//! Where its parts live: the deliveries in `receive.rs` (read with
//! `events/src/delivery.rs`, as the audit function reads them); the manifest
//! in `knative/base/functions/task-stream.yaml` (why one replica, and the
//! timeouts' arithmetic); the web app's reader in `web/src/live/`; the
//! tests in `tests/stream.rs` (and, in a browser, `web/e2e/updates.spec.mjs`). It uses
//! no SQL: a page reads what a change did from the API, so it shows what the
//! database holds whatever an event claims.

pub mod buffer;
pub mod receive;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use task_core::config::{ConfigError, setting};
use task_core::{AppState, FunctionRoutes};
use tokio::sync::watch;

use crate::buffer::ChangeBuffer;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "task-stream";

/// How the streams behave, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// `STREAM_MAX_SECONDS`: a stream ends after this long and the client
    /// resumes (default 240: under Knative's default `timeoutSeconds`, 300,
    /// so no platform cuts a stream mid-message).
    pub max_duration: Duration,
    /// `STREAM_KEEPALIVE_SECONDS`: a comment this often keeps idle proxies
    /// from closing the stream (default 15; nginx's read timeout is 60 s).
    pub keep_alive: Duration,
    /// `STREAM_BUFFER_CHANGES`: how many recent changes a resuming client
    /// can catch up on (default 10,000, about 1 MB).
    pub buffer_changes: usize,
}

impl StreamSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let seconds = |name, default| {
            setting(&lookup, name, default).and_then(|value: u64| {
                if value == 0 {
                    Err(ConfigError::Invalid {
                        name,
                        value: "0".into(),
                        reason: "must be at least 1".into(),
                    })
                } else {
                    Ok(Duration::from_secs(value))
                }
            })
        };
        Ok(Self {
            max_duration: seconds("STREAM_MAX_SECONDS", 240)?,
            keep_alive: seconds("STREAM_KEEPALIVE_SECONDS", 15)?,
            buffer_changes: setting(&lookup, "STREAM_BUFFER_CHANGES", 10_000)?,
        })
    }
}

/// What the handlers share: the ring, the settings, and whether the
/// function is shutting down (open streams then end at once, so the
/// graceful shutdown does not wait minutes for them).
#[derive(Debug, Clone)]
pub struct StreamState {
    app: AppState,
    pub changes: Arc<ChangeBuffer>,
    pub settings: StreamSettings,
    /// Turns true when the process is told to stop.
    pub stop: Arc<watch::Sender<bool>>,
}

impl FromRef<StreamState> for AppState {
    fn from_ref(state: &StreamState) -> Self {
        state.app.clone()
    }
}

/// The routes, with a ring of `settings.buffer_changes` and streams that
/// end when the process is told to stop.
pub fn router(settings: StreamSettings) -> FunctionRoutes {
    let stop = Arc::new(watch::channel(false).0);
    let on_terminate = stop.clone();
    tokio::spawn(async move {
        task_core::serve::terminated().await;
        on_terminate.send_replace(true);
    });
    router_with(settings, stop)
}

/// [`router`], its streams ending when `stop` turns true (tests).
pub fn router_with(settings: StreamSettings, stop: Arc<watch::Sender<bool>>) -> FunctionRoutes {
    let changes = Arc::new(ChangeBuffer::new(settings.buffer_changes));
    FunctionRoutes::with_state(
        Router::new()
            .route("/", post(receive::receive_event))
            .layer(DefaultBodyLimit::max(task_events::MAX_EVENT_BYTES))
            .route("/api/task-events", get(stream::task_events)),
        move |app| StreamState {
            app,
            changes,
            settings,
            stop,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_below_the_platform_timeout_and_refuse_zero() {
        let defaults = StreamSettings::from_lookup(|_| None).unwrap();
        assert_eq!(defaults.max_duration, Duration::from_secs(240));
        assert_eq!(defaults.keep_alive, Duration::from_secs(15));
        assert_eq!(defaults.buffer_changes, 10_000);
        let zero = StreamSettings::from_lookup(|name| {
            (name == "STREAM_KEEPALIVE_SECONDS").then(|| "0".to_string())
        });
        assert!(zero.is_err());
    }
}
