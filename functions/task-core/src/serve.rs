//! Start-up: configuration, logging, then either an HTTP server on `$PORT`
//! (Knative, the local stack) or the AWS Lambda runtime loop.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::app::{AppState, FunctionRoutes, build_app};
use crate::auth::{AuthConfig, Authenticator};
use crate::background::Background;
use crate::config::{Config, ConfigError};
use crate::db::lazy_pool;

/// Set by the Lambda environment; when present the function serves Lambda
/// invocations instead of binding a port.
pub const LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Runs a function until SIGTERM or Ctrl-C. `routes` builds its own routes
/// (reading any settings of its own); the shared ones are added by [`build_app`].
pub async fn run<R: Into<FunctionRoutes>>(
    function: &'static str,
    routes: impl FnOnce() -> Result<R, ConfigError>,
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
    let mut state = AppState::new(function, pool.clone());
    // The token checks' settings, for a function that serves signed-in routes.
    if crate::routes::needs_sign_in(function) {
        match AuthConfig::from_env() {
            Ok(auth) => state = state.with_auth(Authenticator::new(auth)),
            Err(err) => {
                tracing::error!(function, error = %err, "invalid configuration");
                return ExitCode::from(2);
            }
        }
    }
    let background = state.background.clone();
    let app = build_app(routes, state);

    let result = if std::env::var_os(LAMBDA_RUNTIME_API).is_some() {
        tracing::info!(function, "serving AWS Lambda invocations");
        lambda_http::run(app).await.map_err(|err| err.to_string())
    } else {
        let address = SocketAddr::new(config.bind_address, config.port);
        match TcpListener::bind(address).await {
            Ok(listener) => serve(function, listener, app, shutdown_signal(function))
                .await
                .map_err(|err| err.to_string()),
            Err(err) => Err(format!("cannot listen on {address}: {err}")),
        }
    };
    finish_background(function, &background, config.shutdown_drain).await;
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

/// Serves `app` on `listener` until `shutdown` resolves; in-flight requests
/// then finish. The caller finishes the background work after it.
///
/// HTTP/1.1 only: what Knative's queue-proxy (the port is named `http1`),
/// nginx and the broker speak. A connection then holds no HTTP/2 state,
/// which matters where many are held open (task-stream's streams).
pub async fn serve(
    function: &'static str,
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(function, address = %listener.local_addr()?, "listening");
    let connections = GracefulShutdown::new();
    let http = hyper::server::conn::http1::Builder::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(function, %error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small writes (a stream's events) go out at once.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(
            app.clone()
                .map_request(|request: hyper::Request<Incoming>| request.map(Body::new)),
        );
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(function, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

/// Lets the work started after responses (event sends) finish, for at most
/// `within`; what is abandoned waits in the outbox for the relay.
pub async fn finish_background(function: &'static str, background: &Background, within: Duration) {
    let pending = background.pending();
    if pending == 0 {
        background.drain(within).await;
        return;
    }
    tracing::info!(function, pending, "finishing background work");
    if !background.drain(within).await {
        tracing::warn!(
            function,
            abandoned = background.pending(),
            bound = ?within,
            "background work abandoned; its events wait in the outbox for the relay"
        );
    }
}

/// Resolves on SIGTERM (what Knative sends) or Ctrl-C.
pub async fn terminated() {
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
}

/// [`terminated`], logged: in-flight requests then finish.
async fn shutdown_signal(function: &'static str) {
    terminated().await;
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
