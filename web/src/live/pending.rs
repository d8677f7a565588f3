//! Which task changes the stream announced are still to be looked at, and
//! when. A change waits while the list is loading (the page on its way may
//! predate it) and while this tab is itself writing that task: its own change
//! is then not shown as one from elsewhere, and a concurrent one is looked at
//! once the write has settled, against the version shown then. Pure, so it
//! is tested on the host.

/// A write of this tab that is on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// A new task: its id is not known until the API answers, so every
    /// change of a task not shown waits for it.
    Create,
    /// A change or the deletion of this task.
    Task(i64),
}

/// A few entries at a time, so vectors: smaller in the wasm than maps.
#[derive(Debug, Default)]
pub struct Pending {
    /// The highest version announced per task, not yet looked at.
    announced: Vec<(i64, i32)>,
    /// Tasks being fetched, with the version that was announced.
    fetching: Vec<(i64, i32)>,
    /// Writes on their way, once each (two edits of one task may overlap).
    writes: Vec<Write>,
}

/// Whether a change of task `id`, shown at `shown`, must wait for a write.
fn waits(writes: &[Write], id: i64, shown: Option<i32>) -> bool {
    writes.contains(&Write::Task(id)) || (shown.is_none() && writes.contains(&Write::Create))
}

impl Pending {
    /// The stream said task `id` changed, producing `version`.
    pub fn announce(&mut self, id: i64, version: i32) {
        match self.announced.iter_mut().find(|(known, _)| *known == id) {
            Some((_, known)) => *known = (*known).max(version),
            None => self.announced.push((id, version)),
        }
    }

    /// The list is being loaded again: the page it brings holds every change
    /// announced so far.
    pub fn forget_announced(&mut self) {
        self.announced.clear();
    }

    pub fn begin(&mut self, write: Write) {
        self.writes.push(write);
    }

    pub fn end(&mut self, write: Write) {
        if let Some(at) = self.writes.iter().position(|w| *w == write) {
            self.writes.swap_remove(at);
        }
    }

    /// The tasks to fetch now (marked as being fetched), given whether the
    /// list is loading and the version it shows of a task. Changes the list
    /// already shows are dropped: duplicates, or older than what is shown.
    pub fn due(&mut self, loading: bool, shown: impl Fn(i64) -> Option<i32>) -> Vec<i64> {
        if loading {
            return Vec::new();
        }
        let mut due = Vec::new();
        let (writes, fetching) = (&self.writes, &mut self.fetching);
        self.announced.retain(|&(id, version)| {
            let on_screen = shown(id);
            if fetching.iter().any(|(f, _)| *f == id) || waits(writes, id, on_screen) {
                return true;
            }
            if on_screen < Some(version) {
                fetching.push((id, version));
                due.push(id);
            }
            false
        });
        due
    }

    /// The fetch of task `id` was answered, while the list shows it at
    /// `shown`. True when the answer may be applied now; false when a write
    /// of this tab began meanwhile: the change is then looked at again once
    /// that write has settled.
    pub fn fetched(&mut self, id: i64, shown: Option<i32>) -> bool {
        let Some(at) = self.fetching.iter().position(|(f, _)| *f == id) else {
            return true;
        };
        let (_, version) = self.fetching.swap_remove(at);
        if waits(&self.writes, id, shown) {
            self.announce(id, version);
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_announcement_is_fetched_once() {
        let mut pending = Pending::default();
        pending.announce(1, 2);
        assert_eq!(pending.due(false, |_| Some(1)), [1]);
        pending.announce(1, 2);
        assert!(
            pending.due(false, |_| Some(1)).is_empty(),
            "already on its way"
        );
        assert!(pending.fetched(1, Some(2)));
        assert!(pending.due(false, |_| Some(2)).is_empty(), "shown now");
    }

    #[test]
    fn an_older_version_than_shown_is_dropped() {
        let mut pending = Pending::default();
        pending.announce(1, 2);
        assert!(pending.due(false, |_| Some(3)).is_empty());
        assert!(pending.due(false, |_| Some(1)).is_empty(), "and forgotten");
    }

    #[test]
    fn changes_wait_while_the_list_loads() {
        let mut pending = Pending::default();
        pending.announce(4, 1);
        assert!(pending.due(true, |_| None).is_empty());
        assert_eq!(pending.due(false, |_| None), [4]);
    }

    #[test]
    fn a_reload_forgets_what_it_brings() {
        let mut pending = Pending::default();
        pending.announce(4, 1);
        pending.forget_announced();
        assert!(pending.due(false, |_| None).is_empty());
    }

    #[test]
    fn a_change_of_a_task_this_tab_writes_waits_for_the_write() {
        let mut pending = Pending::default();
        pending.begin(Write::Task(1));
        pending.announce(1, 3);
        assert!(pending.due(false, |_| Some(2)).is_empty());
        pending.end(Write::Task(1));
        // Our own change: the write's answer shows version 3.
        assert!(pending.due(false, |_| Some(3)).is_empty());

        // A concurrent change from elsewhere is not lost.
        pending.begin(Write::Task(1));
        pending.announce(1, 5);
        pending.end(Write::Task(1));
        assert_eq!(pending.due(false, |_| Some(4)), [1]);
    }

    #[test]
    fn overlapping_writes_of_one_task_are_counted() {
        let mut pending = Pending::default();
        pending.begin(Write::Task(1));
        pending.begin(Write::Task(1));
        pending.announce(1, 3);
        pending.end(Write::Task(1));
        assert!(pending.due(false, |_| Some(2)).is_empty());
        pending.end(Write::Task(1));
        assert_eq!(pending.due(false, |_| Some(2)), [1]);
    }

    #[test]
    fn while_this_tab_creates_a_task_new_tasks_wait() {
        let mut pending = Pending::default();
        pending.begin(Write::Create);
        pending.announce(9, 1);
        pending.announce(2, 5);
        assert_eq!(pending.due(false, |id| (id == 2).then_some(4)), [2]);
        pending.end(Write::Create);
        // Task 9 was this tab's: shown now, from the API's answer.
        assert!(pending.due(false, |_| Some(1)).is_empty());
    }

    #[test]
    fn an_answer_that_arrives_during_a_write_waits_for_it() {
        let mut pending = Pending::default();
        pending.announce(1, 3);
        assert_eq!(pending.due(false, |_| Some(2)), [1]);
        pending.begin(Write::Task(1));
        assert!(!pending.fetched(1, Some(2)));
        pending.end(Write::Task(1));
        assert_eq!(pending.due(false, |_| Some(2)), [1], "looked at again");
    }
}
