//! The broker's dispatcher: one Kafka consumer group per Trigger, delivering
//! each matching event to the Trigger's subscriber in binary mode, with the
//! Trigger's retries, backoff and dead-letter sink. An event's offset is
//! committed only once it is done (delivered, or dead-lettered), so a crash
//! redelivers instead of losing.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cloudevents::binding::rdkafka::MessageExt;
use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, Event};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, OwnedMessage};
use rdkafka::producer::FutureProducer;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;
use reqwest::StatusCode;
use task_events::sink::{EventSink, SendError};
use tokio::sync::{oneshot, watch};

use crate::error::BrokerError;
use crate::idle::{Activity, Wake, pause_when_idle};
use crate::kafka::{KeyedRecord, consumer_config, trigger_group};
use crate::progress::Progress;
use knative_contract::filter::matches_all;
use knative_contract::manifests::{Destination, Trigger};

/// Deliveries one partition's lane (or an unordered Trigger) may have in
/// flight at once; an ordered Trigger has at most one per partition key. The
/// audit function commits what arrives together in one transaction, so more
/// at once means fewer, larger transactions.
const MAX_IN_FLIGHT: usize = 64;
/// Events consumed and not yet committable (done, but behind an older one
/// still in flight), at most: what a crash could deliver again.
const MAX_UNCOMMITTED: usize = 1024;
/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a Destination resolves to locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Http(String),
    Topic(String),
}

/// Resolves Destinations: Knative Services to local URLs, KafkaSinks to topics.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    pub services: BTreeMap<String, String>,
    pub kafka_sinks: BTreeMap<String, String>,
}

impl Resolver {
    pub fn resolve(&self, destination: &Destination) -> Result<Target, BrokerError> {
        if let Some(reference) = &destination.reference {
            return match reference.kind.as_str() {
                "Service" => self
                    .services
                    .get(&reference.name)
                    .map(|url| Target::Http(url.clone()))
                    .ok_or_else(|| BrokerError::UnknownService(reference.name.clone())),
                "KafkaSink" => self
                    .kafka_sinks
                    .get(&reference.name)
                    .map(|topic| Target::Topic(topic.clone()))
                    .ok_or_else(|| BrokerError::UnknownKafkaSink(reference.name.clone())),
                other => Err(BrokerError::UnsupportedDestination(other.to_string())),
            };
        }
        destination
            .uri
            .clone()
            .map(Target::Http)
            .ok_or(BrokerError::NoDestination)
    }
}

/// How many Triggers consume, and how many of them are paused while idle
/// ([`crate::idle`]): the dispatcher's health.
#[derive(Debug, Default)]
pub struct DispatchStatus {
    pub consuming: AtomicUsize,
    pub paused: AtomicUsize,
}

/// One Trigger, resolved and running.
pub struct TriggerDispatch {
    pub trigger: Trigger,
    pub topic: String,
    pub bootstrap: String,
    pub namespace: String,
    pub subscriber: EventSink,
    pub dead_letter: Target,
    pub producer: FutureProducer,
    /// The receiver's news of stored events, which end an idle pause.
    pub wake: Wake,
}

/// How a delivery ended.
#[derive(Debug)]
enum Outcome {
    Delivered {
        attempts: u32,
    },
    Failed {
        attempts: u32,
        code: Option<u16>,
        error: String,
    },
}

/// 2xx is done; these are worth another try; every other status is final.
fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 404 | 408 | 409 | 429) || status.is_server_error()
}

