//! Every route of the route table, served by its own function, answers as
//! its marking says, with tokens signed in for through a real provider:
//! public routes need none; the others refuse every kind of bad token with
//! 401 (RFC 6750, problem+json); admin routes refuse a user with 403. The
//! OpenAPI document secures exactly the routes that need a token.
//! (This crate links every function: the API-wide tests live here.)

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use task_core::FunctionRoutes;
use task_core::auth::Authenticator;
use task_core::routes::{Access, ROUTES, Route};
use task_core::task::TaskStatus;
use test_support::identity::{self, Impostor};
use test_support::{TestApp, TestDatabase, publisher};

/// The routes of `function`, as its binary serves them.
fn routes_of(function: &'static str) -> FunctionRoutes {
    let events = || publisher(function, None, 500);
    match function {
        "list-tasks" => list_tasks::router().into(),
        "count-tasks" => count_tasks::router().into(),
        "create-task" => create_task::router(events()),
        "get-task" => get_task::router().into(),
        "update-task" => update_task::router(events()),
        "delete-task" => delete_task::router(events()),
        "task-history" => task_history::router().into(),
        "health" => health::router().into(),
        // Streams that end after a second: each answer is whole.
        "task-stream" => task_stream::router(task_stream::StreamSettings {
            max_duration: Duration::from_secs(1),
            ..task_stream::StreamSettings::from_lookup(|_| None).unwrap()
        }),
        other => panic!("{other} serves no route of the table"),
    }
}

/// A request on `route` (task 1 where it names a task), with its body.
fn request(client: &reqwest::Client, base: &str, route: &Route) -> reqwest::RequestBuilder {
    let url = format!("{base}{}", route.path.replace("{id}", "1"));
    let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
    let request = client.request(method, url);
    match route.method {
        "POST" | "PUT" => request.json(&json!({"title": "a title"})),
        _ => request,
    }
}

