use axum::Json;
use utoipa::OpenApi;

/// The OpenAPI 3.1 document of every function's routes, generated from their handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Task API",
        description = "Tasks, served by one small function per route.",
        version = env!("CARGO_PKG_VERSION"),
    ),
    paths(
        list_tasks::handler::list_tasks,
        count_tasks::handler::count_tasks,
        create_task::handler::create_task,
        get_task::handler::get_task,
        update_task::handler::update_task,
        delete_task::handler::delete_task,
        task_history::handler::task_history,
        task_core::health::health,
        openapi_json,
    ),
    tags(
        (name = "tasks", description = "Create, read, update and delete tasks"),
        (name = "health", description = "Readiness and the API description"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