impl TriggerDispatch {
    /// Consumes until `shutdown` changes; counts itself into `status`.
    pub async fn run(
        self: Arc<Self>,
        status: Arc<DispatchStatus>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), BrokerError> {
        let group = trigger_group(&self.namespace, &self.trigger.name);
        let consumer: StreamConsumer =
            consumer_config(&self.bootstrap, &group)
                .create()
                .map_err(BrokerError::kafka(format!(
                    "cannot create the consumer {group}"
                )))?;
        // Every partition, assigned directly: one dispatcher per Trigger needs
        // no group rebalancing, and the group's committed offsets still say
        // where to resume.
        let metadata = consumer
            .fetch_metadata(Some(&self.topic), Duration::from_secs(10))
            .map_err(BrokerError::kafka(format!(
                "cannot read the metadata of {}",
                self.topic
            )))?;
        let mut assignment = TopicPartitionList::new();
        for topic in metadata.topics() {
            for partition in topic.partitions() {
                assignment
                    .add_partition_offset(topic.name(), partition.id(), Offset::Stored)
                    .map_err(BrokerError::kafka("cannot assign a partition"))?;
            }
        }
        consumer
            .assign(&assignment)
            .map_err(BrokerError::kafka(format!("cannot consume {}", self.topic)))?;
        tracing::info!(
            trigger = self.trigger.name,
            group,
            topic = self.topic,
            ordered = self.trigger.ordered,
            "dispatching"
        );
        let consumer = Arc::new(consumer);
        let activity = Arc::new(Activity::default());
        let mut lanes = Vec::new();
        if self.trigger.ordered {
            // One lane per partition, the partitions side by side.
            for partition in assignment.elements().iter().map(|e| e.partition()) {
                let queue = consumer
                    .split_partition_queue(&self.topic, partition)
                    .ok_or_else(|| BrokerError::NoPartitionQueue {
                        partition,
                        topic: self.topic.clone(),
                    })?;
                let (this, consumer, activity, mut shutdown) = (
                    self.clone(),
                    consumer.clone(),
                    activity.clone(),
                    shutdown.clone(),
                );
                lanes.push(tokio::spawn(async move {
                    this.dispatch(&consumer, || queue.recv(), &activity, &mut shutdown)
                        .await;
                }));
            }
        }
        let idle = tokio::spawn(pause_when_idle(
            consumer.clone(),
            assignment,
            activity.clone(),
            self.wake.subscribe(),
            status.clone(),
            shutdown.clone(),
        ));
        status.consuming.fetch_add(1, Ordering::SeqCst);
        // The main queue must be polled to serve the consumer; an unordered
        // Trigger gets all its events there, an ordered one what was fetched
        // before the split.
        self.dispatch(&consumer, || consumer.recv(), &activity, &mut shutdown)
            .await;
        for lane in lanes {
            let _ = lane.await;
        }
        let _ = idle.await;
        let _ = consumer.commit_consumer_state(CommitMode::Sync);
        Ok(())
    }

