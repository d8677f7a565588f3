use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(health::FUNCTION, || Ok(health::router())).await
}
