//! Knative's Kafka broker on one machine, for the local stack and the tests:
//! a receiver (the broker's ingress) and a dispatcher (the Triggers), on any
//! Kafka-protocol broker, configured from the manifests under `knative/`
//! (read by `knative_contract::manifests`).

pub mod dispatcher;
pub mod error;
pub mod idle;
pub mod kafka;
pub mod progress;
pub mod receiver;
