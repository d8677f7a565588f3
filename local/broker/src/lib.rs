//! Knative's Kafka broker on one machine, for the local stack and the tests:
//! a receiver (the broker's ingress) and a dispatcher (the Triggers), on any
//! Kafka-protocol broker, configured from the manifests under `knative/`.

pub mod dispatcher;
pub mod error;
pub mod filter;
pub mod kafka;
pub mod manifests;
pub mod progress;
pub mod receiver;
