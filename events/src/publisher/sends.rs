//! Sending committed events in the background: each within a bound, a
//! task's events one after the other, at most [`MAX_SENDS_ON_THE_WIRE`] on
//! the wire and `EVENT_SENDS_HELD` held at once, and the sent rows marked
//! in batches. What is not sent stays in the outbox for the relay.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudevents::Event;
use sqlx::PgPool;
use task_core::background::Background;
use tokio::sync::{Semaphore, watch};

use crate::outbox::Outbox;
use crate::sink::EventSink;

/// How long sent events wait to be marked sent together.
const MARK_DELAY: Duration = Duration::from_millis(20);
/// Sends a function has on the wire at once. Each is a connection to the
/// sink: unbounded, creates faster than the sink takes them kept 100 to 240
/// open, and create-task grew from 9 to 26 MiB in 15 s of them (measured;
/// 13.5 MiB with this bound). The rest wait their turn within the send
/// bound, then are the relay's.
const MAX_SENDS_ON_THE_WIRE: usize = 16;
/// How long a change's answer waits for a send slot when every one is
/// taken. Leaving the event to the relay at once instead let a burst of
/// creates outrun the event path: 10 s at 32 connections left 87% of the
/// events to the relay, and the audit log caught up 69 s after the last
/// create. Waiting, the write functions go at the event path's pace, as the
/// seed's do. A sink that stops taking events makes a wait run out: from
/// then until half the slots are free again, events go to the relay at
/// once, so an answer waits this long at most once per such stretch.
const SLOT_WAIT: Duration = Duration::from_millis(500);

/// One function's background sends to its sink.
#[derive(Debug, Clone)]
pub(super) struct BackgroundSends {
    sink: EventSink,
    bound: Duration,
    sends: Arc<Sends>,
    on_the_wire: Arc<Semaphore>,
    /// Sends held at once, on the wire or waiting their turn
    /// (`EVENT_SENDS_HELD`): past it an event waits for a slot (at most
    /// [`SLOT_WAIT`]), then is left to the relay. It was never sent, so the
    /// relay's send is its only one. Each waiting
    /// send holds its event: unbounded, 10,000 creates as fast as they came
    /// left create-task at 21 MiB and delete-task at 26. What is held when
    /// a burst ends is what the audit log still has to catch up on: 256
    /// instead of 1,024 cut that from 1.3–1.8 s to 0.3–0.8 s after 10 s of
    /// creates at 32 connections, but creates then waited for the event
    /// path sooner: 246 creates/s at 32 connections against 526 in one
    /// `seed_vs_project.py` run each (2 cores), so the default stays 1,024.
    held: Arc<Semaphore>,
    held_at_most: usize,
    /// Whether a wait for a slot ran out, and not half of the slots were
    /// freed since: events then go to the relay without waiting (and it is
    /// logged once per such stretch, not once per event).
    full: Arc<AtomicBool>,
}

impl BackgroundSends {
    pub(super) fn new(sink: EventSink, bound: Duration, held_at_most: usize) -> Self {
        Self {
            sink,
            bound,
            sends: Arc::default(),
            on_the_wire: Arc::new(Semaphore::new(MAX_SENDS_ON_THE_WIRE)),
            held: Arc::new(Semaphore::new(held_at_most.min(Semaphore::MAX_PERMITS))),
            held_at_most,
            full: Arc::default(),
        }
    }

    /// Sends a committed event after the response, in the background, for
    /// at most the bound; then marks it sent (in a batch with others). An
    /// event of a task this function is still sending an earlier event of
    /// waits for that send first, so rapid changes leave in order (one left
    /// to the relay, by a failure or full send slots, leaves later: the
    /// history orders a task's changes by their sequence, not by arrival).
    /// On any failure the row simply stays for the relay. Returns once the
    /// send has a slot (see [`SLOT_WAIT`]) or is left to the relay.
    pub(super) async fn send_later(
        &self,
        pool: &PgPool,
        background: &Background,
        outbox_id: i64,
        task_id: i64,
        event: Event,
    ) {
        let slot = match self.held.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) if self.full.load(Ordering::Relaxed) => return,
            Err(_) => {
                match tokio::time::timeout(SLOT_WAIT, self.held.clone().acquire_owned()).await {
                    Ok(Ok(slot)) => slot,
                    _ => {
                        if !self.full.swap(true, Ordering::Relaxed) {
                            tracing::warn!(
                                held = self.held_at_most,
                                "every send slot is taken and none came free: events wait for the relay until half are"
                            );
                        }
                        return;
                    }
                }
            }
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
        let (sink, bound, sends, pool, tasks, on_the_wire) = (
            self.sink.clone(),
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
