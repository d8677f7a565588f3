use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(task_stream::FUNCTION, || {
        Ok(task_stream::router(task_stream::StreamSettings::from_env()?))
    })
    .await
}
