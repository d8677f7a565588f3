use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(task_history::FUNCTION, || Ok(task_history::router())).await
}
