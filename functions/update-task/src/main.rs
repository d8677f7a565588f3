use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(update_task::FUNCTION, update_task::router()).await
}