    /// Delivers what `recv` yields until `shutdown` changes, up to
    /// [`MAX_IN_FLIGHT`] events at once. For an ordered Trigger, one
    /// partition key's events go one at a time, in order (a task's events
    /// are keyed by the task): the next waits until the one before it is
    /// done. A slow delivery holds back only its own key, and the offsets
    /// stored never skip an event still in flight ([`Progress`]).
    async fn dispatch<'a, F, Fut>(
        self: &Arc<Self>,
        consumer: &StreamConsumer,
        mut recv: F,
        activity: &Activity,
        shutdown: &mut watch::Receiver<bool>,
    ) where
        F: FnMut() -> Fut,
        Fut: Future<Output = KafkaResult<BorrowedMessage<'a>>>,
    {
        let mut running = FuturesUnordered::new();
        let mut progress = Progress::default();
        // The newest event in flight of each (partition, key), and how to
        // learn that it is done.
        let mut newest: HashMap<(i32, Vec<u8>), (i64, oneshot::Receiver<()>)> = HashMap::new();
        loop {
            let room = running.len() < MAX_IN_FLIGHT && progress.outstanding() < MAX_UNCOMMITTED;
            tokio::select! {
                _ = shutdown.changed() => break,
                received = recv(), if room => {
                    let message = match received {
                        Ok(message) => message.detach(),
                        Err(err) => {
                            self.consumer_error(err).await;
                            continue;
                        }
                    };
                    progress.consumed(message.partition(), message.offset());
                    activity.started();
                    let (done, finished) = oneshot::channel();
                    let before = if self.trigger.ordered {
                        let key = (message.partition(), message.key().unwrap_or_default().to_vec());
                        newest
                            .insert(key, (message.offset(), finished))
                            .map(|(_, before)| before)
                    } else {
                        None
                    };
                    let this = self.clone();
                    running.push(async move {
                        if let Some(before) = before {
                            let _ = before.await;
                        }
                        this.handle(&message).await;
                        let _ = done.send(());
                        message
                    });
                }
                Some(message) = running.next() => {
                    activity.finished();
                    self.done(consumer, &mut progress, &message);
                    let key = (message.partition(), message.key().unwrap_or_default().to_vec());
                    if newest.get(&key).is_some_and(|(offset, _)| *offset == message.offset()) {
                        newest.remove(&key);
                    }
                }
            }
        }
        // Finish what is in flight, so its offsets are stored and committed.
        while let Some(message) = running.next().await {
            activity.finished();
            self.done(consumer, &mut progress, &message);
        }
    }

    async fn consumer_error(&self, err: rdkafka::error::KafkaError) {
        tracing::warn!(trigger = self.trigger.name, error = %err, "consumer error");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Marks `message` done. When that completes a run from the oldest
    /// event in flight, the offset after the run is stored, and librdkafka
    /// commits what is stored every `auto.commit.interval.ms` (and on
    /// shutdown), not one request per event.
    fn done(&self, consumer: &StreamConsumer, progress: &mut Progress, message: &OwnedMessage) {
        let Some(next) = progress.done(message.partition(), message.offset()) else {
            return;
        };
        let mut offsets = TopicPartitionList::new();
        if offsets
            .add_partition_offset(message.topic(), message.partition(), Offset::Offset(next))
            .is_ok()
            && let Err(err) = consumer.store_offsets(&offsets)
        {
            tracing::warn!(trigger = self.trigger.name, error = %err, "offset not stored; the event may be redelivered");
        }
    }

    async fn handle(&self, message: &OwnedMessage) {
        let event = match message.to_event() {
            Ok(event) => event,
            Err(err) => {
                tracing::error!(
                    trigger = self.trigger.name,
                    partition = message.partition(),
                    offset = message.offset(),
                    error = %err,
                    "a record that is not a CloudEvent was skipped"
                );
                return;
            }
        };
        if !matches_all(&self.trigger.filters, &event) {
            return;
        }
        match self.deliver(&event).await {
            Outcome::Delivered { attempts } => tracing::info!(
                event_id = event.id(),
                trigger = self.trigger.name,
                subscriber = self.subscriber.url(),
                partition = message.partition(),
                offset = message.offset(),
                attempts,
                "event delivered"
            ),
            Outcome::Failed {
                attempts,
                code,
                error,
            } => {
                tracing::warn!(
                    event_id = event.id(),
                    trigger = self.trigger.name,
                    attempts,
                    error,
                    "event undeliverable; sending it to the dead-letter sink"
                );
                self.dead_letter(event, code).await;
            }
        }
    }

    async fn deliver(&self, event: &Event) -> Outcome {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (error, code, again) = match self.subscriber.send(event).await {
                Ok(()) => return Outcome::Delivered { attempts },
                Err(SendError::Rejected(status)) => (
                    format!("answered {status}"),
                    Some(status.as_u16()),
                    retryable(status),
                ),
                Err(SendError::Unreachable(err)) => (err.to_string(), None, true),
                Err(err @ SendError::Encode(_)) => (err.to_string(), None, false),
            };
            if !again || attempts > self.trigger.retry {
                return Outcome::Failed {
                    attempts,
                    code,
                    error,
                };
            }
            tokio::time::sleep(self.trigger.backoff(attempts)).await;
        }
    }

    /// Keeps trying until the dead-letter sink has the event: an event is
    /// never dropped.
    async fn dead_letter(&self, mut event: Event, code: Option<u16>) {
        event.set_extension("knativeerrordest", self.subscriber.url().to_string());
        if let Some(code) = code {
            event.set_extension("knativeerrorcode", ExtensionValue::Integer(i64::from(code)));
        }
        let mut wait = Duration::from_millis(200);
        loop {
            let result = match &self.dead_letter {
                Target::Http(url) => EventSink::new(url.clone(), ATTEMPT_TIMEOUT)
                    .send(&event)
                    .await
                    .map_err(|err| err.to_string()),
                Target::Topic(topic) => self
                    .produce(topic, &event)
                    .await
                    .map_err(|err| err.to_string()),
            };
            match result {
                Ok(()) => {
                    tracing::info!(event_id = event.id(), dead_letter = ?self.dead_letter, "event dead-lettered");
                    return;
                }
                Err(error) => {
                    tracing::error!(
                        event_id = event.id(),
                        error,
                        "dead-letter sink unavailable; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn produce(&self, topic: &str, event: &Event) -> Result<(), BrokerError> {
        let record = KeyedRecord::of(event.clone())?;
        self.producer
            .send(record.to(topic), Timeout::After(Duration::from_secs(10)))
            .await
            .map(|_| ())
            .map_err(|(err, _)| BrokerError::kafka(format!("cannot produce to {topic}"))(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knative_retries_these_statuses_only() {
        for code in [404, 408, 409, 429, 500, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 403, 405, 410, 413, 415, 422] {
            assert!(!retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn destinations_resolve_to_local_urls_and_topics() {
        let resolver = Resolver {
            services: BTreeMap::from([("audit".into(), "http://127.0.0.1:8088/".into())]),
            kafka_sinks: BTreeMap::from([("dls".into(), "dead-letters".into())]),
        };
        let reference = |kind: &str, name: &str| -> Destination {
            serde_norway::from_str(&format!(
                "ref: {{apiVersion: v1, kind: {kind}, name: {name}}}"
            ))
            .unwrap()
        };
        assert_eq!(
            resolver.resolve(&reference("Service", "audit")).ok(),
            Some(Target::Http("http://127.0.0.1:8088/".into()))
        );
        assert_eq!(
            resolver.resolve(&reference("KafkaSink", "dls")).ok(),
            Some(Target::Topic("dead-letters".into()))
        );
        assert!(resolver.resolve(&reference("Service", "missing")).is_err());
    }
}
