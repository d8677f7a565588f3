//! Writes that arrive together are committed together: one transaction and
//! one statement per table for the lot (a group commit), so a busy function
//! pays the database's cost of a transaction once per batch instead of once
//! per request. A write that finds a writer free is written at once: nothing
//! ever waits for a batch to fill.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::ApiError;
use crate::background::Background;

/// Batches written at once. While they are, new writes queue and form the
/// next batches, so the busier the function, the larger its batches; four
/// keep two cores' worth of database busy and leave most of the pool free.
const WRITERS: usize = 4;

/// Writes in one batch at most: 64 bodies of at most 128 KiB keep a
/// statement under 8 MiB.
const BATCH_AT_MOST: usize = 64;

/// How one kind of write is done for a batch.
pub trait BatchWrite: Send + Sync + 'static {
    type Item: Send + 'static;
    type Output: Send + 'static;

    /// Writes `batch`; one answer per item, in its order.
    fn write(
        &self,
        batch: Vec<Self::Item>,
    ) -> impl Future<Output = Vec<Result<Self::Output, ApiError>>> + Send;
}

/// The writes waiting to be committed, and the writers committing them.
pub struct GroupCommit<W: BatchWrite> {
    shared: Arc<Shared<W>>,
}

impl<W: BatchWrite> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<W: BatchWrite> {
    write: W,
    background: Background,
    waiting: Mutex<Waiting<W>>,
}

struct Waiting<W: BatchWrite> {
    items: VecDeque<Pending<W>>,
    writers: usize,
}

struct Pending<W: BatchWrite> {
    item: W::Item,
    answer: oneshot::Sender<Result<W::Output, ApiError>>,
}

impl<W: BatchWrite> Waiting<W> {
    fn next_batch(&mut self) -> Vec<Pending<W>> {
        let size = self.items.len().min(BATCH_AT_MOST);
        self.items.drain(..size).collect()
    }
}

impl<W: BatchWrite> GroupCommit<W> {
    /// Batches run as `background` tasks: a stopping function finishes the
    /// ones it began.
    pub fn new(write: W, background: Background) -> Self {
        Self {
            shared: Arc::new(Shared {
                write,
                background,
                waiting: Mutex::new(Waiting {
                    items: VecDeque::new(),
                    writers: 0,
                }),
            }),
        }
    }

    /// Writes `item` (with the items that arrived meanwhile); answers once
    /// its batch is committed.
    pub async fn write(&self, item: W::Item) -> Result<W::Output, ApiError> {
        let (answer, answered) = oneshot::channel();
        let batch = {
            let mut waiting = self.lock();
            waiting.items.push_back(Pending { item, answer });
            (waiting.writers < WRITERS).then(|| {
                waiting.writers += 1;
                waiting.next_batch()
            })
        };
        if let Some(batch) = batch {
            let writer = Writer {
                queue: self.clone(),
                counted: true,
            };
            self.shared
                .background
                .spawn(writer.write_while_any_wait(batch));
        }
        // Every item a writer takes is answered; unanswered only if it panicked.
        answered
            .await
            .unwrap_or_else(|_| Err(ApiError::from(sqlx::Error::WorkerCrashed)))
    }

    fn lock(&self) -> MutexGuard<'_, Waiting<W>> {
        self.shared.waiting.lock().expect("the group commit's lock")
    }

    async fn write_batch(&self, batch: Vec<Pending<W>>) {
        // A client that went away before its batch began: not written, as a
        // request dropped before its commit never was.
        let (items, answers): (Vec<W::Item>, Vec<_>) = batch
            .into_iter()
            .filter(|pending| !pending.answer.is_closed())
            .map(|pending| (pending.item, pending.answer))
            .unzip();
        if items.is_empty() {
            return;
        }
        let results = self.shared.write.write(items).await;
        debug_assert_eq!(results.len(), answers.len(), "one answer per item");
        for (answer, result) in answers.into_iter().zip(results) {
            let _ = answer.send(result);
        }
    }
}

