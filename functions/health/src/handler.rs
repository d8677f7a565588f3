use axum::Json;
use utoipa::openapi::link::Link;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};

/// The OpenAPI 3.1 document of every function's routes, generated from their handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Task API",
        description = "Tasks, served by one small function per route. Every route but /health and this document needs an access token of the app's OpenID Provider (a JWT for the audience task-api) as `Authorization: Bearer`; each user sees and changes its own tasks, an admin every user's.",
        version = env!("CARGO_PKG_VERSION"),
    ),
    paths(
        list_tasks::handler::list_tasks,
        count_tasks::handler::count_tasks,
        count_tasks::owners::task_owners,
        create_task::handler::create_task,
        get_task::handler::get_task,
        update_task::handler::update_task,
        delete_task::handler::delete_task,
        task_history::handler::task_history,
        task_stream::stream::task_events,
        task_core::health::health,
        openapi_json,
    ),
    tags(
        (name = "tasks", description = "Create, read, update and delete tasks"),
        (name = "health", description = "Readiness and the API description"),
    ),
    modifiers(&BearerTokens, &TaskLinks)
)]
pub struct ApiDoc;

/// The `bearer` security scheme the signed-in routes name: an access token
/// (a JWT) from the app's OpenID Provider.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token (RFC 9068) of the app's OpenID Provider for the audience task-api",
                    ))
                    .build(),
            ),
        );
    }
}

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
