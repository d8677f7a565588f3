//! A task's audit trail: what changed, old -> new, and when; the newest
//! changes first, older ones on request.

use chrono::{DateTime, Utc};
use task_core::history::HistoryEntry;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api;
use crate::format::{describe_actor, describe_event, relative_time};
use crate::sign_in::Person;

#[derive(Properties, PartialEq)]
pub struct TaskHistoryProps {
    pub task_id: i64,
    pub title: String,
    pub now: DateTime<Utc>,
}

/// What has been loaded so far: the newest entries first, older ones added
/// at the end a page at a time.
enum Loaded {
    Waiting,
    Entries {
        entries: Vec<HistoryEntry>,
        /// Where the next (older) page starts, while there is one.
        older: Option<String>,
        loading_older: bool,
    },
    Failed(String),
}

#[component]
pub fn TaskHistory(props: &TaskHistoryProps) -> Html {
    let loaded = use_state(|| Loaded::Waiting);
    let me = use_context::<Person>().map(|person| person.sub);
    {
        let loaded = loaded.clone();
        use_effect_with(props.task_id, move |id| {
            let id = *id;
            spawn_local(async move {
                loaded.set(match api::task_history(id, None).await {
                    Ok((entries, older)) => Loaded::Entries {
                        entries,
                        older,
                        loading_older: false,
                    },
                    Err(failure) => Loaded::Failed(failure.message()),
                });
            });
        });
    }
    let on_older = {
        let (loaded, id) = (loaded.clone(), props.task_id);
        Callback::from(move |_| {
            let Loaded::Entries {
                entries,
                older: Some(cursor),
                loading_older: false,
            } = &*loaded
            else {
                return;
            };
            let (mut entries, cursor) = (entries.clone(), cursor.clone());
            loaded.set(Loaded::Entries {
                entries: entries.clone(),
                older: Some(cursor.clone()),
                loading_older: true,
            });
            let loaded = loaded.clone();
            spawn_local(async move {
                loaded.set(match api::task_history(id, Some(&cursor)).await {
                    Ok((page, older)) => {
                        entries.extend(page);
                        Loaded::Entries {
                            entries,
                            older,
                            loading_older: false,
                        }
                    }
                    Err(failure) => Loaded::Failed(failure.message()),
                });
            });
        })
    };
    let body = match &*loaded {
        Loaded::Waiting => html! { <p class="muted">{ "Loading the history…" }</p> },
        Loaded::Failed(message) => {
            html! { <p class="field-error">{ format!("The history could not be loaded: {message}") }</p> }
        }
        Loaded::Entries { entries, .. } if entries.is_empty() => html! {
            <p class="muted">{ "No recorded changes yet; they appear within a moment." }</p>
        },
        Loaded::Entries {
            entries,
            older,
            loading_older,
        } => html! {
            <>
                <ol class="history-entries" reversed=true>
                    { for entries.iter().map(|entry| {
                        let (headline, details) = describe_event(&entry.event_type, &entry.data);
                        let who = describe_actor(entry.actor.as_deref(), entry.verified, me.as_deref());
                        let when = entry.time.unwrap_or(entry.processed_at);
                        html! {
                            <li key={entry.event_id.clone()} data-event-type={entry.event_type.clone()}>
                                <strong>{ headline }</strong>
                                { " " }
                                <time datetime={when.to_rfc3339()} title={when.to_rfc3339()}>{ relative_time(when, props.now) }</time>
                                { " " }
                                <span class={classes!("actor", (!entry.verified).then_some("unverified"))}>{ who }</span>
                                if !details.is_empty() {
                                    <ul class="changes">
                                        { for details.into_iter().map(|d| html! { <li>{ d }</li> }) }
                                    </ul>
                                }
                            </li>
                        }
                    }) }
                </ol>
                if older.is_some() {
                    <button type="button" class="secondary older" onclick={on_older}
                            disabled={*loading_older}>
                        { if *loading_older { "Loading…" } else { "Show older changes" } }
                    </button>
                }
            </>
        },
    };
    html! {
        <section class="history" aria-label={format!("History of {}", props.title)}>
            <h2>{ "History" }</h2>
            { body }
        </section>
    }
}
