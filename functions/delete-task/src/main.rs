use std::process::ExitCode;

use task_events::publisher::EventPublisher;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(delete_task::FUNCTION, || {
        Ok(delete_task::router(EventPublisher::from_env(
            delete_task::FUNCTION,
        )?))
    })
    .await
}
