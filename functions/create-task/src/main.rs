use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(create_task::FUNCTION, create_task::router()).await
}
