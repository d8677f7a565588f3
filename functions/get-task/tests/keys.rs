//! The token checks' key set on a real function: seeded from configuration,
//! so a cold start asks the provider nothing; fetched again once when a
//! token names a key not seen yet (a rotation); and a provider that is down
//! never makes a request fail with a 500. The provider's key set URL is a
//! wiremock standing in front of the real provider's keys, to count fetches.

use task_core::auth::Authenticator;
use task_core::task::TaskStatus;
use test_support::identity::{self, Impostor};
use test_support::{TestApp, TestDatabase, dead_url};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Serves the real provider's key set, counting the fetches.
async fn keys_endpoint() -> MockServer {
    let server = MockServer::start().await;
    let jwks: serde_json::Value =
        serde_json::from_str(&identity::provider().jwks().unwrap()).unwrap();
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
        .mount(&server)
        .await;
    server
}

/// get-task on a database holding one task of alice's, checking tokens with
/// `jwks` (the key set it is seeded with) and fetching again from `jwks_url`.
async fn app(jwks: &str, jwks_url: &str) -> (TestApp, Authenticator) {
    let db = TestDatabase::new().await;
    db.insert_task("kept", TaskStatus::Pending).await;
    let auth = Authenticator::new(identity::auth_config_with(&[
        ("AUTH_JWKS", jwks),
        ("AUTH_JWKS_URL", jwks_url),
    ]));
    let app =
        TestApp::spawn_on_with_auth(&db, get_task::FUNCTION, get_task::router(), auth.clone())
            .await;
    (app, auth)
}

#[tokio::test]
async fn a_cold_start_asks_the_provider_nothing() {
    let provider = keys_endpoint().await;
    let jwks = identity::provider().jwks().unwrap();
    let (app, auth) = app(&jwks, &format!("{}/jwks", provider.uri())).await;
    assert_eq!(app.get("/api/tasks/1").await.status(), 200);
    assert_eq!(auth.keys().fetches(), 0);
    assert!(provider.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_then_served() {
    let provider = keys_endpoint().await;
    // Seeded with a key set that lacks the provider's current key.
    let old = identity::impostor(Impostor::AnotherKey).jwks().unwrap();
    let (app, auth) = app(&old, &format!("{}/jwks", provider.uri())).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/tasks/1").await.status(), 200);
    }
    assert_eq!(auth.keys().fetches(), 1);
    assert_eq!(provider.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_provider_that_is_down_fails_no_request() {
    let jwks = identity::provider().jwks().unwrap();
    let (app, _) = app(&jwks, &format!("{}jwks", dead_url())).await;
    // Known keys: served.
    assert_eq!(app.get("/api/tasks/1").await.status(), 200);
    // A key it cannot fetch: refused as a bad token, not a 500.
    let foreign = identity::sign_in_at(identity::impostor(Impostor::AnotherKey), "alice")
        .await
        .access_token;
    let response = reqwest::Client::new()
        .get(app.url("/api/tasks/1"))
        .bearer_auth(foreign)
        .send()
        .await
        .unwrap();
    test_support::assert_problem(response, 401).await;
}
