//! `GET /health` and `GET /api/openapi.json` over HTTP against a real PostgreSQL.

use serde_json::Value;
use task_core::routes::ROUTES;
use test_support::{TestApp, TestDatabase, assert_problem};

async fn app() -> TestApp {
    TestApp::spawn(health::FUNCTION, health::router()).await
}

#[tokio::test]
async fn reports_the_schema_version_when_the_database_is_reachable() {
    let app = app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["function"], "health");
    assert_eq!(
        body["schema_version"],
        task_core::db::expected_schema_version()
    );
}

#[tokio::test]
async fn an_unmigrated_database_is_503() {
    let db = TestDatabase::new().await;
    sqlx::query("DROP TABLE _sqlx_migrations")
        .execute(&db.pool)
        .await
        .unwrap();
    let app =
        TestApp::spawn_with_pool(health::FUNCTION, health::router(), db.pool.clone(), db).await;
    let problem = assert_problem(app.get("/health").await, 503).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("apply the migrations")
    );
}

#[tokio::test]
async fn an_unreachable_database_is_503_until_it_returns() {
    let db = TestDatabase::new().await;
    let (pool, proxy) = db.behind_proxy().await;
    let app = TestApp::spawn_with_pool(health::FUNCTION, health::router(), pool, db).await;
    proxy.switch_off();
    assert_problem(app.get("/health").await, 503).await;
    proxy.switch_on();
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn publishes_an_openapi_3_1_document_of_every_route() {
    let app = app().await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["title"], "Task API");
    for route in ROUTES {
        let operation = &doc["paths"][route.path][route.method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{} {} is missing from the OpenAPI document",
            route.method,
            route.path
        );
    }
    for schema in [
        "Task",
        "TaskStatus",
        "CreateTaskRequest",
        "UpdateTaskRequest",
        "Problem",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
}
