//! The function binary under AWS Lambda: with `AWS_LAMBDA_RUNTIME_API` set it
//! serves invocations through `lambda_http` instead of binding a port. The
//! Lambda Runtime API is played by wiremock; each event is the API Gateway v2
//! (HTTP API) fixture asking for a task that exists in a real database, with
//! the caller's `Authorization` header (tokens from the test provider). The
//! token checks are the same as on Knative: no token or a bad one is a 401,
//! another user's task a 404.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use task_core::task::TaskStatus;
use test_support::{TestDatabase, identity};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FIXTURE: &str = include_str!("fixtures/apigw-v2-get-task.json");

/// The fixture's event with `authorization` (none: no header) and its own request id.
fn event(request_id: &str, authorization: Option<&str>) -> String {
    let mut event: Value = serde_json::from_str(FIXTURE).expect("the fixture is JSON");
    event["requestContext"]["requestId"] = json!(request_id);
    if let Some(authorization) = authorization {
        event["headers"]["authorization"] = json!(authorization);
    }
    event.to_string()
}

/// Serves one invocation per event through the Runtime API (in order), and
/// returns each Lambda response.
async fn invoke(db: &TestDatabase, events: &[String]) -> Vec<Value> {
    let runtime_api = MockServer::start().await;
    let deadline_ms = (std::time::SystemTime::now() + Duration::from_secs(60))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let ids: Vec<String> = (0..events.len())
        .map(|n| format!("c6af9ac6-7b61-11e6-9a41-{n:012}"))
        .collect();
    for (id, event) in ids.iter().zip(events) {
        Mock::given(method("GET"))
            .and(path("/2018-06-01/runtime/invocation/next"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("lambda-runtime-aws-request-id", id.as_str())
                    .insert_header(
                        "lambda-runtime-deadline-ms",
                        deadline_ms.to_string().as_str(),
                    )
                    .insert_header(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:eu-west-1:123456789012:function:get-task",
                    )
                    .insert_header(
                        "lambda-runtime-trace-id",
                        "Root=1-5759e988-bd862e3fe1be46a994272793",
                    )
                    .set_body_string(event.clone()),
            )
            .up_to_n_times(1)
            .mount(&runtime_api)
            .await;
    }
    // Later polls wait, as the real Runtime API does between invocations.
    Mock::given(method("GET"))
        .and(path("/2018-06-01/runtime/invocation/next"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
        .mount(&runtime_api)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/2018-06-01/runtime/invocation/[^/]+/response$",
        ))
        .respond_with(ResponseTemplate::new(202))
        .mount(&runtime_api)
        .await;

    let provider = identity::provider();
    let mut function = Command::new(env!("CARGO_BIN_EXE_get-task"))
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.address().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "get-task")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/get-task")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/24/[$LATEST]0123456789",
        )
        .env("DATABASE_URL", &db.url)
        .env("AUTH_ISSUER", provider.issuer())
        .env("AUTH_JWKS_FILE", provider.jwks_path())
        .env_remove("PORT")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the get-task binary");

    let started = Instant::now();
    let replies = loop {
        let requests = runtime_api.received_requests().await.unwrap_or_default();
        let replies: Vec<_> = ids
            .iter()
            .filter_map(|id| {
                requests.iter().find(|r| {
                    r.method.as_str() == "POST"
                        && r.url.path() == format!("/2018-06-01/runtime/invocation/{id}/response")
                })
            })
            .map(|reply| reply.body.clone())
            .collect();
        if replies.len() == ids.len() {
            break replies;
        }
        if started.elapsed() > Duration::from_secs(30) || function.try_wait().unwrap().is_some() {
            let _ = function.kill();
            panic!("not every Lambda response was posted; requests seen: {requests:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    function.kill().unwrap();
    function.wait().unwrap();
    replies
        .iter()
        .map(|reply| serde_json::from_slice(reply).expect("a JSON Lambda response"))
        .collect()
}

#[tokio::test]
async fn serves_api_gateway_v2_events_through_the_lambda_runtime_with_the_same_token_checks() {
    let db = TestDatabase::new().await;
    let task = db
        .insert_task("Served by Lambda", TaskStatus::Pending)
        .await;
    assert_eq!(task.id, 1, "the fixture asks for task 1");
    let alice = format!("Bearer {}", identity::token("alice").await);
    let bob = format!("Bearer {}", identity::token("bob").await);
    let flipped = {
        let mut token = identity::token("alice").await.into_bytes();
        let at = token.len() - 5;
        token[at] = if token[at] == b'A' { b'B' } else { b'A' };
        format!("Bearer {}", String::from_utf8(token).unwrap())
    };

    let replies = invoke(
        &db,
        &[
            event("alice", Some(&alice)),
            event("nobody", None),
            event("bob", Some(&bob)),
            event("flipped", Some(&flipped)),
        ],
    )
    .await;

    let [owner, anonymous, other, forged] = &replies[..] else {
        panic!("{replies:?}");
    };
    assert_eq!(owner["statusCode"], 200, "{owner}");
    assert_eq!(owner["headers"]["etag"], "\"1\"");
    let body: Value = serde_json::from_str(owner["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (body["id"].as_i64(), body["title"].as_str()),
        (Some(1), Some("Served by Lambda"))
    );

    assert_eq!(anonymous["statusCode"], 401, "{anonymous}");
    assert_eq!(
        anonymous["headers"]["www-authenticate"],
        "Bearer realm=\"task-api\""
    );
    assert_eq!(forged["statusCode"], 401, "{forged}");
    assert!(
        forged["headers"]["www-authenticate"]
            .as_str()
            .unwrap()
            .contains("error=\"invalid_token\""),
        "{forged}"
    );
    // Another user's task is not found, exactly like a missing one.
    assert_eq!(other["statusCode"], 404, "{other}");
    let problem: Value = serde_json::from_str(other["body"].as_str().unwrap()).unwrap();
    assert_eq!(problem["detail"], "task 1 does not exist");
}
