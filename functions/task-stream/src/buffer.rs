//! The recent task changes, numbered: a bounded ring that every open stream
//! reads from its own position, so a slow reader holds nobody up and one that
//! falls behind the ring is told to start over (a `reset`).

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use task_events::TaskEventType;
use tokio::sync::watch;

/// A place in the stream of one process's changes: its epoch (the process's
/// start, in ms) and the number of the last change seen (0: none yet). The
/// SSE `id` of every message, `"<epoch>-<sequence>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub epoch: u64,
    pub sequence: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.sequence)
    }
}

/// A `Last-Event-ID` (or `since`) that is not `<epoch>-<sequence>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a stream position (<epoch>-<sequence>, two unsigned integers)")]
pub struct BadPosition(pub String);

impl FromStr for Position {
    type Err = BadPosition;

    fn from_str(text: &str) -> Result<Self, BadPosition> {
        let bad = || BadPosition(text.chars().take(64).collect());
        let (epoch, sequence) = text.split_once('-').ok_or_else(bad)?;
        Ok(Self {
            epoch: epoch.parse().map_err(|_| bad())?,
            sequence: sequence.parse().map_err(|_| bad())?,
        })
    }
}

/// One change as a stream shows it: which task, and the version the change
/// produced. Never the task's fields: a client reads those from the API, so
/// it shows what the database holds whatever an event claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(rename = "type")]
    pub event_type: TaskEventType,
    pub task_id: i64,
    pub version: i32,
    /// Whose task it is: only they (and admins) are told.
    #[serde(skip)]
    pub owner: String,
}

/// A numbered change, and the event it came from (to drop redeliveries).
#[derive(Debug, Clone)]
struct Numbered {
    sequence: u64,
    change: Change,
    event_key: String,
}

/// What a reader at some position is to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// The changes after the position (possibly none), each with its own
    /// position, and the position after the last.
    Changes(Vec<(Position, Change)>, Position),
    /// The position is not in this ring (another epoch, or evicted): start
    /// over from the current position.
    Reset(Position),
}

/// The ring of recent changes.
#[derive(Debug)]
pub struct ChangeBuffer {
    epoch: u64,
    capacity: usize,
    ring: Mutex<Ring>,
    /// The sequence of the newest change: readers wait for it to move.
    newest: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Ring {
    changes: VecDeque<Numbered>,
    /// The source and id of every event in `changes`.
    keys: HashSet<String>,
    newest: u64,
}

impl ChangeBuffer {
    /// An empty ring of `capacity` changes, its epoch now.
    pub fn new(capacity: usize) -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        Self::with_epoch(epoch, capacity)
    }

    pub fn with_epoch(epoch: u64, capacity: usize) -> Self {
        Self {
            epoch,
            capacity: capacity.max(1),
            ring: Mutex::new(Ring::default()),
            newest: watch::channel(0).0,
        }
    }

    /// Adds a change, unless the event (`source` and `id`) is already in the
    /// ring (a Trigger's redelivery). Returns whether it was added.
    pub fn push(&self, change: Change, source: &str, id: &str) -> bool {
        let event_key = format!("{source} {id}");
        let mut ring = self.ring.lock().expect("the ring's lock is never poisoned");
        if ring.keys.contains(&event_key) {
            return false;
        }
        if ring.changes.len() == self.capacity
            && let Some(oldest) = ring.changes.pop_front()
        {
            ring.keys.remove(&oldest.event_key);
        }
        ring.newest += 1;
        let sequence = ring.newest;
        ring.keys.insert(event_key.clone());
        ring.changes.push_back(Numbered {
            sequence,
            change,
            event_key,
        });
        drop(ring);
        self.newest.send_replace(sequence);
        true
    }

    /// Where the stream is now.
    pub fn position(&self) -> Position {
        let ring = self.ring.lock().expect("the ring's lock is never poisoned");
        self.at(ring.newest)
    }

    fn at(&self, sequence: u64) -> Position {
        Position {
            epoch: self.epoch,
            sequence,
        }
    }

