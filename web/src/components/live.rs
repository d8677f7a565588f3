//! What live updates show: whether the list is live, and, for screen
//! readers only, what changed elsewhere (politely: never interrupting).

use yew::prelude::*;

use crate::format::describe_elsewhere;
use crate::state::Elsewhere;

#[derive(Properties, PartialEq)]
pub struct LiveStatusProps {
    pub connected: bool,
}

/// "Live", or "Not live: reconnecting…"; in words, the dot is only a hint.
#[component]
pub fn LiveStatus(props: &LiveStatusProps) -> Html {
    html! {
        <p id="live-status" class={classes!("live-status", props.connected.then_some("connected"))}>
            { if props.connected { "Live" } else { "Not live: reconnecting…" } }
        </p>
    }
}

#[derive(Properties, PartialEq)]
pub struct LiveAnnouncerProps {
    pub change: Option<(u64, Elsewhere)>,
}

/// In the page from the start, as live regions must be to be heard; each
/// change is a new element, so the same words are announced again.
#[component]
pub fn LiveAnnouncer(props: &LiveAnnouncerProps) -> Html {
    html! {
        <div id="live-announcer" class="visually-hidden" role="status" aria-live="polite">
            if let Some((number, change)) = &props.change {
                <p key={*number}>{ describe_elsewhere(change) }</p>
            }
        </div>
    }
}
