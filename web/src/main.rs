//! The task app in the browser. Pure logic (what the URL says, how the list
//! changes, how things are worded) lives in `view`, `state` and `format` and is
//! unit-tested on the host; `api` talks to the public API on the same origin;
//! `sign_in` (pure) and `session` sign the person in; `shell` shows the
//! signed-out page or the app; `app` and `components` are the Yew UI; `live`
//! keeps the list up to date with changes made elsewhere.

mod api;
mod app;
mod components;
mod format;
mod live;
mod session;
mod shell;
mod sign_in;
mod state;
mod view;

fn main() {
    yew::Renderer::<shell::Shell>::new().render();
}
