//! Task changes as CloudEvents 1.0: `task.created`, `task.updated`, `task.deleted`.
//!
//! The event types and their data ([`TaskEventType`], [`TaskEvent`]) compile
//! everywhere, wasm32 included, so the web app reads history with the same
//! definitions the functions write it with. With the `server` feature (on by
//! default): the CloudEvent mapping ([`cloudevent`]), a Trigger's
//! deliveries read and checked ([`delivery`]), the transactional
//! [`outbox`] and the [`sink`] that POSTs events to `K_SINK`.
//!
//! The catalogue (attributes, data, examples) is in this crate's README.

/// The largest event the broker carries: librdkafka's and Kafka's default
/// `message.max.bytes`. The broker ingress and the audit function accept
/// events up to this size; the largest event a valid API request can cause
/// is far below it (a test computes it).
pub const MAX_EVENT_BYTES: usize = 1_000_000;

mod catalogue;
mod payloads;

pub use catalogue::{TaskEventType, UnknownEventType};
pub use payloads::{EventDataError, FieldChange, TaskEvent, TaskUpdated};

#[cfg(feature = "server")]
pub mod cloudevent;
#[cfg(feature = "server")]
pub mod delivery;
#[cfg(feature = "server")]
pub mod outbox;
#[cfg(feature = "server")]
pub mod publisher;
#[cfg(feature = "server")]
pub mod sink;
