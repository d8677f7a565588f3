//! The list on screen and how it changes: loaded pages, optimistic edits and
//! their rollback, and changes made elsewhere. Pure, so it is tested without
//! a browser.

use std::rc::Rc;

use task_core::list::TaskCounts;
use task_core::task::Task;
use yew::Reducible;

use crate::view::View;

/// What the list shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskList {
    pub view: View,
    /// Newest first, as the API serves them.
    pub tasks: Vec<Task>,
    /// Where the next page starts, when there is one.
    pub next_cursor: Option<i64>,
    pub counts: TaskCounts,
    /// A page of the current view is on its way.
    pub loading: bool,
    /// Bumped on every view change: answers for an older view are dropped.
    pub generation: u64,
    /// The latest change made elsewhere that changed what is shown, to be
    /// announced; numbered, so that the same words are announced again.
    pub elsewhere: Option<(u64, Elsewhere)>,
}

/// A change made elsewhere (another tab, another device), with the task's title.
#[derive(Debug, Clone, PartialEq)]
pub enum Elsewhere {
    Added(String),
    Changed(String),
    Deleted(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The filter or search changed: start over.
    ShowView(View),
    /// Reload the current view from the first page.
    Reload,
    /// A page arrived for `generation` (dropped if the view changed since).
    PageLoaded {
        generation: u64,
        tasks: Vec<Task>,
        next_cursor: Option<i64>,
        append: bool,
    },
    PageFailed {
        generation: u64,
    },
    CountsLoaded(TaskCounts),
    /// A task as it is now (created, edited, or the server's version).
    Upsert(Task),
    Remove(i64),
    /// A task as the API has it after a change made elsewhere: shown only if
    /// newer than what is shown, so a duplicate or late answer changes nothing.
    Refreshed(Task),
    /// The API no longer has this task.
    Gone(i64),
}

/// Whether `task` belongs in `view` (what the API's filter and search do).
pub fn matches(view: &View, task: &Task) -> bool {
    let search = view.effective_search().to_lowercase();
    view.status.is_none_or(|status| task.status == status)
        && (search.is_empty()
            || task.title.to_lowercase().contains(&search)
            || task
                .description
                .as_deref()
                .is_some_and(|d| d.to_lowercase().contains(&search)))
}

impl TaskList {
    pub fn new(view: View) -> Self {
        Self {
            view,
            loading: true,
            ..Self::default()
        }
    }

    pub fn apply(mut self, action: Action) -> Self {
        match action {
            Action::ShowView(view) => {
                self.view = view;
                self.tasks.clear();
                self.next_cursor = None;
                self.loading = true;
                self.generation += 1;
            }
            Action::Reload => {
                self.loading = true;
                self.generation += 1;
            }
            Action::PageLoaded {
                generation,
                tasks,
                next_cursor,
                append,
            } => {
                if generation != self.generation {
                    return self;
                }
                if append {
                    for task in tasks {
                        if !self.tasks.iter().any(|t| t.id == task.id) {
                            self.tasks.push(task);
                        }
                    }
                } else {
                    self.tasks = tasks;
                }
                self.next_cursor = next_cursor;
                self.loading = false;
            }
            Action::PageFailed { generation } => {
                if generation == self.generation {
                    self.loading = false;
                }
            }
            Action::CountsLoaded(counts) => self.counts = counts,
            Action::Upsert(task) => {
                let position = self.tasks.iter().position(|t| t.id == task.id);
                match (position, matches(&self.view, &task)) {
                    (Some(i), true) => self.tasks[i] = task,
                    (Some(i), false) => {
                        self.tasks.remove(i);
                    }
                    (None, true) => {
                        // Newest first: by id, descending.
                        let at = self
                            .tasks
                            .iter()
                            .position(|t| t.id < task.id)
                            .unwrap_or(self.tasks.len());
                        self.tasks.insert(at, task);
                    }
                    (None, false) => {}
                }
            }
            Action::Remove(id) => self.tasks.retain(|t| t.id != id),
            Action::Refreshed(task) => {
                let shown = self.tasks.iter().find(|t| t.id == task.id);
                if shown.is_some_and(|t| t.version >= task.version) {
                    return self;
                }
                let title = task.title.clone();
                let change = if shown.is_some() {
                    Some(Elsewhere::Changed(title))
                } else if matches(&self.view, &task) {
                    // New here: a first version is a new task; a later one
                    // moved into the view.
                    Some(if task.version == 1 {
                        Elsewhere::Added(title)
                    } else {
                        Elsewhere::Changed(title)
                    })
                } else {
                    None
                };
                self = self.apply(Action::Upsert(task));
                self.say(change);
            }
            Action::Gone(id) => {
                let gone = self.tasks.iter().find(|t| t.id == id);
                let change = gone.map(|t| Elsewhere::Deleted(t.title.clone()));
                self.tasks.retain(|t| t.id != id);
                self.say(change);
            }
        }
        self
    }

