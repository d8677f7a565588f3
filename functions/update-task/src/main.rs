use std::process::ExitCode;

use task_events::publisher::EventPublisher;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(update_task::FUNCTION, || {
        Ok(update_task::router(EventPublisher::from_env(
            update_task::FUNCTION,
        )?))
    })
    .await
}
