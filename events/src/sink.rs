//! Sends CloudEvents to a sink (`K_SINK`: the broker, or any CloudEvents
//! receiver) as binary-mode HTTP POSTs.

use std::time::Duration;

use cloudevents::Event;
use cloudevents::binding::reqwest::RequestBuilderExt;
use task_core::config::ConfigError;

use crate::cloudevent::{TRACEPARENT, string_extension};

/// Why a sink did not take an event.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the sink answered {0}")]
    Rejected(reqwest::StatusCode),
    #[error("the sink could not be reached: {}", causes(.0))]
    Unreachable(#[from] reqwest::Error),
    #[error("the event could not be encoded: {0}")]
    Encode(#[from] cloudevents::message::Error),
}

/// An error and its causes: reqwest's own message names only the URL, its
/// causes say what failed (refused, timed out, reset).
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A CloudEvents receiver over HTTP.
#[derive(Debug, Clone)]
pub struct EventSink {
    client: reqwest::Client,
    url: String,
}

impl EventSink {
    /// Every send gives up after `timeout`.
    pub fn new(url: impl Into<String>, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .expect("an HTTP client with rustls builds");
        Self {
            client,
            url: url.into(),
        }
    }

    /// The sink at setting `name`'s URL, which must be http(s).
    pub fn from_setting(
        name: &'static str,
        url: String,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(Self::new(url, timeout))
        } else {
            Err(ConfigError::Invalid {
                name,
                value: url,
                reason: "must be an http:// or https:// URL".into(),
            })
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs `event` in binary mode; Ok only on a 2xx.
    pub async fn send(&self, event: &Event) -> Result<(), SendError> {
        let mut request = self.client.post(&self.url);
        if let Some(traceparent) = string_extension(event, TRACEPARENT) {
            // Also as the W3C header, so the receiver's tracing continues the trace.
            request = request.header(TRACEPARENT, traceparent);
        }
        let response = request.event(event.clone())?.send().await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SendError::Rejected(response.status()))
        }
    }
}