    fn say(&mut self, change: Option<Elsewhere>) {
        if let Some(change) = change {
            let number = self.elsewhere.as_ref().map_or(0, |(n, _)| n + 1);
            self.elsewhere = Some((number, change));
        }
    }
}

impl Reducible for TaskList {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new((*self).clone().apply(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use task_core::task::TaskStatus;

    fn task(id: i64, title: &str, status: TaskStatus) -> Task {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap();
        Task {
            id,
            title: title.into(),
            description: None,
            status,
            created_at: at,
            updated_at: at,
            version: 1,
            owner: "u1".into(),
        }
    }

    fn loaded(view: View, tasks: Vec<Task>) -> TaskList {
        let list = TaskList::new(view);
        let generation = list.generation;
        list.apply(Action::PageLoaded {
            generation,
            tasks,
            next_cursor: None,
            append: false,
        })
    }

    fn ids(list: &TaskList) -> Vec<i64> {
        list.tasks.iter().map(|t| t.id).collect()
    }

    #[test]
    fn a_new_task_goes_to_the_top_and_an_edit_stays_in_place() {
        let list = loaded(
            View::default(),
            vec![
                task(2, "b", TaskStatus::Pending),
                task(1, "a", TaskStatus::Pending),
            ],
        );
        let list = list.apply(Action::Upsert(task(3, "c", TaskStatus::Pending)));
        assert_eq!(ids(&list), [3, 2, 1]);
        let list = list.apply(Action::Upsert(task(2, "b!", TaskStatus::Complete)));
        assert_eq!(ids(&list), [3, 2, 1]);
        assert_eq!(list.tasks[1].title, "b!");
    }

    #[test]
    fn a_task_that_leaves_the_filter_leaves_the_list() {
        let view = View {
            status: Some(TaskStatus::Pending),
            search: String::new(),
        };
        let list = loaded(view, vec![task(1, "a", TaskStatus::Pending)]);
        let list = list.apply(Action::Upsert(task(1, "a", TaskStatus::Complete)));
        assert!(list.tasks.is_empty());
        let list = list.apply(Action::Upsert(task(5, "new", TaskStatus::Complete)));
        assert!(
            list.tasks.is_empty(),
            "a complete task does not join a pending view"
        );
    }

    #[test]
    fn a_rolled_back_delete_returns_to_its_place() {
        let list = loaded(
            View::default(),
            vec![
                task(3, "c", TaskStatus::Pending),
                task(2, "b", TaskStatus::Pending),
                task(1, "a", TaskStatus::Pending),
            ],
        );
        let removed = list.tasks[1].clone();
        let list = list.apply(Action::Remove(2));
        assert_eq!(ids(&list), [3, 1]);
        let list = list.apply(Action::Upsert(removed));
        assert_eq!(ids(&list), [3, 2, 1]);
    }

    #[test]
    fn answers_for_an_older_view_are_dropped() {
        let list = TaskList::new(View::default());
        let old = list.generation;
        let list = list.apply(Action::ShowView(View::from_query("q=x")));
        let list = list.apply(Action::PageLoaded {
            generation: old,
            tasks: vec![task(1, "stale", TaskStatus::Pending)],
            next_cursor: None,
            append: false,
        });
        assert!(list.tasks.is_empty());
        assert!(list.loading);
    }

    #[test]
    fn more_pages_append_without_duplicates() {
        let list = loaded(View::default(), vec![task(3, "c", TaskStatus::Pending)]);
        let generation = list.generation;
        let list = list.apply(Action::PageLoaded {
            generation,
            tasks: vec![
                task(3, "c", TaskStatus::Pending),
                task(2, "b", TaskStatus::Pending),
            ],
            next_cursor: Some(2),
            append: true,
        });
        assert_eq!(ids(&list), [3, 2]);
        assert_eq!(list.next_cursor, Some(2));
    }

    fn version(mut task: Task, version: i32) -> Task {
        task.version = version;
        task
    }

    #[test]
    fn a_duplicate_change_from_elsewhere_is_applied_once() {
        let list = loaded(View::default(), vec![task(1, "a", TaskStatus::Pending)]);
        let changed = version(task(1, "a!", TaskStatus::Pending), 2);
        let list = list.apply(Action::Refreshed(changed.clone()));
        assert_eq!(list.tasks[0].title, "a!");
        assert_eq!(list.elsewhere, Some((0, Elsewhere::Changed("a!".into()))));
        let again = list.clone().apply(Action::Refreshed(changed));
        assert_eq!(again, list, "nothing changes, nothing is announced again");
    }

    #[test]
    fn a_late_older_version_is_ignored() {
        let list = loaded(View::default(), vec![task(1, "v1", TaskStatus::Pending)]);
        let list = list.apply(Action::Refreshed(version(
            task(1, "v3", TaskStatus::Pending),
            3,
        )));
        let list = list.apply(Action::Refreshed(version(
            task(1, "v2", TaskStatus::Pending),
            2,
        )));
        assert_eq!(list.tasks[0].title, "v3");
        assert_eq!(list.tasks[0].version, 3);
    }

    #[test]
    fn a_refreshed_task_joins_the_list_only_if_it_matches_the_view() {
        let view = View {
            status: Some(TaskStatus::Pending),
            search: String::new(),
        };
        let list = loaded(view, vec![task(1, "a", TaskStatus::Pending)]);
        let list = list.apply(Action::Refreshed(task(2, "done", TaskStatus::Complete)));
        assert_eq!(ids(&list), [1]);
        assert_eq!(list.elsewhere, None, "nothing shown, nothing announced");
        let list = list.apply(Action::Refreshed(task(3, "new", TaskStatus::Pending)));
        assert_eq!(ids(&list), [3, 1]);
        assert_eq!(list.elsewhere, Some((0, Elsewhere::Added("new".into()))));
        // Completed elsewhere: it leaves the pending view.
        let list = list.apply(Action::Refreshed(version(
            task(1, "a", TaskStatus::Complete),
            2,
        )));
        assert_eq!(ids(&list), [3]);
        assert_eq!(list.elsewhere, Some((1, Elsewhere::Changed("a".into()))));
    }

    #[test]
    fn a_task_gone_from_the_api_leaves_the_list() {
        let list = loaded(
            View::default(),
            vec![
                task(2, "b", TaskStatus::Pending),
                task(1, "a", TaskStatus::Pending),
            ],
        );
        let list = list.apply(Action::Gone(2));
        assert_eq!(ids(&list), [1]);
        assert_eq!(list.elsewhere, Some((0, Elsewhere::Deleted("b".into()))));
        let again = list.clone().apply(Action::Gone(2));
        assert_eq!(again, list);
    }

    #[test]
    fn search_matches_title_or_description_ignoring_case() {
        let view = View::from_query("q=MILK");
        let mut t = task(1, "Buy milk", TaskStatus::Pending);
        assert!(matches(&view, &t));
        t.title = "Shop".into();
        t.description = Some("oat Milk".into());
        assert!(matches(&view, &t));
        t.description = None;
        assert!(!matches(&view, &t));
    }
}
