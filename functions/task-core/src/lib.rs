//! The shared library of the task functions.
//!
//! The model ([`task`]), its validation, the problem details type ([`problem`]) and
//! the route table ([`routes`]) compile everywhere, wasm32 included, so the web app
//! uses the very same definitions. With the `server` feature (on by default) the
//! crate also holds what every function needs at run time: configuration, the
//! database pool and [`TaskRepository`], HTTP error mapping, request extractors, the access token checks ([`auth`]),
//! the health check and the start-up that serves `$PORT` or AWS Lambda.

pub mod history;
pub mod list;
pub mod problem;
pub mod routes;
#[cfg(feature = "server")]
pub mod search;
pub mod task;

#[cfg(feature = "server")]
mod app;
#[cfg(feature = "server")]
pub mod audit_log;
#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod background;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod db;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod extract;
#[cfg(feature = "server")]
pub mod group_commit;
#[cfg(feature = "server")]
pub mod health;
#[cfg(feature = "server")]
pub mod read_connections;
#[cfg(feature = "server")]
pub mod repository;
#[cfg(feature = "server")]
pub mod response;
#[cfg(feature = "server")]
pub mod serve;

#[cfg(feature = "server")]
pub use app::{AppState, BODY_LIMIT_BYTES, FunctionRoutes, QUERY_LIMIT_BYTES, build_app};
#[cfg(feature = "server")]
pub use audit_log::AuditLog;
#[cfg(feature = "server")]
pub use error::ApiError;
#[cfg(feature = "server")]
pub use repository::TaskRepository;
