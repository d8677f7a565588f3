//! A CloudEvents sink played by wiremock, to pin what functions send to `K_SINK`.

use std::time::Duration;

use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Records every POST and answers it as told.
pub struct SinkMock {
    pub server: MockServer,
}

/// One request the sink received, as a binary-mode CloudEvent.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl ReceivedEvent {
    /// The value of header `name` (lowercase); panics when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }
}

impl SinkMock {
    /// A sink that accepts every event with 202.
    pub async fn accepting() -> Self {
        Self::answering(ResponseTemplate::new(202)).await
    }

    /// A sink that answers every event with `response`.
    pub async fn answering(response: ResponseTemplate) -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        Self { server }
    }

    /// A sink that takes `delay` to answer.
    pub async fn slow(delay: Duration) -> Self {
        Self::answering(ResponseTemplate::new(202).set_delay(delay)).await
    }

    pub fn url(&self) -> String {
        format!("{}/", self.server.uri())
    }

    /// Every request received so far, in order.
    pub async fn events(&self) -> Vec<ReceivedEvent> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|request| ReceivedEvent {
                headers: request
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_string(),
                            value.to_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
                body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
            })
            .collect()
    }
}
