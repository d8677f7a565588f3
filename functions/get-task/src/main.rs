use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(get_task::FUNCTION, || Ok(get_task::router())).await
}
