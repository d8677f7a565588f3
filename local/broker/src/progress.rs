//! Which consumed events are done, per partition. The offset to commit is
//! the one after the longest run of done events from the oldest, so a commit
//! never skips an event still in flight, in whatever order deliveries finish.

use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default)]
pub struct Progress {
    /// Per partition: the events consumed and not yet committable, by
    /// offset, and whether each is done.
    partitions: HashMap<i32, BTreeMap<i64, bool>>,
}

impl Progress {
    pub fn consumed(&mut self, partition: i32, offset: i64) {
        self.partitions
            .entry(partition)
            .or_default()
            .insert(offset, false);
    }

    /// Marks an event done; returns the partition's next offset to commit
    /// when it moved.
    pub fn done(&mut self, partition: i32, offset: i64) -> Option<i64> {
        let events = self.partitions.get_mut(&partition)?;
        if let Some(done) = events.get_mut(&offset) {
            *done = true;
        }
        let mut next = None;
        while let Some(oldest) = events.first_entry() {
            if !*oldest.get() {
                break;
            }
            next = Some(*oldest.key() + 1);
            oldest.remove();
        }
        next
    }

    /// Events consumed and not yet committable.
    pub fn outstanding(&self) -> usize {
        self.partitions.values().map(BTreeMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_waits_for_the_oldest_event_in_flight() {
        let mut progress = Progress::default();
        for offset in 10..14 {
            progress.consumed(0, offset);
        }
        progress.consumed(1, 5);
        assert_eq!(progress.done(0, 12), None, "10 and 11 are still in flight");
        assert_eq!(progress.done(0, 11), None);
        assert_eq!(progress.done(1, 5), Some(6), "partitions move on their own");
        assert_eq!(progress.done(0, 10), Some(13), "10 to 12 are done");
        assert_eq!(progress.outstanding(), 1);
        assert_eq!(progress.done(0, 13), Some(14));
        assert_eq!(progress.outstanding(), 0);
    }
}
