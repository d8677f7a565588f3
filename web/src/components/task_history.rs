//! A task's audit trail: what changed, old -> new, and when.

use chrono::{DateTime, Utc};
use task_core::history::HistoryEntry;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::format::{describe_event, relative_time};

#[derive(Properties, PartialEq)]
pub struct TaskHistoryProps {
    pub task_id: i64,
    pub title: String,
    pub now: DateTime<Utc>,
}

enum Loaded {
    Waiting,
    Entries(Vec<HistoryEntry>),
    Failed(String),
}

#[component]
pub fn TaskHistory(props: &TaskHistoryProps) -> Html {
    let loaded = use_state(|| Loaded::Waiting);
    {
        let loaded = loaded.clone();
        use_effect_with(props.task_id, move |id| {
            let id = *id;
            spawn_local(async move {
                loaded.set(match api::task_history(id).await {
                    Ok(entries) => Loaded::Entries(entries),
                    Err(failure) => Loaded::Failed(failure.message()),
                });
            });
        });
    }
    let body = match &*loaded {
        Loaded::Waiting => html! { <p class="muted">{ "Loading the history…" }</p> },
        Loaded::Failed(message) => {
            html! { <p class="field-error">{ format!("The history could not be loaded: {message}") }</p> }
        }
        Loaded::Entries(entries) if entries.is_empty() => html! {
            <p class="muted">{ "No recorded changes yet; they appear within a moment." }</p>
        },
        Loaded::Entries(entries) => html! {
            <ol class="history-entries">
                { for entries.iter().map(|entry| {
                    let (headline, details) = describe_event(&entry.event_type, &entry.data);
                    let when = entry.time.unwrap_or(entry.processed_at);
                    html! {
                        <li key={entry.event_id.clone()} data-event-type={entry.event_type.clone()}>
                            <strong>{ headline }</strong>
                            { " " }
                            <time datetime={when.to_rfc3339()} title={when.to_rfc3339()}>{ relative_time(when, props.now) }</time>
                            if !details.is_empty() {
                                <ul class="changes">
                                    { for details.into_iter().map(|d| html! { <li>{ d }</li> }) }
                                </ul>
                            }
                        </li>
                    }
                }) }
            </ol>
        },
    };
    html! {
        <section class="history" aria-label={format!("History of {}", props.title)}>
            <h3>{ "History" }</h3>
            { body }
        </section>
    }
}
