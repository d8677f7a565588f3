//! One change to tasks (an update or a delete) and its event, committed
//! together.

use sqlx::{PgConnection, Postgres, Transaction};
use task_core::AppState;

use super::EventPublisher;
use crate::outbox::Outbox;
use crate::payloads::TaskEvent;

/// One change to tasks and its event, as one unit of work: write through
/// [`TaskChange::conn`], then [`TaskChange::commit`]. Dropped without a
/// commit, nothing is written.
pub struct TaskChange<'a> {
    pub(super) tx: Transaction<'static, Postgres>,
    pub(super) publisher: &'a EventPublisher,
    pub(super) state: &'a AppState,
}

impl TaskChange<'_> {
    /// The change's transaction, for the repository's writes.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Stores `event`, made by `actor`, in the outbox, commits it with the
    /// change, and leaves the sending to the background: the caller answers
    /// as soon as the send has a slot. Runs to the end even if the caller is dropped (its client
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
            publisher
                .committed(
                    &state,
                    event.task(),
                    event.event_type(),
                    outbox_id,
                    cloudevent,
                )
                .await;
            Ok(())
        };
        match self.state.background.spawn(work).await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}
