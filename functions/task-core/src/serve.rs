//! Start-up: configuration, logging, then either an HTTP server on `$PORT`
//! (Knative, the local stack) or the AWS Lambda runtime loop.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use tokio::net::TcpListener;

use crate::app::{AppState, build_app};
use crate::config::{Config, ConfigError};
use crate::db::lazy_pool;

/// Set by the Lambda environment; when present the function serves Lambda
/// invocations instead of binding a port.
pub const LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Runs a function until SIGTERM or Ctrl-C. `routes` builds its own routes
/// (reading any settings of its own); the shared ones are added by [`build_app`].
pub async fn run(
    function: &'static str,
    routes: impl FnOnce() -> Result<Router<AppState>, ConfigError>,
) -> ExitCode {
    init_tracing();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            tracing::error!(function, error = %err, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let pool = match lazy_pool(&config) {
        Ok(pool) => pool,
        Err(err) => {
            tracing::error!(function, error = %err, "DATABASE_URL cannot be used");
            return ExitCode::from(2);
        }
    };
    let routes = match routes() {
        Ok(routes) => routes,
        Err(err) => {
            tracing::error!(function, error = %err, "invalid configuration");
            return ExitCode::from(2);
        }
    };
    let app = build_app(routes, AppState::new(function, pool.clone()));

    let result = if std::env::var_os(LAMBDA_RUNTIME_API).is_some() {
        tracing::info!(function, "serving AWS Lambda invocations");
        lambda_http::run(app).await.map_err(|err| err.to_string())
    } else {
        serve_http(
            function,
            app,
            SocketAddr::new(config.bind_address, config.port),
        )
        .await
        .map_err(|err| err.to_string())
    };
    pool.close().await;
    match result {
        Ok(()) => {
            tracing::info!(function, "stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(function, %error, "stopped on an error");
            ExitCode::FAILURE
        }
    }
}

async fn serve_http(
    function: &'static str,
    app: Router,
    address: SocketAddr,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(address).await.map_err(|err| {
        std::io::Error::new(err.kind(), format!("cannot listen on {address}: {err}"))
    })?;
    tracing::info!(function, address = %listener.local_addr()?, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal(function))
        .await
}

/// Resolves on SIGTERM (what Knative sends) or Ctrl-C; in-flight requests then finish.
async fn shutdown_signal(function: &'static str) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!(function, "shutting down: finishing in-flight requests");
}

/// JSON lines on stdout; `RUST_LOG` filters (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .with_env_filter(filter)
        .init();
}
