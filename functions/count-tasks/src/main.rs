use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(count_tasks::FUNCTION, || Ok(count_tasks::router())).await
}
