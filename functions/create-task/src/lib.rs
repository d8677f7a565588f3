//! `create-task`: `POST /api/tasks`.

pub mod handler;

use axum::Router;
use axum::routing::post;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "create-task";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tasks", post(handler::create_task))
}
