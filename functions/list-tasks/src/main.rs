use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(list_tasks::FUNCTION, list_tasks::router()).await
}
