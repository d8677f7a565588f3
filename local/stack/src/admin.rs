//! The supervisor's control API, on 127.0.0.1 only: what runs, and stopping,
//! starting, restarting, pausing and resuming one service. `stack status`,
//! `stack service` and the chaos run use it. Every request must carry the
//! token of `stack.json` (which only the user who started the stack can
//! read): other local processes and users cannot control the stack.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::{Request as HttpRequest, header};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::{mpsc, oneshot};

use crate::service::ServiceStatus;

/// What can be done to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop gracefully and keep stopped.
    Stop,
    /// SIGKILL and keep stopped.
    Kill,
    Start,
    /// Stop gracefully, then start.
    Restart,
    /// SIGSTOP: unavailable, but holding its state.
    Pause,
    /// SIGCONT.
    Resume,
}

impl Action {
    /// The word the control API and `stack service` take.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Kill => "kill",
            Self::Start => "start",
            Self::Restart => "restart",
            Self::Pause => "pause",
            Self::Resume => "resume",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "stop" => Self::Stop,
            "kill" => Self::Kill,
            "start" => Self::Start,
            "restart" => Self::Restart,
            "pause" => Self::Pause,
            "resume" => Self::Resume,
            _ => return None,
        })
    }
}

/// A request to the supervisor loop, which owns the services.
pub enum Request {
    Status(oneshot::Sender<Vec<ServiceStatus>>),
    Act {
        service: String,
        action: Action,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// Serves the control API on a free port of 127.0.0.1 for requests that
/// carry `token`; returns its address.
pub async fn serve(requests: mpsc::Sender<Request>, token: String) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let expected = format!("Bearer {token}");
    let app = Router::new()
        .route("/services", get(status))
        .route("/services/{name}/{action}", post(act))
        .with_state(requests)
        .layer(middleware::from_fn(
            move |request: HttpRequest<Body>, next: Next| {
                let allowed = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .is_some_and(|value| value.as_bytes() == expected.as_bytes());
                async move {
                    if allowed {
                        next.run(request).await
                    } else {
                        (
                            StatusCode::UNAUTHORIZED,
                            "the token of stack.json is required",
                        )
                            .into_response()
                    }
                }
            },
        ));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

async fn status(
    State(requests): State<mpsc::Sender<Request>>,
) -> Result<Json<Vec<ServiceStatus>>, StatusCode> {
    let (reply, answer) = oneshot::channel();
    requests
        .send(Request::Status(reply))
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    answer
        .await
        .map(Json)
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)
}

async fn act(
    State(requests): State<mpsc::Sender<Request>>,
    Path((service, action)): Path<(String, String)>,
) -> (StatusCode, String) {
    let Some(action) = Action::parse(&action) else {
        return (
            StatusCode::NOT_FOUND,
            format!("unknown action {action:?}: stop, kill, start, restart, pause or resume"),
        );
    };
    let (reply, answer) = oneshot::channel();
    if requests
        .send(Request::Act {
            service,
            action,
            reply,
        })
        .await
        .is_err()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the stack is stopping".into(),
        );
    }
    match answer.await {
        Ok(Ok(())) => (StatusCode::OK, "done".into()),
        Ok(Err(message)) => (StatusCode::CONFLICT, message),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the stack is stopping".into(),
        ),
    }
}

/// A client of a running stack's control API (the chaos run, `stack status`).
#[derive(Debug, Clone)]
pub struct AdminClient {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl AdminClient {
    /// The control API of the stack `stack` describes.
    pub fn new(stack: &crate::stack_file::StackFile) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: stack.admin_url.clone(),
            token: stack.admin_token.clone(),
        }
    }

    /// Every service and its state.
    pub async fn status(&self) -> Result<Vec<ServiceStatus>, String> {
        let response = self
            .client
            .get(format!("{}/services", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|err| format!("the stack does not answer: {err}"))?;
        response
            .json()
            .await
            .map_err(|err| format!("the stack's answer: {err}"))
    }

    /// Does `action` to `service`; waits until it is done.
    pub async fn act(&self, service: &str, action: Action) -> Result<(), String> {
        let response = self
            .client
            .post(format!(
                "{}/services/{service}/{}",
                self.url,
                action.as_str()
            ))
            .bearer_auth(&self.token)
            .timeout(std::time::Duration::from_secs(60))
            .send()
            .await
            .map_err(|err| format!("the stack does not answer: {err}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "{} {service}: {}",
                action.as_str(),
                response.text().await.unwrap_or_default()
            ))
        }
    }
}
