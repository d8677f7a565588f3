//! Messages for the person: an aria-live list, and a banner while the server
//! cannot be reached.

use std::rc::Rc;

use yew::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub id: u32,
    pub text: String,
}

/// The messages shown, and whether the server is unreachable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notices {
    pub messages: Vec<Notice>,
    pub outage: bool,
    next_id: u32,
}

pub enum NoticeAction {
    Say(String),
    Dismiss(u32),
    Outage,
    Recovered,
}

/// Only the latest few messages stay on screen.
const SHOWN: usize = 3;

impl Reducible for Notices {
    type Action = NoticeAction;

    fn reduce(self: Rc<Self>, action: NoticeAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            NoticeAction::Say(text) => {
                next.next_id += 1;
                next.messages.push(Notice {
                    id: next.next_id,
                    text,
                });
                if next.messages.len() > SHOWN {
                    next.messages.remove(0);
                }
            }
            NoticeAction::Dismiss(id) => next.messages.retain(|m| m.id != id),
            NoticeAction::Outage => next.outage = true,
            NoticeAction::Recovered => next.outage = false,
        }
        Rc::new(next)
    }
}

#[derive(Properties, PartialEq)]
pub struct NoticesProps {
    pub notices: UseReducerHandle<Notices>,
}

#[component]
pub fn NoticeArea(props: &NoticesProps) -> Html {
    let notices = props.notices.clone();
    html! {
        <>
            <div class="outage" role="alert">
                if notices.outage {
                    <p>{ "The server cannot be reached. Changes you make now are not saved; retrying every few seconds…" }</p>
                }
            </div>
            <ul class="notices" aria-live="polite" aria-label="Messages">
                { for notices.messages.iter().map(|message| {
                    let dismiss = {
                        let notices = notices.clone();
                        let id = message.id;
                        Callback::from(move |_| notices.dispatch(NoticeAction::Dismiss(id)))
                    };
                    html! {
                        <li key={message.id} class="notice">
                            <span>{ &message.text }</span>
                            <button type="button" class="icon" aria-label="Dismiss message" onclick={dismiss}>{ "×" }</button>
                        </li>
                    }
                }) }
            </ul>
        </>
    }
}
