//! The status filter, with counts, and the search box.

use task_core::list::TaskCounts;
use task_core::task::TaskStatus;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::format::status_label;

#[derive(Properties, PartialEq)]
pub struct FilterBarProps {
    pub status: Option<TaskStatus>,
    pub search: String,
    pub counts: TaskCounts,
    pub on_status: Callback<Option<TaskStatus>>,
    /// Every keystroke; the app debounces.
    pub on_search: Callback<String>,
}

#[component]
pub fn FilterBar(props: &FilterBarProps) -> Html {
    let choices: Vec<(Option<TaskStatus>, &str)> = std::iter::once((None, "All"))
        .chain(
            TaskStatus::ALL
                .into_iter()
                .map(|s| (Some(s), status_label(s))),
        )
        .collect();
    let on_input = {
        let on_search = props.on_search.clone();
        Callback::from(move |event: InputEvent| {
            on_search.emit(event.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    html! {
        <section class="filters" aria-label="Filter tasks">
            <div class="status-filter" role="group" aria-label="Show tasks by status">
                { for choices.into_iter().map(|(status, label)| {
                    let selected = props.status == status;
                    let onclick = {
                        let on_status = props.on_status.clone();
                        Callback::from(move |_| on_status.emit(status))
                    };
                    let count = props.counts.of(status);
                    // A search's counts stop at 100 matches: then each is "at least".
                    let (shown, spoken) = if props.counts.exact {
                        (count.to_string(), format!("{count} tasks"))
                    } else {
                        (format!("{count}+"), format!("at least {count} tasks"))
                    };
                    html! {
                        <button type="button" class={classes!("chip", selected.then_some("selected"))}
                                aria-pressed={if selected { "true" } else { "false" }} {onclick}
                                data-status={status.map(|s| s.as_str()).unwrap_or("all")}>
                            { label }
                            <span class="count" aria-label={spoken}>{ shown }</span>
                        </button>
                    }
                }) }
            </div>
            <label class="search">
                <span class="visually-hidden">{ "Search tasks" }</span>
                <input type="search" placeholder="Search tasks" value={props.search.clone()}
                       oninput={on_input} autocomplete="off" />
            </label>
        </section>
    }
}
