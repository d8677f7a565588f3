//! Creates that arrive together are written together (a group commit, see
//! [`task_core::group_commit`]): one statement for the tasks and their
//! events, one commit; each create still gets its own task and its own event.

use axum::extract::FromRef;
use task_core::group_commit::{BatchWrite, GroupCommit, answer_failed_batch};
use task_core::task::{NewTask, Task};
use task_core::{ApiError, AppState};
use task_events::publisher::{EventPublisher, NewTaskBy};

/// A create waiting for its batch: the task, the `sub` of the user creating
/// it (its owner), and the request's traceparent.
#[derive(Debug, Clone)]
pub struct Create {
    pub task: NewTask,
    pub creator: String,
    pub traceparent: Option<String>,
}

/// The state of `create-task`'s route: the creates waiting to be written.
#[derive(Clone)]
pub struct CreateQueue {
    app: AppState,
    creates: GroupCommit<WriteCreates>,
}

impl FromRef<CreateQueue> for AppState {
    fn from_ref(queue: &CreateQueue) -> Self {
        queue.app.clone()
    }
}

impl CreateQueue {
    pub fn new(app: AppState, events: EventPublisher) -> Self {
        let write = WriteCreates {
            app: app.clone(),
            events,
        };
        let background = app.background.clone();
        Self {
            app,
            creates: GroupCommit::new(write, background),
        }
    }

    /// Writes the task and its `task.created` event (with the creates that
    /// arrived meanwhile); answers once they are committed.
    pub async fn create(&self, create: Create) -> Result<Task, ApiError> {
        self.creates.write(create).await
    }
}

/// Writes a batch of creates.
pub struct WriteCreates {
    app: AppState,
    events: EventPublisher,
}

impl BatchWrite for WriteCreates {
    type Item = Create;
    type Output = Task;

    async fn write(&self, batch: Vec<Create>) -> Vec<Result<Task, ApiError>> {
        match self.write_together(&batch).await {
            Ok(tasks) => tasks.into_iter().map(Ok).collect(),
            Err(error) => {
                answer_failed_batch(&batch, error, |create| self.write_alone(create)).await
            }
        }
    }
}

impl WriteCreates {
    /// One statement: the tasks and their events, committed together.
    async fn write_together(&self, batch: &[Create]) -> Result<Vec<Task>, sqlx::Error> {
        let creates: Vec<NewTaskBy<'_>> = batch
            .iter()
            .map(|create| NewTaskBy {
                task: &create.task,
                creator: &create.creator,
                traceparent: create.traceparent.as_deref(),
            })
            .collect();
        self.events.create_tasks(&self.app, &creates).await
    }

    async fn write_alone(&self, create: &Create) -> Result<Task, sqlx::Error> {
        let mut tasks = self.write_together(std::slice::from_ref(create)).await?;
        tasks.pop().ok_or(sqlx::Error::RowNotFound)
    }
}
