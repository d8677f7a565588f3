use std::process::ExitCode;

use task_events::publisher::EventPublisher;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(create_task::FUNCTION, || {
        Ok(create_task::router(EventPublisher::from_env(
            create_task::FUNCTION,
        )?))
    })
    .await
}
