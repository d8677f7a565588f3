//! The function binary under AWS Lambda: with `AWS_LAMBDA_RUNTIME_API` set it
//! serves invocations through `lambda_http` instead of binding a port. The
//! Lambda Runtime API is played by wiremock; the event is an API Gateway v2
//! (HTTP API) fixture asking for a task that exists in a real database.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use task_core::task::TaskStatus;
use test_support::TestDatabase;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REQUEST_ID: &str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef";

#[tokio::test]
async fn serves_an_api_gateway_v2_event_through_the_lambda_runtime() {
    let db = TestDatabase::new().await;
    let task = db
        .insert_task("Served by Lambda", TaskStatus::Pending)
        .await;
    assert_eq!(task.id, 1, "the fixture asks for task 1");

    let runtime_api = MockServer::start().await;
    let deadline_ms = (std::time::SystemTime::now() + Duration::from_secs(60))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Mock::given(method("GET"))
        .and(path("/2018-06-01/runtime/invocation/next"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("lambda-runtime-aws-request-id", REQUEST_ID)
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
                .set_body_string(include_str!("fixtures/apigw-v2-get-task.json")),
        )
        .up_to_n_times(1)
        .mount(&runtime_api)
        .await;
    // Later polls wait, as the real Runtime API does between invocations.
    Mock::given(method("GET"))
        .and(path("/2018-06-01/runtime/invocation/next"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
        .mount(&runtime_api)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/2018-06-01/runtime/invocation/{REQUEST_ID}/response"
        )))
        .respond_with(ResponseTemplate::new(202))
        .mount(&runtime_api)
        .await;

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
        .env_remove("PORT")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the get-task binary");

    let started = Instant::now();
    let reply = loop {
        let requests = runtime_api.received_requests().await.unwrap_or_default();
        if let Some(reply) = requests
            .iter()
            .find(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/response"))
        {
            break reply.body.clone();
        }
        if started.elapsed() > Duration::from_secs(30) || function.try_wait().unwrap().is_some() {
            let _ = function.kill();
            panic!("no Lambda response was posted; requests seen: {requests:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    function.kill().unwrap();
    function.wait().unwrap();

    let reply: Value = serde_json::from_slice(&reply).expect("a JSON Lambda response");
    assert_eq!(reply["statusCode"], 200, "{reply}");
    assert_eq!(reply["headers"]["etag"], "\"1\"");
    let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["id"], 1);
    assert_eq!(body["title"], "Served by Lambda");
}
