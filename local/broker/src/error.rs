//! Why the broker could not start, or stopped.

use std::net::SocketAddr;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use knative_contract::manifests::ManifestError;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Manifests(#[from] ManifestError),
    #[error("{count} Brokers in {manifests}; choose one with --broker")]
    WhichBroker { count: usize, manifests: String },
    #[error("no Trigger of Broker {broker} in {manifests}")]
    NoTriggers { broker: String, manifests: String },
    #[error("Service {0} has no local URL; pass --service {0}=http://...")]
    UnknownService(String),
    #[error("KafkaSink {0} is not among the manifests")]
    UnknownKafkaSink(String),
    #[error("cannot deliver to a {0} locally")]
    UnsupportedDestination(String),
    #[error("a destination needs a ref or a uri")]
    NoDestination,
    #[error("Trigger {trigger}: subscriber topic {topic} is not supported")]
    SubscriberTopic { trigger: String, topic: String },
    /// A Kafka client failed; `doing` says at what.
    #[error("{doing}: {source}")]
    Kafka {
        doing: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot consume partition {partition} of {topic}")]
    NoPartitionQueue { partition: i32, topic: String },
    #[error("cannot create topic {topic}: {code}")]
    TopicNotCreated {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error("Kafka at {bootstrap} is not usable: {source}")]
    KafkaUnusable {
        bootstrap: String,
        #[source]
        source: Box<BrokerError>,
    },
    #[error("cannot encode the event as a Kafka record: {0}")]
    Encode(#[from] cloudevents::message::Error),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
    #[error("a Trigger's dispatch ended abnormally: {0}")]
    Dispatch(#[from] tokio::task::JoinError),
}

impl BrokerError {
    /// A closure for `map_err` that says what the Kafka client was doing.
    pub fn kafka(doing: impl Into<String>) -> impl FnOnce(KafkaError) -> Self {
        let doing = doing.into();
        move |source| Self::Kafka { doing, source }
    }
}
