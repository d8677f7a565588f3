//! The write path of the write functions: a change to tasks and its event
//! as one unit of work ([`TaskChange`] for updates and deletes,
//! [`EventPublisher::create_tasks`] for creates, one statement each batch).
//! The event is stored in the outbox in the change's own transaction; once
//! that commits and its send has a slot the function answers, and the event
//! is sent afterwards, in the background, within a bound ([`sends`]). What
//! is not sent then (the sink down or slow, the function stopping) the
//! outbox relay sends later.

mod change;
mod sends;

use axum::extract::FromRef;
use cloudevents::{AttributesReader, Event};
use task_core::AppState;
use task_core::config::{ConfigError, millis, setting};
use task_core::task::{NewTask, Task};

use crate::catalogue::TaskEventType;
use crate::cloudevent::{to_cloudevent, unnumbered_created};
use crate::outbox::Outbox;
use crate::payloads::TaskEvent;
use crate::sink::EventSink;
pub use change::TaskChange;
use sends::BackgroundSends;

/// The state of a function that changes tasks: what every function has, and
/// its event publisher.
#[derive(Debug, Clone)]
pub struct WriteState {
    pub app: AppState,
    pub events: EventPublisher,
}

impl FromRef<WriteState> for AppState {
    fn from_ref(state: &WriteState) -> Self {
        state.app.clone()
    }
}

impl FromRef<WriteState> for EventPublisher {
    fn from_ref(state: &WriteState) -> Self {
        state.events.clone()
    }
}

/// Builds, stores and sends one function's events.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    function: &'static str,
    /// `None` when `K_SINK` is not set: events then wait for the relay.
    sends: Option<BackgroundSends>,
}

impl EventPublisher {
    /// `K_SINK` (optional: without it every event waits for the relay),
    /// `EVENT_SENDS_HELD` (default 1024) and
    /// `EVENT_SEND_TIMEOUT_MS` (default 5000): how long a function keeps
    /// trying to send an event after it answered. Seconds, not less: a send
    /// given up while on the wire may still be stored, and the relay then
    /// sends it once more. With 500 ms, a sink slowed by a burst of creates
    /// saw 71% of the events given up and 39% of them stored twice (each
    /// costing the broker and the audit again); with 5 s, none.
    pub fn from_env(function: &'static str) -> Result<Self, ConfigError> {
        Self::from_lookup(function, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        function: &'static str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let bound = millis(&lookup, "EVENT_SEND_TIMEOUT_MS", 5000)?;
        let held_at_most = setting(&lookup, "EVENT_SENDS_HELD", 1024)?;
        let sends = lookup("K_SINK")
            .filter(|url| !url.trim().is_empty())
            .map(|url| EventSink::from_setting("K_SINK", url, bound))
            .transpose()?
            .map(|sink| BackgroundSends::new(sink, bound, held_at_most));
        if sends.is_none() {
            tracing::warn!(
                function,
                "K_SINK is not set: events wait in the outbox for the relay"
            );
        }
        Ok(Self { function, sends })
    }

    /// Starts the unit of work of one change to tasks.
    pub async fn begin<'a>(&'a self, state: &'a AppState) -> Result<TaskChange<'a>, sqlx::Error> {
        Ok(TaskChange {
            tx: state.tasks.pool().begin().await?,
            publisher: self,
            state,
        })
    }

    /// Creates tasks, each owned by the user who created it and with its
    /// `task.created` event naming that user as its actor, in one statement
    /// (its own transaction: [`Outbox::create_tasks`]); once committed, the
    /// events are sent in the background (each once it has a send slot) and
    /// the tasks returned, in the given order. Called where it is not dropped half-way (create-task's
    /// group commit writers run as background tasks), so a create that
    /// committed always schedules its send.
    pub async fn create_tasks(
        &self,
        state: &AppState,
        creates: &[NewTaskBy<'_>],
    ) -> Result<Vec<Task>, sqlx::Error> {
        let new_tasks: Vec<(&NewTask, &str)> = creates
            .iter()
            .map(|create| (create.task, create.creator))
            .collect();
        let unnumbered: Vec<Event> = creates
            .iter()
            .map(|create| unnumbered_created(self.function, create.creator, create.traceparent))
            .collect();
        let created = Outbox::create_tasks(state.tasks.pool(), &new_tasks, &unnumbered).await?;
        let mut tasks = Vec::with_capacity(created.len());
        for created in created {
            self.committed(
                state,
                &created.task,
                TaskEventType::Created,
                created.outbox_id,
                created.event,
            )
            .await;
            tasks.push(created.task);
        }
        Ok(tasks)
    }

    /// A committed change: logged, and its event sent in the background
    /// once it has a send slot.
    async fn committed(
        &self,
        state: &AppState,
        task: &Task,
        event_type: TaskEventType,
        outbox_id: i64,
        cloudevent: Event,
    ) {
        tracing::info!(
            task_id = task.id,
            version = task.version,
            event_type = event_type.as_str(),
            event_id = cloudevent.id(),
            "task changed"
        );
        if let Some(sends) = &self.sends {
            sends
                .send_later(
                    state.tasks.pool(),
                    &state.background,
                    outbox_id,
                    task.id,
                    cloudevent,
                )
                .await;
        }
    }

    /// The CloudEvent of `event`, made by `actor`, with this function as its source.
    pub fn cloudevent(&self, event: &TaskEvent, actor: &str, traceparent: Option<&str>) -> Event {
        to_cloudevent(event, self.function, actor, traceparent)
    }
}

/// A task to create: what it holds, who creates it (its owner, and the
/// actor of its event), and the request's trace context.
#[derive(Debug, Clone, Copy)]
pub struct NewTaskBy<'a> {
    pub task: &'a NewTask,
    pub creator: &'a str,
    pub traceparent: Option<&'a str>,
}
