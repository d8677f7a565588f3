//! One stream per browser and person, shared by their tabs: a browser opens
//! only six HTTP/1.1 connections per origin, so seven tabs with a stream each
//! would starve. The tab holding a Web Lock leads: it holds the stream and
//! posts every message on a BroadcastChannel, which does not deliver to the
//! sender, so it also applies them itself. The other tabs wait for the lock
//! and follow the posts; when the leader goes, the next one gets the lock and
//! resumes from the last event id it heard. Without Web Locks or
//! BroadcastChannel, every tab holds a stream of its own.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use js_sys::{Function, Promise, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::spawn_local;
use web_sys::{BroadcastChannel, MessageEvent};
use yew::Callback;

use super::LiveMessage;
use super::stream::{self, Handle, Report};

const CHANNEL: &str = "task-events";
/// Followed by the person's `sub`: tabs of another person signed in in the
/// same browser need a stream (and a leader) of their own.
const LOCK: &str = "task-events-stream";

/// What goes over the channel. Tabs of other people signed in in the same
/// browser hear it too, so each post names whose it is.
#[derive(Serialize, Deserialize)]
struct Post {
    user: String,
    said: Said,
}

#[derive(Serialize, Deserialize)]
enum Said {
    /// A tab that just opened asks whether the stream is live.
    Ask,
    /// A message of the leader's stream, and the last event id after it.
    Message {
        last_id: String,
        message: LiveMessage,
    },
    /// Only the last event id moved (a keep-alive).
    Moved { last_id: String },
}

/// Live updates running in this tab; dropping it stops them.
pub struct Live(Rc<Tab>);

struct Tab {
    user: String,
    on_message: Callback<LiveMessage>,
    stream: Rc<Handle>,
    /// `None` when every tab holds its own stream.
    channel: Option<BroadcastChannel>,
    leading: Cell<bool>,
    /// Whether this tab's own stream is connected.
    connected: Cell<bool>,
    /// Resolving it releases the lock.
    release: RefCell<Option<Function>>,
    listener: RefCell<Option<EventListener>>,
}

/// Starts live updates for `user` (their `sub`): `on_message` hears them,
/// from this tab's stream or the leading tab's.
pub fn start(user: String, on_message: Callback<LiveMessage>) -> Live {
    let locks = lock_manager();
    let channel = BroadcastChannel::new(CHANNEL)
        .ok()
        .filter(|_| locks.is_some());
    let tab = Rc::new(Tab {
        user,
        on_message,
        stream: Rc::default(),
        channel,
        leading: Cell::new(false),
        connected: Cell::new(false),
        release: RefCell::default(),
        listener: RefCell::default(),
    });
    match (locks, &tab.channel) {
        (Some((locks, request)), Some(channel)) => {
            let weak = Rc::downgrade(&tab);
            *tab.listener.borrow_mut() =
                Some(EventListener::new(channel, "message", move |event| {
                    if let Some(tab) = weak.upgrade() {
                        tab.heard(event);
                    }
                }));
            tab.post(Said::Ask);
            let name = JsValue::from_str(&format!("{LOCK}:{}", tab.user));
            let granted = granted(Rc::downgrade(&tab));
            // Its promise settles only when the lock is released.
            let _ = request.call2(&locks, &name, &granted);
        }
        _ => tab.run_stream(),
    }
    Live(tab)
}

/// `navigator.locks` and its `request` method, where the browser has them.
fn lock_manager() -> Option<(JsValue, Function)> {
    let navigator = web_sys::window()?.navigator();
    let locks = Reflect::get(&navigator, &JsValue::from_str("locks")).ok()?;
    let request = Reflect::get(&locks, &JsValue::from_str("request")).ok()?;
    Some((locks, request.dyn_into().ok()?))
}

/// The callback of the lock request: this tab leads until the promise it
/// returns settles. A tab stopped meanwhile returns nothing, which hands the
/// lock on at once.
fn granted(tab: Weak<Tab>) -> JsValue {
    Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        match tab.upgrade() {
            Some(tab) if !tab.stream.stopped() => tab.lead().into(),
            _ => JsValue::UNDEFINED,
        }
    })
}

impl Tab {
    fn lead(self: &Rc<Self>) -> Promise {
        self.leading.set(true);
        // The tab that led may have said "live"; nobody is until this tab's
        // stream connects.
        self.tell(LiveMessage::Status(false));
        let mut release = None;
        let held = Promise::new(&mut |resolve, _reject| release = Some(resolve));
        *self.release.borrow_mut() = release;
        self.run_stream();
        held
    }

    fn run_stream(self: &Rc<Self>) {
        let tab = self.clone();
        let report = Rc::new(move |report| match report {
            Report::Live(live) => {
                if tab.connected.replace(live) != live {
                    tab.tell(LiveMessage::Status(live));
                }
            }
            Report::Message(message) => tab.tell(message),
            Report::Moved => tab.post(Said::Moved {
                last_id: tab.last_id(),
            }),
        });
        spawn_local(stream::run(self.stream.clone(), report));
    }

    fn last_id(&self) -> String {
        self.stream.last_id.borrow().clone()
    }

    /// A message of this tab's stream: applied here, and posted for the
    /// others when this tab leads.
    fn tell(&self, message: LiveMessage) {
        if self.stream.stopped() {
            return;
        }
        if self.leading.get() {
            self.post(Said::Message {
                last_id: self.last_id(),
                message: message.clone(),
            });
        }
        self.on_message.emit(message);
    }

    fn post(&self, said: Said) {
        let post = Post {
            user: self.user.clone(),
            said,
        };
        if let (Some(channel), Ok(text)) = (&self.channel, serde_json::to_string(&post)) {
            let _ = channel.post_message(&JsValue::from_str(&text));
        }
    }

    /// A post of another tab.
    fn heard(&self, event: &web_sys::Event) {
        let Some(text) = event
            .dyn_ref::<MessageEvent>()
            .and_then(|e| e.data().as_string())
        else {
            return;
        };
        let Ok(post) = serde_json::from_str::<Post>(&text) else {
            return;
        };
        if post.user != self.user {
            return;
        }
        match post.said {
            Said::Ask if self.leading.get() => self.post(Said::Message {
                last_id: self.last_id(),
                message: LiveMessage::Status(self.connected.get()),
            }),
            // Only the leader's stream speaks; the leader follows nobody.
            _ if self.leading.get() => {}
            Said::Ask => {}
            Said::Moved { last_id } => *self.stream.last_id.borrow_mut() = last_id,
            Said::Message { last_id, message } => {
                *self.stream.last_id.borrow_mut() = last_id;
                self.on_message.emit(message);
            }
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let tab = &self.0;
        if tab.leading.get() {
            // The others stop saying "live" until the next leader connects.
            tab.post(Said::Message {
                last_id: tab.last_id(),
                message: LiveMessage::Status(false),
            });
        }
        tab.stream.stop();
        if let Some(release) = tab.release.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
        tab.listener.take();
        if let Some(channel) = &tab.channel {
            channel.close();
        }
    }
}
