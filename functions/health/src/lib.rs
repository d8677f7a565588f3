//! `health`: `GET /health` for the whole API (every function also answers it
//! on its own port) and `GET /api/openapi.json`, the API's OpenAPI document.

pub mod handler;

use axum::Router;
use axum::routing::get;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "health";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(handler::openapi_json))
}
