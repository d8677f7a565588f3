use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(audit::FUNCTION, || Ok(audit::router())).await
}
