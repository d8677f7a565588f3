//! The write path of the write functions: a change to tasks and its event
//! as one unit of work ([`TaskChange`] for updates and deletes,
//! [`EventPublisher::create_tasks`] for creates, one statement each batch).
//! The event is stored in the outbox in the change's own transaction; once
//! that commits the function answers, and the event is sent afterwards
//! ([`EventPublisher`]'s `committed`, which both end in), in the
//! background, within a bound. What is not sent then (the sink down or slow, the function
//! stopping) the outbox relay sends later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::FromRef;
use cloudevents::{AttributesReader, Event};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use task_core::AppState;
use task_core::background::Background;
use task_core::config::{ConfigError, millis, setting};
use task_core::task::{NewTask, Task};
use tokio::sync::{Semaphore, watch};

use crate::catalogue::TaskEventType;
use crate::cloudevent::{to_cloudevent, unnumbered_created};
use crate::outbox::Outbox;
use crate::payloads::TaskEvent;
use crate::sink::EventSink;

/// How long sent events wait to be marked sent together.
const MARK_DELAY: Duration = Duration::from_millis(20);
/// Sends a function has on the wire at once. Each is a connection to the
/// sink: unbounded, creates faster than the sink takes them kept 100 to 240
/// open, and create-task grew from 9 to 26 MiB in 15 s of them (measured;
/// 13.5 MiB with this bound). The rest wait their turn within the send
/// bound, then are the relay's.
const MAX_SENDS_ON_THE_WIRE: usize = 16;

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
    sink: Option<EventSink>,
    bound: Duration,
    sends: Arc<Sends>,
    on_the_wire: Arc<Semaphore>,
    /// Sends held at once, on the wire or waiting their turn
    /// (`EVENT_SENDS_HELD`): past it an event is left to the relay at once.
    /// It was never sent, so the relay's send is its only one. Each waiting
    /// send holds its event: unbounded, 10,000 creates as fast as they came
    /// left create-task at 21 MiB and delete-task at 26.
    held: Arc<Semaphore>,
    held_at_most: usize,
    /// Whether every send slot was taken, and not half of them freed since
    /// (logged once per such stretch, not once per event).
    full: Arc<AtomicBool>,
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
            sends: Arc::default(),
            on_the_wire: Arc::new(Semaphore::new(MAX_SENDS_ON_THE_WIRE)),
            held: Arc::new(Semaphore::new(held_at_most.min(Semaphore::MAX_PERMITS))),
            held_at_most,
            full: Arc::default(),
        })
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
    /// events are sent in the background and the tasks returned, in the
    /// given order. Called where it is not dropped half-way (create-task's
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
        Ok(created
            .into_iter()
            .map(|created| {
                let (task, outbox_id) = (created.task, created.outbox_id);
                self.committed(
                    state,
                    &task,
                    TaskEventType::Created,
                    outbox_id,
                    created.event,
                );
                task
            })
            .collect())
    }

    /// A committed change: logged, and its event sent in the background.
    fn committed(
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
        self.send_later(
            state.tasks.pool(),
            &state.background,
            outbox_id,
            task.id,
            cloudevent,
        );
    }

    /// The CloudEvent of `event`, made by `actor`, with this function as its source.
    pub fn cloudevent(&self, event: &TaskEvent, actor: &str, traceparent: Option<&str>) -> Event {
        to_cloudevent(event, self.function, actor, traceparent)
    }

    /// Sends a committed event after the response, in the background, for
    /// at most the bound; then marks it sent (in a batch with others). An
    /// event of a task this function is still sending an earlier event of
    /// waits for that send first, so rapid changes leave in order (one left
    /// to the relay, by a failure or full send slots, leaves later: the
    /// history orders a task's changes by their sequence, not by arrival).
    /// On any failure the row simply stays for the relay.
    fn send_later(
        &self,
        pool: &PgPool,
        background: &Background,
        outbox_id: i64,
        task_id: i64,
        event: Event,
    ) {
        let Some(sink) = self.sink.clone() else {
            return;
        };
        let Ok(slot) = self.held.clone().try_acquire_owned() else {
            if !self.full.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    held = self.held_at_most,
                    "every send slot is taken: events wait for the relay while none is free"
                );
            }
            return;
        };
        // Logged again only once half the slots are free: at the edge, slots
        // free and fill many times a second.
        if self.full.load(Ordering::Relaxed)
            && self.held.available_permits() >= self.held_at_most / 2
            && self.full.swap(false, Ordering::Relaxed)
        {
            tracing::info!("send slots free again: events are sent at once");
        }
        let (before, done) = self.sends.start(task_id, outbox_id);
        let (bound, sends, pool, tasks, on_the_wire) = (
            self.bound,
            self.sends.clone(),
            pool.clone(),
            background.clone(),
            self.on_the_wire.clone(),
        );
        background.spawn(async move {
            if let Some(mut earlier) = before {
                // However it ended: a failed one is the relay's to send again.
                let _ = earlier.wait_for(Option::is_some).await;
            }
            let send = async {
                let _turn = on_the_wire.acquire().await;
                sink.send(&event).await
            };
            let sent = match tokio::time::timeout(bound, send).await {
                Ok(Ok(())) => true,
                Ok(Err(error)) => {
                    tracing::warn!(outbox_id, %error, "event not sent now; the relay will send it");
                    false
                }
                Err(_) => {
                    tracing::warn!(
                        outbox_id,
                        ?bound,
                        "event not sent in time; the relay will send it"
                    );
                    false
                }
            };
            let _ = done.send(Some(sent));
            sends.finish(task_id, outbox_id, sent, &pool, &tasks);
            drop(slot);
        });
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

