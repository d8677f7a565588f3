//! What a chaos run found: every acknowledged change against the audit log.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::PgPool;
use task_events::TaskEventType;

use super::load::Change;

/// A change as the audit log identifies it: the task, and its place in the
/// task's life (`None` for a deletion: its acknowledgement has no version).
type Key = (i64, Option<i32>);

fn key(change: &Change) -> Key {
    match change.kind {
        TaskEventType::Deleted => (change.task, None),
        _ => (change.task, Some(change.version)),
    }
}

/// The audit log, as the verdict reads it.
#[derive(Debug, Default)]
pub struct AuditView {
    /// Rows per change.
    rows: BTreeMap<Key, u32>,
    /// The actor each change's rows name.
    actors: BTreeMap<Key, Vec<Option<String>>>,
    /// Each task's recorded places (deletions aside).
    sequences: BTreeMap<i64, BTreeSet<i32>>,
    pub total: usize,
    /// Events that reached the audit function more than once.
    pub redelivered_events: u64,
    /// Deliveries beyond the first, all absorbed.
    pub extra_deliveries: u64,
}

impl AuditView {
    pub async fn read(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let rows: Vec<(i64, String, i32, i32, Option<String>)> = sqlx::query_as(
            "SELECT task_id, event_type, task_sequence, deliveries, actor FROM task_audit_log",
        )
        .fetch_all(pool)
        .await?;
        let mut view = Self {
            total: rows.len(),
            ..Self::default()
        };
        for (task, event_type, sequence, deliveries, actor) in rows {
            let deleted = event_type == TaskEventType::Deleted.as_str();
            let key = (task, (!deleted).then_some(sequence));
            *view.rows.entry(key).or_default() += 1;
            view.actors.entry(key).or_default().push(actor);
            if !deleted {
                view.sequences.entry(task).or_default().insert(sequence);
            }
            if deliveries > 1 {
                view.redelivered_events += 1;
                view.extra_deliveries += u64::try_from(deliveries - 1).unwrap_or(0);
            }
        }
        Ok(view)
    }

    pub fn has(&self, change: &Change) -> bool {
        self.rows.contains_key(&key(change))
    }

    /// Acknowledged changes without an audit row.
    pub fn lost<'a>(&self, changes: impl IntoIterator<Item = &'a Change>) -> usize {
        changes.into_iter().filter(|c| !self.has(c)).count()
    }

    /// Acknowledged changes recorded more than once (under two event ids).
    pub fn duplicated<'a>(&self, changes: impl IntoIterator<Item = &'a Change>) -> usize {
        changes
            .into_iter()
            .filter(|c| self.rows.get(&key(c)).is_some_and(|n| *n > 1))
            .count()
    }

    /// Acknowledged changes whose audit row names another actor than the
    /// user who made them (`sub_of` gives a username's `sub`).
    pub fn misattributed<'a>(
        &self,
        changes: impl IntoIterator<Item = &'a Change>,
        sub_of: impl Fn(&str) -> Option<String>,
    ) -> usize {
        changes
            .into_iter()
            .filter(|change| {
                let expected = sub_of(change.actor);
                self.actors
                    .get(&key(change))
                    .is_some_and(|actors| actors.iter().any(|actor| *actor != expected))
            })
            .count()
    }

    /// Changes recorded more than once, acknowledged or not.
    pub fn duplicated_rows(&self) -> usize {
        self.rows.values().filter(|n| **n > 1).count()
    }

    /// Places missing in a task's recorded life (version 1 to its highest):
    /// a change that was made but never recorded, acknowledged or not.
    pub fn gaps(&self) -> usize {
        self.sequences
            .values()
            .map(|seen| {
                let highest = seen.last().copied().unwrap_or(0).max(0) as usize;
                highest - seen.len()
            })
            .sum()
    }
}
