//! `GET /health`: every function's readiness probe.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::db::expected_schema_version;
use crate::error::ApiError;

/// A healthy function's answer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` (an unhealthy function answers 503 with a problem).
    pub status: String,
    pub function: String,
    /// The newest migration applied to the database.
    pub schema_version: i64,
}

/// Healthy when the database answers and its schema is at least as new as this build.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "The database is reachable and migrated", body = Health),
        (status = 503, description = "The database is down or not migrated", body = crate::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let found = state.tasks.schema_version().await?;
    let expected = expected_schema_version();
    if found < expected {
        return Err(ApiError::SchemaOutdated { found, expected });
    }
    Ok(Json(Health {
        status: "ok".into(),
        function: state.function.into(),
        schema_version: found,
    }))
}