/// One change to tasks and its event, as one unit of work: write through
/// [`TaskChange::conn`], then [`TaskChange::commit`]. Dropped without a
/// commit, nothing is written.
pub struct TaskChange<'a> {
    tx: Transaction<'static, Postgres>,
    publisher: &'a EventPublisher,
    state: &'a AppState,
}

impl TaskChange<'_> {
    /// The change's transaction, for the repository's writes.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Stores `event`, made by `actor`, in the outbox, commits it with the
    /// change, and leaves the sending to the background: the caller answers
    /// at once. Runs to the end even if the caller is dropped (its client
    /// went away): a commit that went through always schedules its send,
    /// rather than leaving the event to the relay, seconds later.
    pub async fn commit(
        self,
        event: TaskEvent,
        actor: &str,
        traceparent: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let cloudevent = self.publisher.cloudevent(&event, actor, traceparent);
        let (mut tx, publisher, state) = (self.tx, self.publisher.clone(), self.state.clone());
        let work = async move {
            let outbox_id = Outbox::enqueue(&mut tx, &cloudevent).await?;
            tx.commit().await?;
            publisher.committed(
                &state,
                event.task(),
                event.event_type(),
                outbox_id,
                cloudevent,
            );
            Ok(())
        };
        match self.state.background.spawn(work).await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// This function's sends under way (one task's one after the other), and
/// the rows it sent that are not yet marked sent. Rows are marked together: one statement (and one commit, not
/// waited for) for all the events sent within a few milliseconds, instead of
/// one commit per event. A lost mark (the function stops first) only means
/// the relay sends that event once more, and the audit records it once.
#[derive(Debug, Default)]
struct Sends {
    state: Mutex<SendState>,
    flushing: AtomicBool,
}

/// How a send ended, once it has: `Some(true)` sent, `Some(false)` not.
type Outcome = watch::Receiver<Option<bool>>;

#[derive(Debug, Default)]
struct SendState {
    /// Task -> the outbox row of its latest send under way, and its outcome.
    in_flight: HashMap<i64, (i64, Outcome)>,
    /// Sent, not yet marked.
    unmarked: Vec<i64>,
}

impl Sends {
    /// Registers the send of row `outbox_id` of task `task_id`; returns the
    /// outcome of the task's send it must wait for, if one is under way.
    fn start(
        &self,
        task_id: i64,
        outbox_id: i64,
    ) -> (Option<Outcome>, watch::Sender<Option<bool>>) {
        let mut state = self.state.lock().expect("the sends lock");
        let (done, outcome) = watch::channel(None);
        let before = state
            .in_flight
            .insert(task_id, (outbox_id, outcome))
            .map(|(_, earlier)| earlier);
        (before, done)
    }

    /// Records how a send ended; a sent row is marked soon, with others.
    fn finish(
        self: &Arc<Self>,
        task_id: i64,
        outbox_id: i64,
        sent: bool,
        pool: &PgPool,
        background: &Background,
    ) {
        {
            let mut state = self.state.lock().expect("the sends lock");
            if sent {
                state.unmarked.push(outbox_id);
            }
            if state
                .in_flight
                .get(&task_id)
                .is_some_and(|(id, _)| *id == outbox_id)
            {
                state.in_flight.remove(&task_id);
            }
        }
        if !sent || self.flushing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (sends, pool) = (self.clone(), pool.clone());
        background.spawn(async move {
            tokio::time::sleep(MARK_DELAY).await;
            sends.flushing.store(false, Ordering::Release);
            let ids = std::mem::take(&mut sends.state.lock().expect("the sends lock").unmarked);
            if ids.is_empty() {
                return;
            }
            if let Err(error) = mark_sent(&pool, &ids).await {
                tracing::warn!(events = ids.len(), %error, "sent events not marked; they will be sent again");
            }
        });
    }
}

async fn mark_sent(pool: &PgPool, ids: &[i64]) -> Result<(), sqlx::Error> {
    Outbox::mark_sent(&mut *pool.acquire().await?, ids).await
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