/// One of the writers: writes batches until none waits. Counted in
/// `Waiting::writers` until then, or until it panics.
struct Writer<W: BatchWrite> {
    queue: GroupCommit<W>,
    counted: bool,
}

impl<W: BatchWrite> Writer<W> {
    async fn write_while_any_wait(mut self, mut batch: Vec<Pending<W>>) {
        loop {
            self.queue.write_batch(batch).await;
            let mut waiting = self.queue.lock();
            if waiting.items.is_empty() {
                // Under the lock that queued items take: an item queued
                // after this finds a free writer.
                waiting.writers -= 1;
                drop(waiting);
                self.counted = false;
                return;
            }
            batch = waiting.next_batch();
        }
    }
}

impl<W: BatchWrite> Drop for Writer<W> {
    fn drop(&mut self) {
        if self.counted {
            self.queue.lock().writers -= 1;
        }
    }
}

/// The answers to `batch` after its statement failed with `error`. If the
/// database refused a row, each item goes again alone through `alone`, so
/// only the bad one fails. Any other failure answers every item alike: it
/// may have been the commit's, whose outcome is unknown, so nothing is
/// written again.
pub async fn answer_failed_batch<'a, T, R, Alone>(
    batch: &'a [T],
    error: sqlx::Error,
    alone: impl Fn(&'a T) -> Alone,
) -> Vec<Result<R, ApiError>>
where
    Alone: Future<Output = Result<R, sqlx::Error>>,
{
    if batch.len() > 1 && refused_rows(&error) {
        let mut answers = Vec::with_capacity(batch.len());
        for item in batch {
            answers.push(alone(item).await.map_err(ApiError::from));
        }
        answers
    } else {
        ApiError::for_each_of(batch.len(), error)
            .into_iter()
            .map(Err)
            .collect()
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Doubles numbers; records the batch sizes; fails on 13.
    #[derive(Default)]
    struct Doubling {
        batches: Mutex<Vec<usize>>,
        running: AtomicUsize,
        most_running: AtomicUsize,
    }

    impl BatchWrite for Doubling {
        type Item = u32;
        type Output = u32;

        async fn write(&self, batch: Vec<u32>) -> Vec<Result<u32, ApiError>> {
            let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_running.fetch_max(running, Ordering::SeqCst);
            self.batches.lock().unwrap().push(batch.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            batch
                .into_iter()
                .map(|n| match n {
                    13 => Err(ApiError::from(sqlx::Error::RowNotFound)),
                    n => Ok(n * 2),
                })
                .collect()
        }
    }

    #[tokio::test]
    async fn a_lone_write_is_written_at_once_on_its_own() {
        let queue = GroupCommit::new(Doubling::default(), Background::default());
        assert_eq!(queue.write(4).await.unwrap(), 8);
        assert_eq!(queue.write(5).await.unwrap(), 10);
        assert_eq!(*queue.shared.write.batches.lock().unwrap(), vec![1, 1]);
    }

    #[tokio::test]
    async fn writes_that_arrive_together_share_batches_and_get_their_own_answers() {
        let queue = GroupCommit::new(Doubling::default(), Background::default());
        let writes = (0..200).map(|n| {
            let queue = queue.clone();
            async move { (n, queue.write(n).await) }
        });
        for (n, answer) in futures::future::join_all(writes).await {
            match n {
                13 => assert!(answer.is_err()),
                n => assert_eq!(answer.unwrap(), n * 2),
            }
        }
        let batches = queue.shared.write.batches.lock().unwrap().clone();
        assert_eq!(batches.iter().sum::<usize>(), 200);
        assert!(batches.len() < 200, "{batches:?}");
        assert!(batches.iter().all(|size| *size <= BATCH_AT_MOST));
        let most = queue.shared.write.most_running.load(Ordering::SeqCst);
        assert!(most <= WRITERS, "{most} batches at once");
        assert_eq!(queue.lock().writers, 0, "every writer done");
    }
}
