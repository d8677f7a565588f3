//! The broker's ingress: takes CloudEvents over HTTP (binary or structured
//! mode) and answers 202 only once Kafka has acknowledged them.

use std::sync::{Arc, RwLock};
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
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use task_core::problem::{PROBLEM_JSON, Problem};

use crate::kafka::KeyedRecord;

/// What the receiver needs: a producer and the topic it writes to.
#[derive(Clone)]
pub struct Receiver {
    producer: Arc<RwLock<Generation>>,
    config: ClientConfig,
    topic: String,
    delivery_timeout: Duration,
}

/// A producer, and how many producers came before it.
struct Generation {
    producer: FutureProducer,
    number: u64,
}

impl Receiver {
    pub fn new(
        config: ClientConfig,
        topic: String,
        delivery_timeout: Duration,
    ) -> Result<Self, KafkaError> {
        Ok(Self {
            producer: Arc::new(RwLock::new(Generation {
                producer: config.create()?,
                number: 0,
            })),
            config,
            topic,
            delivery_timeout,
        })
    }

    /// The current producer, and its generation.
    fn producer(&self) -> (FutureProducer, u64) {
        let current = self
            .producer
            .read()
            .expect("the producer lock is never poisoned");
        (current.producer.clone(), current.number)
    }

    /// How many times the producer was replaced.
    pub fn replacements(&self) -> u64 {
        self.producer().1
    }

    /// An idempotent producer whose messages timed out (Kafka unreachable)
    /// bumps its epoch when Kafka returns; tansu 0.6 answers that with
    /// ProducerFenced on every later message. A fresh producer (a new
    /// producer id) works again; the events that failed were answered 503 and
    /// come again. Fatal errors are handled the same way.
    ///
    /// Only the producer that failed is replaced, once: the errors of the
    /// requests it had in flight arrive one by one, and each replacing the
    /// producer again would start a storm (tansu fences the older producers
    /// when a new one starts, so their in-flight requests fail, and so on).
    fn replace_if_broken(&self, generation: u64, error: &KafkaError) {
        let identity_lost = matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::UnknownProducerId
                    | RDKafkaErrorCode::OutOfOrderSequenceNumber
            )
        );
        let mut current = self
            .producer
            .write()
            .expect("the producer lock is never poisoned");
        if current.number != generation {
            return;
        }
        if identity_lost || current.producer.client().fatal_error().is_some() {
            match self.config.create() {
                Ok(fresh) => {
                    tracing::warn!(%error, "the Kafka producer cannot go on; replaced it");
                    current.producer = fresh;
                    current.number += 1;
                }
                Err(err) => tracing::error!(error = %err, "cannot replace the Kafka producer"),
            }
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
    let (producer, generation) = receiver.producer();
    match producer
        .send(
            record.to(&receiver.topic),
            Timeout::After(receiver.delivery_timeout),
        )
        .await
    {
        Ok(delivery) => {
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
            receiver.replace_if_broken(generation, &err);
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
    let (producer, _) = receiver.producer();
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
