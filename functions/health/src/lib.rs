//! `health`: `GET /health` for the whole API (every function also answers it
//! on its own port) and `GET /api/openapi.json`, the API's OpenAPI document.
//!
//! Where its parts live: the OpenAPI document in `handler.rs` (built from
//! the route table, `functions/task-core/src/routes.rs`); the manifest in
//! `knative/base/functions/health.yaml`. This crate links every function,
//! so the API-wide tests live in its `tests/`: `access.rs` (every route
//! against its public / user / admin marking), `ownership.rs` (tasks belong
//! to their users, across every function) and `api.rs`.

pub mod handler;

use axum::Router;
use axum::routing::get;
use task_core::AppState;

/// This function's name in the route table, on Knative and in `.local/stack.json`.
pub const FUNCTION: &str = "health";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(handler::openapi_json))
}
