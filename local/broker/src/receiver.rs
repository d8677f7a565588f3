//! The broker's ingress: takes CloudEvents over HTTP (binary or structured
//! mode) and answers 202 only once Kafka has acknowledged them.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cloudevents::AttributesReader;
use cloudevents::binding::http::to_event;
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::util::Timeout;
use task_core::problem::{PROBLEM_JSON, Problem};

use crate::idle::RemoteWake;
use crate::kafka::KeyedRecord;

/// What the receiver needs: a producer and the topic it writes to.
#[derive(Clone)]
pub struct Receiver {
    producer: FutureProducer,
    topic: String,
    delivery_timeout: Duration,
    wake: Option<RemoteWake>,
}

impl Receiver {
    pub fn new(
        config: ClientConfig,
        topic: String,
        delivery_timeout: Duration,
    ) -> Result<Self, KafkaError> {
        Ok(Self {
            producer: config.create()?,
            topic,
            delivery_timeout,
            wake: None,
        })
    }

    /// Tells the dispatcher of each stored event (see [`crate::idle`]).
    pub fn waking(self, wake: RemoteWake) -> Self {
        Self {
            wake: Some(wake),
            ..self
        }
    }
}

pub fn router(receiver: Receiver) -> Router {
    Router::new()
        .route("/", post(receive))
        // Knative's ingress path: /<namespace>/<broker>.
        .route("/{namespace}/{broker}", post(receive))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(task_events::MAX_EVENT_BYTES))
        .with_state(receiver)
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return problem(rejection.status(), rejection.body_text()),
    };
    let event = match to_event(&headers, body.to_vec()) {
        Ok(event) => event,
        Err(err) => return problem(StatusCode::BAD_REQUEST, format!("not a CloudEvent: {err}")),
    };
    let id = event.id().to_string();
    let record = match KeyedRecord::of(event) {
        Ok(record) => record,
        Err(err) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("cannot encode the event: {err}"),
            );
        }
    };
    match receiver
        .producer
        .send(
            record.to(&receiver.topic),
            Timeout::After(receiver.delivery_timeout),
        )
        .await
    {
        Ok(delivery) => {
            if let Some(wake) = &receiver.wake {
                wake.stored();
            }
            tracing::info!(
                event_id = id,
                topic = receiver.topic,
                partition = delivery.partition,
                offset = delivery.offset,
                key = record.key(),
                "event stored"
            );
            StatusCode::ACCEPTED.into_response()
        }
        Err((err, _)) => {
            tracing::warn!(event_id = id, error = %err, "event not stored");
            let mut response = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the event could not be stored: {err}"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

/// Ready when Kafka answers a metadata request for the topic.
async fn health(State(receiver): State<Receiver>) -> Response {
    let producer = receiver.producer.clone();
    let topic = receiver.topic.clone();
    let metadata = tokio::task::spawn_blocking(move || {
        producer
            .client()
            .fetch_metadata(Some(&topic), Duration::from_secs(2))
            .map(|_| ())
    })
    .await;
    match metadata {
        Ok(Ok(())) => {
            Json(serde_json::json!({"status": "ok", "topic": receiver.topic})).into_response()
        }
        Ok(Err(err)) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Kafka is unavailable: {err}"),
        ),
        Err(err) => problem(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    }
}

fn problem(status: StatusCode, detail: String) -> Response {
    let body = Problem {
        type_uri: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
        errors: Vec::new(),
        current: None,
    };
    (
        status,
        [(header::CONTENT_TYPE, PROBLEM_JSON)],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}
