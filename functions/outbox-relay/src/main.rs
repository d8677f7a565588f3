use std::process::ExitCode;

use outbox_relay::settings::RelaySettings;

#[tokio::main]
async fn main() -> ExitCode {
    task_core::serve::run(outbox_relay::FUNCTION, || {
        Ok(outbox_relay::router(RelaySettings::from_env()?))
    })
    .await
}
