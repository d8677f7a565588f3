use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(delete_task::FUNCTION, delete_task::router()).await
}
