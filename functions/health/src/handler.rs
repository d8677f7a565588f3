use axum::Json;
use utoipa::openapi::link::Link;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};

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
    ),
    modifiers(&TaskLinks)
)]
pub struct ApiDoc;

/// OpenAPI links from a created or updated task to what can be done with it
/// next (clients, and stateful API tests, follow them).
struct TaskLinks;

impl Modify for TaskLinks {
    fn modify(&self, document: &mut Document) {
        let follow = |operation: &str| {
            Link::builder()
                .operation_id(operation)
                .parameter("id", "$response.body#/id")
                .build()
        };
        let next = ["get_task", "update_task", "delete_task", "task_history"];
        for (path, method, status) in [
            ("/api/tasks", HttpMethod::Post, "201"),
            ("/api/tasks/{id}", HttpMethod::Put, "200"),
            ("/api/tasks/{id}", HttpMethod::Get, "200"),
        ] {
            let operation = document
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| match method {
                    HttpMethod::Post => item.post.as_mut(),
                    HttpMethod::Put => item.put.as_mut(),
                    _ => item.get.as_mut(),
                });
            let Some(operation) = operation else { continue };
            if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) {
                for target in next {
                    response
                        .links
                        .insert(target.to_string(), RefOr::T(follow(target)));
                }
            }
        }
    }
}

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
