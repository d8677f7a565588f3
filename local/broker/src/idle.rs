//! Fetching paused while a Trigger has nothing to do.
//!
//! nisshi answers a fetch that finds nothing by reading the partitions again
//! at halving intervals until the fetch's wait ends: about 7 queries per
//! 50 ms wait, per Trigger, for as long as the stack runs. On an idle stack
//! that was a quarter of a core (nisshi and its PostgreSQL), taken from every
//! request the functions serve on a small machine. A Kafka broker waits for
//! records without reading anything, so this costs nothing against one.
//!
//! So a Trigger pauses its partitions once its consumer has received
//! nothing, and had nothing in flight, for [`QUIET`], and Kafka confirms
//! that every record was fetched (each partition's position is its high
//! watermark). It resumes when the receiver reports a stored event
//! ([`Wake`]), or when a check every [`CHECK_WHILE_PAUSED`] finds a record
//! written some other way (a tester's producer, a receiver the dispatcher
//! was not told of). Pausing only stops fetching: the position, the stored
//! offsets and the deliveries in flight are untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::{Notify, watch};

use crate::dispatcher::DispatchStatus;

/// How long a Trigger must have received nothing, with nothing in flight
/// and no wake, before it checks whether it can pause.
pub const QUIET: Duration = Duration::from_millis(250);
/// How often a paused Trigger checks for records written around the
/// receiver: the most such a record waits before it is fetched.
pub const CHECK_WHILE_PAUSED: Duration = Duration::from_secs(1);
/// How long the checks of what is left to fetch wait for Kafka.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(2);

/// What a Trigger's dispatch loops are doing, shared with [`pause_when_idle`].
#[derive(Debug, Default)]
pub struct Activity {
    received: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    /// A record was received and its delivery started.
    pub fn started(&self) {
        self.received.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    /// A delivery ended (delivered, skipped or dead-lettered).
    pub fn finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }
}

/// New events stored, as the dispatcher hears of them: a counter the
/// receiver's wakes move on.
#[derive(Debug, Clone)]
pub struct Wake(Arc<watch::Sender<u64>>);

impl Default for Wake {
    fn default() -> Self {
        Self(Arc::new(watch::channel(0).0))
    }
}

impl Wake {
    /// Wakes every paused Trigger.
    pub fn stored(&self) {
        self.0.send_modify(|count| *count += 1);
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// The least time between two wakes the receiver sends. A woken Trigger
/// fetches for at least [`QUIET`], and what is stored within this of a
/// wake is told by the next one.
const WAKE_GAP: Duration = Duration::from_millis(50);

/// The receiver's side of [`Wake`]: tells the dispatcher (`POST` to its
/// `/wake`) that events were stored, with at most one request in flight and
/// one every [`WAKE_GAP`]; what is stored meanwhile is told by the next. A
/// wake that fails (the dispatcher restarting) only delays: a pause ends
/// within [`CHECK_WHILE_PAUSED`] anyway.
#[derive(Debug, Clone)]
pub struct RemoteWake {
    pending: Arc<Notify>,
}

impl RemoteWake {
    /// Starts telling `url`.
    pub fn new(url: String) -> Self {
        let pending = Arc::new(Notify::new());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_default();
        let next = pending.clone();
        tokio::spawn(async move {
            loop {
                next.notified().await;
                if let Err(err) = client.post(&url).send().await {
                    tracing::debug!(error = %err, "the dispatcher was not woken");
                }
                tokio::time::sleep(WAKE_GAP).await;
            }
        });
        Self { pending }
    }

    /// An event was stored.
    pub fn stored(&self) {
        self.pending.notify_one();
    }
}

/// Pauses `partitions` of `consumer` while its Trigger is idle, and resumes
/// them on a wake or when a record was written around the receiver, until
/// `shutdown` changes; counts the pause into `status`.
pub async fn pause_when_idle(
    consumer: Arc<StreamConsumer>,
    partitions: TopicPartitionList,
    activity: Arc<Activity>,
    mut wakes: watch::Receiver<u64>,
    status: Arc<DispatchStatus>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        // Running: until a whole QUIET passes with nothing received, nothing
        // in flight and no wake, and nothing is left to fetch.
        let mut seen = activity.received();
        wakes.borrow_and_update();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(QUIET) => {}
                _ = shutdown.changed() => return,
            }
            let received = activity.received();
            let woken = wakes.has_changed().unwrap_or(false);
            if received == seen
                && activity.idle()
                && !woken
                && fetched_to_the_end(&consumer, &partitions).await
            {
                break;
            }
            wakes.borrow_and_update();
            seen = received;
        }
        if let Err(err) = consumer.pause(&partitions) {
            tracing::warn!(error = %err, "cannot pause fetching; fetching on");
            continue;
        }
        status.paused.fetch_add(1, Ordering::SeqCst);
        // Paused: until a wake (one that came after the checks above ends
        // the pause at once), or a record written around the receiver.
        loop {
            tokio::select! {
                _ = wakes.changed() => break,
                _ = tokio::time::sleep(CHECK_WHILE_PAUSED) => {
                    if !fetched_to_the_end(&consumer, &partitions).await {
                        break;
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
        // Nothing would be fetched again without it: try until it takes.
        while let Err(err) = consumer.resume(&partitions) {
            tracing::error!(error = %err, "cannot resume fetching; trying again");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        status.paused.fetch_sub(1, Ordering::SeqCst);
        if *shutdown.borrow() {
            return;
        }
        wake_broker_thread(&consumer, &partitions).await;
    }
}

/// librdkafka does not wake its broker thread on a resume: that thread
/// would start fetching at its next round, up to a second later. Any
/// request to the partition's broker wakes it now: one watermark request.
async fn wake_broker_thread(consumer: &Arc<StreamConsumer>, partitions: &TopicPartitionList) {
    let Some((topic, partition)) = partitions
        .elements()
        .first()
        .map(|e| (e.topic().to_string(), e.partition()))
    else {
        return;
    };
    let consumer = consumer.clone();
    let _ = tokio::task::spawn_blocking(move || {
        consumer.fetch_watermarks(&topic, partition, WATERMARK_TIMEOUT)
    })
    .await;
}

/// Whether every record of `partitions` has been handed to the dispatcher:
/// each partition's next offset (the consumer's position, or the committed
/// offset before anything was consumed) is its high watermark. `false`
/// when Kafka does not answer.
async fn fetched_to_the_end(
    consumer: &Arc<StreamConsumer>,
    partitions: &TopicPartitionList,
) -> bool {
    let (consumer, partitions) = (consumer.clone(), partitions.clone());
    tokio::task::spawn_blocking(move || {
        let positions = consumer.position().ok()?;
        let committed = consumer.committed(WATERMARK_TIMEOUT).ok()?;
        for element in partitions.elements() {
            let (topic, partition) = (element.topic(), element.partition());
            let (low, high) = consumer
                .fetch_watermarks(topic, partition, WATERMARK_TIMEOUT)
                .ok()?;
            let offset_in = |list: &TopicPartitionList| match list
                .find_partition(topic, partition)
                .map(|p| p.offset())
            {
                Some(Offset::Offset(offset)) => Some(offset),
                _ => None,
            };
            // Nothing consumed nor committed: it starts at the earliest.
            let next = offset_in(&positions)
                .or_else(|| offset_in(&committed))
                .unwrap_or(low);
            if next < high {
                return Some(false);
            }
        }
        Some(true)
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(false)
}
