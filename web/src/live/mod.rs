//! Live updates: the signed-in person's task changes, pushed by the server
//! (`GET /api/task-events`, Server-Sent Events), shown as they happen. An
//! event only says which task changed: the task is then fetched again, so
//! what is shown is what the database holds (a forged or stale event shows
//! nothing new).
//!
//! `sse` reads the framing, `stream` holds the stream open, `tabs` shares one
//! stream among the browser's tabs, `pending` decides when an announced
//! change is looked at; [`use_live_list`] ties them to the list.

mod pending;
mod sse;
mod stream;
mod tabs;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use gloo_timers::callback::Timeout;
use serde::{Deserialize, Serialize};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::components::notices::{NoticeAction, Notices};
use crate::sign_in::Person;
use crate::state::{Action, TaskList};
use pending::Pending;
pub use pending::Write;

/// A burst of changes costs one counts call: they are fetched this long
/// after the last change.
const COUNTS_DEBOUNCE: Duration = Duration::from_millis(200);

/// What the stream says, in this tab's terms (also what tabs post to each other).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LiveMessage {
    /// Whether the stream (this tab's or the leading tab's) is connected.
    Status(bool),
    /// Load the list and the counts again: the subscription is new (so
    /// anything before it may be missing) or could not resume.
    Reload,
    /// Task `task_id` changed; `version` is the version the change produced.
    Changed { task_id: i64, version: i32 },
}

/// Live updates as the page sees them.
pub struct LiveList {
    /// The stream is connected.
    pub connected: bool,
    /// Where the page tells of its own writes.
    pub writes: Writes,
}

/// Keeps the list live: applies the changes the stream announces once the
/// API confirms them, and reloads it when the stream says so.
#[hook]
pub fn use_live_list(
    list: &UseReducerHandle<TaskList>,
    notices: &UseReducerHandle<Notices>,
) -> LiveList {
    let user = use_context::<Person>().map(|person| person.sub);
    let connected = use_state(|| false);
    let follow = Follow {
        list: list.clone(),
        notices: notices.clone(),
        pending: use_mut_ref(Pending::default),
        counts_timer: use_mut_ref(|| None),
    };
    {
        let (follow, connected) = (follow.clone(), connected.clone());
        use_effect_with(user.unwrap_or_default(), move |user| {
            let on_message = Callback::from(move |message| match message {
                LiveMessage::Status(live) => connected.set(live),
                LiveMessage::Reload => {
                    follow.pending.borrow_mut().forget_announced();
                    follow.list.dispatch(Action::Reload);
                }
                LiveMessage::Changed { task_id, version } => {
                    follow.pending.borrow_mut().announce(task_id, version);
                    follow.look();
                }
            });
            let live = tabs::start(user.clone(), on_message);
            move || drop(live)
        });
    }
    {
        // What was announced while a page was loading, once it is in.
        let follow = follow.clone();
        use_effect_with(list.loading, move |_| follow.look());
    }
    LiveList {
        connected: *connected,
        writes: Writes(follow),
    }
}

/// Tells live updates of this tab's own writes, so that they are not
/// announced as changes made elsewhere.
#[derive(Clone)]
pub struct Writes(Follow);

impl PartialEq for Writes {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0.pending, &other.0.pending)
    }
}

impl Writes {
    /// A write is on its way until the guard is dropped: keep it until the
    /// API's answer is shown.
    pub fn begin(&self, write: Write) -> WriteGuard {
        self.0.pending.borrow_mut().begin(write);
        WriteGuard {
            follow: self.0.clone(),
            write,
        }
    }
}

pub struct WriteGuard {
    follow: Follow,
    write: Write,
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        self.follow.pending.borrow_mut().end(self.write);
        // Changes held for this write, against the version shown now.
        self.follow.look();
    }
}

#[derive(Clone)]
struct Follow {
    list: UseReducerHandle<TaskList>,
    notices: UseReducerHandle<Notices>,
    pending: Rc<RefCell<Pending>>,
    counts_timer: Rc<RefCell<Option<Timeout>>>,
}

impl Follow {
    /// The version of task `id` the list shows now.
    fn shown(&self, id: i64) -> Option<i32> {
        self.list
            .tasks
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.version)
    }

    /// Fetches the announced changes that are due.
    fn look(&self) {
        let due = self
            .pending
            .borrow_mut()
            .due(self.list.loading, |id| self.shown(id));
        for id in due {
            spawn_local(self.clone().fetch(id));
        }
    }

    async fn fetch(self, id: i64) {
        let answer = api::get_task(id).await;
        if !self.pending.borrow_mut().fetched(id, self.shown(id)) {
            return;
        }
        match answer {
            Ok(Some(task)) => self.list.dispatch(Action::Refreshed(task)),
            Ok(None) => self.list.dispatch(Action::Gone(id)),
            // The outage banner reloads everything once the API is back.
            Err(failure) => {
                if failure.is_outage() {
                    self.notices.dispatch(NoticeAction::Outage);
                }
                return;
            }
        }
        let (list, notices) = (self.list.clone(), self.notices.clone());
        let timer = Timeout::new(COUNTS_DEBOUNCE.as_millis() as u32, move || {
            crate::app::refresh_counts(&list, &notices, list.view.clone())
        });
        // Replacing the pending timer cancels it.
        *self.counts_timer.borrow_mut() = Some(timer);
        self.look();
    }
}
