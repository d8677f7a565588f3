//! Creates that arrive together are written together: one transaction, one
//! statement per table and one commit for the lot (a group commit), so a
//! busy function pays the database's cost of a transaction once per batch
//! instead of once per create. A create that finds a writer free is written
//! at once: nothing ever waits for a batch to fill.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::FromRef;
use task_core::task::{NewTask, Task};
use task_core::{ApiError, AppState, TaskRepository};
use task_events::TaskEvent;
use task_events::publisher::EventPublisher;
use tokio::sync::oneshot;

/// Batches written at once. While they are, new creates queue and form the
/// next batches, so the busier the function, the larger its batches; four
/// keep two cores' worth of database busy and leave most of the pool free.
const WRITERS: usize = 4;

/// Creates in one batch at most: 64 bodies of at most 128 KiB keep a
/// statement under 8 MiB.
const BATCH_AT_MOST: usize = 64;

/// The creates waiting to be written, and the writers writing them.
#[derive(Clone)]
pub struct CreateQueue {
    shared: Arc<Shared>,
}

struct Shared {
    app: AppState,
    events: EventPublisher,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    creates: VecDeque<Pending>,
    writers: usize,
}

impl Waiting {
    fn next_batch(&mut self) -> Vec<Pending> {
        let size = self.creates.len().min(BATCH_AT_MOST);
        self.creates.drain(..size).collect()
    }
}

struct Pending {
    task: NewTask,
    traceparent: Option<String>,
    answer: oneshot::Sender<Result<Task, ApiError>>,
}

impl FromRef<CreateQueue> for AppState {
    fn from_ref(queue: &CreateQueue) -> Self {
        queue.shared.app.clone()
    }
}

impl CreateQueue {
    pub fn new(app: AppState, events: EventPublisher) -> Self {
        Self {
            shared: Arc::new(Shared {
                app,
                events,
                waiting: Mutex::default(),
            }),
        }
    }

    /// Writes `task` and its `task.created` event (with the creates that
    /// arrived meanwhile); answers once they are committed.
    pub async fn create(
        &self,
        task: NewTask,
        traceparent: Option<String>,
    ) -> Result<Task, ApiError> {
        let (answer, answered) = oneshot::channel();
        let batch = {
            let mut waiting = self.lock();
            waiting.creates.push_back(Pending {
                task,
                traceparent,
                answer,
            });
            (waiting.writers < WRITERS).then(|| {
                waiting.writers += 1;
                waiting.next_batch()
            })
        };
        if let Some(batch) = batch {
            // Tracked: a stopping function finishes the batches it began.
            let writer = Writer {
                queue: self.clone(),
                counted: true,
            };
            self.shared
                .app
                .background
                .spawn(writer.write_while_any_wait(batch));
        }
        // Every create a writer takes is answered; unanswered only if it panicked.
        answered
            .await
            .unwrap_or_else(|_| Err(ApiError::from(sqlx::Error::WorkerCrashed)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.shared.waiting.lock().expect("the create queue's lock")
    }

    /// Writes `batch` and answers each of its creates.
    async fn write(&self, batch: Vec<Pending>) {
        // A client that went away before its batch began: not written, as
        // a create dropped before its commit never was.
        let batch: Vec<Pending> = batch
            .into_iter()
            .filter(|pending| !pending.answer.is_closed())
            .collect();
        if batch.is_empty() {
            return;
        }
        match self.write_together(&batch).await {
            Ok(tasks) => {
                for (pending, task) in batch.into_iter().zip(tasks) {
                    let _ = pending.answer.send(Ok(task));
                }
            }
            // The database refused a row: each create alone finds which, and
            // only that one fails.
            Err(error) if batch.len() > 1 && refused_rows(&error) => {
                for pending in batch {
                    let written = self.write_together(std::slice::from_ref(&pending)).await;
                    let answer = written.map_err(ApiError::from).and_then(|mut tasks| {
                        tasks.pop().ok_or(ApiError::from(sqlx::Error::RowNotFound))
                    });
                    let _ = pending.answer.send(answer);
                }
            }
            // Nothing was written (or, if the commit's answer was lost, maybe
            // all was): every create of the batch gets the same answer.
            Err(error) => {
                let answers = ApiError::for_each_of(batch.len(), error);
                for (pending, answer) in batch.into_iter().zip(answers) {
                    let _ = pending.answer.send(Err(answer));
                }
            }
        }
    }

    /// One transaction: the tasks, their events in the outbox, one commit.
    async fn write_together(&self, batch: &[Pending]) -> Result<Vec<Task>, sqlx::Error> {
        let new_tasks: Vec<&NewTask> = batch.iter().map(|pending| &pending.task).collect();
        let mut change = self.shared.events.begin(&self.shared.app).await?;
        let tasks = TaskRepository::insert_all(change.conn(), &new_tasks).await?;
        let events = tasks.iter().cloned().map(TaskEvent::Created);
        let traceparents = batch.iter().map(|pending| pending.traceparent.as_deref());
        change.commit_all(events.zip(traceparents)).await?;
        Ok(tasks)
    }
}

/// A data exception (22) or an integrity constraint violation (23): the rows
/// themselves were refused, not the database unavailable.
fn refused_rows(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("22") || code.starts_with("23")),
        _ => false,
    }
}

/// One of the queue's writers: writes batches until none waits. Counted in
/// `Waiting::writers` until then, or until it panics.
struct Writer {
    queue: CreateQueue,
    counted: bool,
}

impl Writer {
    async fn write_while_any_wait(mut self, mut batch: Vec<Pending>) {
        loop {
            self.queue.write(batch).await;
            let mut waiting = self.queue.lock();
            if waiting.creates.is_empty() {
                // Under the lock that queued creates take: a create queued
                // after this finds a free writer.
                waiting.writers -= 1;
                self.counted = false;
                return;
            }
            batch = waiting.next_batch();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.counted {
            self.queue.lock().writers -= 1;
        }
    }
}
