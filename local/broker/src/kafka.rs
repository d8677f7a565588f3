//! Kafka clients as the local broker needs them. Only a bootstrap address is
//! needed, so any Kafka-protocol broker will do (nisshi locally, Apache Kafka).

use std::time::Duration;

use cloudevents::Event;
use cloudevents::binding::rdkafka::{FutureRecordExt, MessageRecord};
use cloudevents::event::ExtensionValue;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use task_events::cloudevent::PARTITION_KEY;

use crate::error::BrokerError;

/// The topic of a Knative Kafka broker, named as Knative names it.
pub fn broker_topic(namespace: &str, broker: &str) -> String {
    format!("knative-broker-{namespace}-{broker}")
}

/// Where undeliverable events go when a Trigger has no dead-letter sink.
pub fn dead_letter_topic(namespace: &str, broker: &str) -> String {
    format!("{}-dead-letter", broker_topic(namespace, broker))
}

/// The consumer group of a Trigger, named as Knative names it.
pub fn trigger_group(namespace: &str, trigger: &str) -> String {
    format!("knative-trigger-{namespace}-{trigger}")
}

/// The producer settings. Acknowledged means stored: `acks=all`. What
/// arrives together goes in one batch (one produce request, one storage
/// transaction): `linger.ms` waits 2 ms for company, and one request at a
/// time is in flight, so whatever arrives while Kafka stores one batch goes
/// in the next. nisshi answers a connection's requests one after another,
/// each its own PostgreSQL commit: with several in flight, a slow commit
/// queued small batches behind it, and for seconds after a create-heavy
/// run the ingress stored ~120 events/s against 200 arriving (the event
/// pipeline's p50 at 200 creates/s 41-100 ms; one at a time, 29-31 ms).
/// Not idempotent: a retry's duplicate is absorbed by the audit, and the
/// senders send a task's next event only once its previous one is
/// acknowledged, so a retry never reorders one task's events. Changing
/// these is caught by a test.
pub fn producer_config(bootstrap: &str, delivery_timeout: Duration) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("linger.ms", "2")
        .set("max.in.flight.requests.per.connection", "1")
        .set(
            "message.timeout.ms",
            delivery_timeout.as_millis().to_string(),
        )
        .set("socket.timeout.ms", "3000")
        .set("reconnect.backoff.max.ms", "1000");
    config
}

/// How long a fetch waits for records (see `consumer_config`).
const FETCH_WAIT_MS: &str = "50";
/// The most a fetch returns (see `consumer_config`).
const FETCH_MAX_BYTES: &str = "524288";

/// The consumer settings: the dispatcher stores an event's offset once the
/// event is done, never before (`enable.auto.offset.store=false`), and what
/// is stored is committed every 200 ms: one commit request for all the
/// partitions instead of one per event. A crash redelivers at most those
/// 200 ms of events, which the audit records once.
pub fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "200")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // A fetch that finds nothing waits up to this long, reading every
        // partition again at halving intervals (nisshi: one query per
        // partition and round); new records are answered at the next round.
        // Longer waits cost fewer idle queries and more latency.
        .set("fetch.wait.max.ms", FETCH_WAIT_MS)
        // nisshi reads up to a fetch's whole byte budget (librdkafka asks for
        // 50 MB: 10,000 records and their headers in one query) and drops a
        // read that outlasts half the wait: under load it then returned next
        // to nothing, fetch after fetch. Half a megabyte (~700 events) reads in
        // a few milliseconds.
        .set("fetch.max.bytes", FETCH_MAX_BYTES)
        .set("message.max.bytes", FETCH_MAX_BYTES)
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("reconnect.backoff.max.ms", "1000");
    config
}

/// How long the topics this broker creates keep their events: bounds the
/// storage of a stack left running; a new Trigger replays at most this much.
pub const RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Creates `topic` unless it exists, keeping events for [`RETENTION`].
pub async fn ensure_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<(), BrokerError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(BrokerError::kafka("cannot create an admin client"))?;
    let retention = RETENTION.as_millis().to_string();
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1))
        .set("cleanup.policy", "delete")
        .set("retention.ms", &retention);
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics([&new_topic], &options)
        .await
        .map_err(BrokerError::kafka(format!("cannot create topic {topic}")))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(BrokerError::TopicNotCreated { topic, code }),
        }
    }
    Ok(())
}

/// A CloudEvent as a Kafka record, in binary content mode, keyed by its
/// `partitionkey` extension (Knative's ordering key): the ingress and the
/// dispatcher's dead-lettering write events the same way.
pub struct KeyedRecord {
    record: MessageRecord,
    key: Option<String>,
}

impl KeyedRecord {
    pub fn of(event: Event) -> Result<Self, cloudevents::message::Error> {
        let key = match event.extension(PARTITION_KEY) {
            Some(ExtensionValue::String(key)) => Some(key.clone()),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        Ok(Self {
            record: MessageRecord::from_event(event)?,
            key,
        })
    }

    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The record to produce to `topic`.
    pub fn to<'a>(&'a self, topic: &'a str) -> FutureRecord<'a, str, Vec<u8>> {
        let record = FutureRecord::to(topic).message_record(&self.record);
        match &self.key {
            Some(key) => record.key(key.as_str()),
            None => record,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the durability promise: see `producer_config`.
    #[test]
    fn the_producer_waits_for_every_acknowledgement() {
        let config = producer_config("127.0.0.1:9092", Duration::from_secs(5));
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("enable.idempotence"), Some("false"));
    }

    /// Guards the batching: see `producer_config`.
    #[test]
    fn the_producer_sends_one_batch_at_a_time() {
        let config = producer_config("127.0.0.1:9092", Duration::from_secs(5));
        assert_eq!(
            config.get("max.in.flight.requests.per.connection"),
            Some("1")
        );
    }

    #[test]
    fn consumers_commit_only_what_the_dispatcher_stored() {
        let config = consumer_config("127.0.0.1:9092", "g");
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(config.get("auto.offset.reset"), Some("earliest"));
    }

    #[test]
    fn names_follow_knative() {
        assert_eq!(
            broker_topic("task-app", "task-events"),
            "knative-broker-task-app-task-events"
        );
        assert_eq!(trigger_group("task-app", "t"), "knative-trigger-task-app-t");
    }
}