/// The parts of a token, its header and claims replaced.
fn reforged(token: &str, header: Value, signature: &[u8]) -> String {
    let claims = token.split('.').nth(1).unwrap();
    format!(
        "{}.{claims}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Each kind of token the API must refuse, named.
async fn bad_tokens() -> Vec<(&'static str, String)> {
    let alice = identity::token("alice").await;
    let kid = {
        let header = alice.split('.').next().unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        header["kid"].as_str().unwrap().to_string()
    };
    // Signed by the provider's own key and issuer, but living one second:
    // past the leeway (1 s for these functions) by the time it is used.
    let expired = identity::sign_in_at(identity::impostor(Impostor::ShortLived), "alice")
        .await
        .access_token;
    let hs256 = {
        use hmac::{Hmac, Mac};
        let jwks = identity::provider().jwks().unwrap();
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
        let unsigned = reforged(&alice, header, b"");
        let unsigned = unsigned.trim_end_matches('.');
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(jwks.as_bytes()).unwrap();
        mac.update(unsigned.as_bytes());
        format!(
            "{unsigned}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let mut flipped = alice.clone().into_bytes();
    let at = flipped.len() - 10;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let tokens = vec![
        (
            "the ID token (audience: the client, not the API)",
            identity::sign_in_at(identity::provider(), "alice")
                .await
                .id_token,
        ),
        (
            "alg none",
            reforged(
                &alice,
                json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
                b"",
            ),
        ),
        ("HS256 keyed with the published key set", hs256),
        (
            "a foreign kid (another provider's key)",
            identity::sign_in_at(identity::impostor(Impostor::AnotherKey), "alice")
                .await
                .access_token,
        ),
        (
            "another issuer (the same key)",
            identity::sign_in_at(identity::impostor(Impostor::AnotherIssuer), "alice")
                .await
                .access_token,
        ),
        ("a flipped byte", String::from_utf8(flipped).unwrap()),
        ("not a JWT", "opaque-token".into()),
        ("expired past the leeway", expired),
    ];
    tokio::time::sleep(Duration::from_millis(2500)).await;
    tokens
}

#[tokio::test]
async fn every_route_answers_as_its_marking_says() {
    let db = TestDatabase::new().await;
    db.insert_task("alice's", TaskStatus::Pending).await;
    let auth = || Authenticator::new(identity::auth_config_with(&[("AUTH_LEEWAY_S", "1")]));
    let mut apps = std::collections::BTreeMap::new();
    for route in ROUTES {
        if !apps.contains_key(route.function) {
            let app =
                TestApp::spawn_on_with_auth(&db, route.function, routes_of(route.function), auth())
                    .await;
            apps.insert(route.function, app);
        }
    }
    let anonymous = reqwest::Client::new();
    let alice = test_support::client_as("alice").await;
    let carol = test_support::client_as("carol").await;
    let bad = bad_tokens().await;
    let mut checked = 0;
    // What each route answered to each case, printed as a table at the end
    // (`cargo test -p health --test access -- --nocapture`).
    let mut matrix = Vec::new();
    for route in ROUTES {
        let base = &apps[route.function].address;
        let what = format!("{} {}", route.method, route.path);
        let mut answers = Vec::new();
        if route.access == Access::Public {
            let response = request(&anonymous, base, route).send().await.unwrap();
            assert_eq!(response.status(), 200, "{what} is public");
            matrix.push((what, "public: 200 without a token".to_string()));
            continue;
        }
        // No token, or one only in the query string: no credentials at all.
        let alice_token = identity::token("alice").await;
        for (case, response) in [
            ("no token", request(&anonymous, base, route)),
            (
                "a token only in the query string",
                request(&anonymous, base, route).query(&[("access_token", &alice_token)]),
            ),
        ] {
            let response = response.send().await.unwrap();
            assert_eq!(response.status(), 401, "{what}, {case}");
            answers.push(response.status().as_u16());
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"task-api\"",
                "{what}, {case}"
            );
            let problem = test_support::assert_problem(response, 401).await;
            assert_eq!(problem["type"], "urn:task-app:problem:unauthenticated");
        }
        for (case, token) in &bad {
            let response = request(&anonymous, base, route)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{what}, {case}");
            answers.push(response.status().as_u16());
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_string();
            assert!(
                challenge.starts_with("Bearer realm=\"task-api\", error=\"invalid_token\""),
                "{what}, {case}: {challenge}"
            );
            let problem = test_support::assert_problem(response, 401).await;
            assert_eq!(
                problem["type"], "urn:task-app:problem:invalid-token",
                "{case}"
            );
            checked += 1;
        }
        // A user's valid token: admin routes refuse it, the others take it.
        let response = request(&alice, base, route).send().await.unwrap();
        answers.push(response.status().as_u16());
        if route.access == Access::Admin {
            assert_eq!(response.status(), 403, "{what} is for admins");
            assert!(
                response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .contains("error=\"insufficient_scope\"")
            );
            let problem = test_support::assert_problem(response, 403).await;
            assert_eq!(problem["type"], "urn:task-app:problem:insufficient-scope");
            let response = request(&carol, base, route).send().await.unwrap();
            answers.push(response.status().as_u16());
            assert!(
                response.status().is_success(),
                "{what} as the admin: {}",
                response.status()
            );
        } else {
            let status = response.status().as_u16();
            assert!(
                ![401, 403].contains(&status) && status < 500,
                "{what} with alice's token: {status}"
            );
        }
        let answers: Vec<String> = answers.iter().map(u16::to_string).collect();
        matrix.push((what, answers.join(" ")));
    }
    assert!(checked >= 8 * 8, "{checked} refusals checked");
    let cases: Vec<&str> = ["no token", "query-string token"]
        .into_iter()
        .chain(bad.iter().map(|(case, _)| *case))
        .chain(["alice (user)", "carol (admin, admin routes)"])
        .collect();
    eprintln!("cases, in order: {}", cases.join(" | "));
    for (route, answers) in &matrix {
        eprintln!("{route:<28} {answers}");
    }
}

#[tokio::test]
async fn the_api_description_secures_exactly_the_routes_that_need_a_token() {
    let app = TestApp::spawn(health::FUNCTION, health::router()).await;
    let document: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    for route in ROUTES {
        let operation = &document["paths"][route.path][route.method.to_lowercase()];
        let secured = operation["security"]
            .as_array()
            .is_some_and(|requirements| requirements.iter().any(|r| r.get("bearer").is_some()));
        assert_eq!(
            secured,
            route.access != Access::Public,
            "{} {}: {operation}",
            route.method,
            route.path
        );
        if route.access != Access::Public {
            assert!(
                operation["responses"].get("401").is_some(),
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}
