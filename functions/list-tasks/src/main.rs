use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(list_tasks::FUNCTION, || Ok(list_tasks::router())).await
}