    /// What a reader that has seen everything up to `seen` reads next. A
    /// position of this epoch is in the ring while the change after it is
    /// (or it is the newest).
    pub fn since(&self, seen: Position) -> Since {
        let ring = self.ring.lock().expect("the ring's lock is never poisoned");
        let current = self.at(ring.newest);
        let oldest = ring.changes.front().map_or(ring.newest + 1, |n| n.sequence);
        if seen.epoch != self.epoch || seen.sequence > ring.newest || seen.sequence + 1 < oldest {
            return Since::Reset(current);
        }
        let skip = (seen.sequence + 1 - oldest) as usize;
        let changes = ring
            .changes
            .iter()
            .skip(skip)
            .map(|numbered| (self.at(numbered.sequence), numbered.change.clone()))
            .collect();
        Since::Changes(changes, current)
    }

    /// A receiver that wakes when a change is added.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(task_id: i64, version: i32) -> Change {
        Change {
            event_type: TaskEventType::Updated,
            task_id,
            version,
            owner: "alice".into(),
        }
    }

    fn pushed(buffer: &ChangeBuffer, n: i64) {
        for id in 1..=n {
            assert!(buffer.push(change(id, 1), "/functions/test", &id.to_string()));
        }
    }

    fn ids(since: Since) -> Vec<i64> {
        match since {
            Since::Changes(changes, _) => changes.iter().map(|(_, c)| c.task_id).collect(),
            Since::Reset(at) => panic!("reset to {at}"),
        }
    }

    #[test]
    fn positions_read_and_print_as_epoch_dash_sequence() {
        let position: Position = "1733350000000-42".parse().unwrap();
        assert_eq!(
            position,
            Position {
                epoch: 1_733_350_000_000,
                sequence: 42
            }
        );
        assert_eq!(position.to_string(), "1733350000000-42");
        for bad in ["", "42", "a-1", "1-", "-1", "1-2-3", "1--2"] {
            assert!(bad.parse::<Position>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_reader_gets_what_came_after_its_position() {
        let buffer = ChangeBuffer::with_epoch(7, 10);
        let start = buffer.position();
        assert_eq!(start.to_string(), "7-0");
        pushed(&buffer, 3);
        assert_eq!(ids(buffer.since(start)), [1, 2, 3]);
        assert_eq!(
            ids(buffer.since(Position {
                epoch: 7,
                sequence: 2
            })),
            [3]
        );
        assert_eq!(ids(buffer.since(buffer.position())), Vec::<i64>::new());
    }

    #[test]
    fn a_redelivered_event_is_kept_once() {
        let buffer = ChangeBuffer::with_epoch(7, 10);
        assert!(buffer.push(change(1, 1), "/functions/create-task", "e1"));
        assert!(!buffer.push(change(1, 1), "/functions/create-task", "e1"));
        assert!(buffer.push(change(1, 1), "/functions/outbox-relay", "e1"));
        assert_eq!(buffer.position().sequence, 2);
    }

    #[test]
    fn another_epoch_an_evicted_or_a_future_position_is_reset() {
        let buffer = ChangeBuffer::with_epoch(7, 3);
        pushed(&buffer, 5);
        let current = buffer.position();
        for seen in [(6, 5), (7, 1), (7, 6)] {
            let seen = Position {
                epoch: seen.0,
                sequence: seen.1,
            };
            assert_eq!(buffer.since(seen), Since::Reset(current), "{seen}");
        }
        // Changes 3, 4, 5 are held: a reader that saw 2 misses nothing.
        assert_eq!(
            ids(buffer.since(Position {
                epoch: 7,
                sequence: 2
            })),
            [3, 4, 5]
        );
    }

    #[test]
    fn an_evicted_event_may_come_again_as_a_new_change() {
        let buffer = ChangeBuffer::with_epoch(7, 1);
        assert!(buffer.push(change(1, 1), "s", "a"));
        assert!(buffer.push(change(2, 1), "s", "b"));
        assert!(buffer.push(change(1, 1), "s", "a"));
    }
}
