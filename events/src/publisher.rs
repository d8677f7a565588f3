//! What a write function does with its events: build them, store them in the
//! outbox with the change, and after the commit try once to send them, within
//! a short bound. What is not sent then, the outbox relay sends later.

use std::time::Duration;

use cloudevents::Event;
use sqlx::PgPool;
use task_core::config::{ConfigError, setting};

use crate::cloudevent::to_cloudevent;
use crate::data::TaskEvent;
use crate::outbox::{Enqueued, Outbox};
use crate::sink::EventSink;

/// Builds and publishes one function's events.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    function: &'static str,
    /// `None` when `K_SINK` is not set: events then wait for the relay.
    sink: Option<EventSink>,
    bound: Duration,
}

impl EventPublisher {
    /// `K_SINK` (optional: without it every event waits for the relay) and
    /// `EVENT_SEND_TIMEOUT_MS` (default 500): how long a request may spend
    /// sending its event after the commit.
    pub fn from_env(function: &'static str) -> Result<Self, ConfigError> {
        Self::from_lookup(function, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        function: &'static str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let bound = Duration::from_millis(setting(&lookup, "EVENT_SEND_TIMEOUT_MS", 500)?);
        let sink = lookup("K_SINK")
            .filter(|url| !url.trim().is_empty())
            .map(|url| check_url("K_SINK", url).map(|url| EventSink::new(url, bound)))
            .transpose()?;
        if sink.is_none() {
            tracing::warn!(
                function,
                "K_SINK is not set: events wait in the outbox for the relay"
            );
        }
        Ok(Self {
            function,
            sink,
            bound,
        })
    }

    /// The CloudEvent of `event`, with this function as its source.
    pub fn cloudevent(&self, event: &TaskEvent, traceparent: Option<&str>) -> Event {
        to_cloudevent(event, self.function, traceparent)
    }

    /// Sends an event whose outbox row has committed, and marks it sent.
    /// Never fails the request: on any error, or past the bound, the row
    /// stays for the relay. An event behind an earlier unsent one of its
    /// task is left to the relay too, which sends a task's events in order.
    pub async fn publish_committed(&self, pool: &PgPool, enqueued: Enqueued, event: &Event) {
        let Some(sink) = &self.sink else {
            return;
        };
        let outbox_id = enqueued.id;
        if enqueued.behind {
            tracing::info!(
                outbox_id,
                "an earlier event of this task is unsent; the relay sends both in order"
            );
            return;
        }
        let attempt = async {
            sink.send(event).await.map_err(|err| err.to_string())?;
            let mut conn = pool.acquire().await.map_err(|err| err.to_string())?;
            Outbox::mark_sent(&mut conn, &[outbox_id])
                .await
                .map_err(|err| err.to_string())
        };
        match tokio::time::timeout(self.bound, attempt).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(outbox_id, %error, "event not sent now; the relay will send it");
            }
            Err(_) => {
                tracing::warn!(outbox_id, bound = ?self.bound, "event not sent in time; the relay will send it");
            }
        }
    }
}

/// An http(s) URL, or an error naming the setting.
pub fn check_url(name: &'static str, url: String) -> Result<String, ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url)
    } else {
        Err(ConfigError::Invalid {
            name,
            value: url,
            reason: "must be an http:// or https:// URL".into(),
        })
    }
}
