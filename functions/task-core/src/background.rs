//! Work a function does after it has answered (sending a change's event),
//! tracked so that a stopping function finishes it, within a bound, before
//! it exits. What is abandoned then is never lost: it waits in the outbox.

use std::future::Future;
use std::time::Duration;

use tokio_util::task::TaskTracker;

/// The function's background tasks.
#[derive(Debug, Clone, Default)]
pub struct Background {
    tasks: TaskTracker,
}

impl Background {
    /// Runs `work` tracked: a stopping function waits for it (see
    /// [`Background::drain`]), and it runs to the end even if nobody awaits
    /// the handle (a request whose client went away). The handle has its
    /// result, for a caller that wants it.
    pub fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        self.tasks.spawn(work)
    }

    /// Tasks still running.
    pub fn pending(&self) -> usize {
        self.tasks.len()
    }

    /// Waits, at most `within`, for every task (including any a task starts
    /// meanwhile); true when all finished. Called once, on shutdown.
    pub async fn drain(&self, within: Duration) -> bool {
        self.tasks.close();
        tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_tasks_and_gives_up_at_its_bound() {
        let background = Background::default();
        let (done, finished) = tokio::sync::oneshot::channel();
        background.spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = done.send(());
        });
        assert!(background.drain(Duration::from_secs(5)).await);
        assert!(finished.await.is_ok());

        let stuck = Background::default();
        stuck.spawn(std::future::pending::<()>());
        let start = std::time::Instant::now();
        assert!(!stuck.drain(Duration::from_millis(100)).await);
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(stuck.pending(), 1);
    }
}
