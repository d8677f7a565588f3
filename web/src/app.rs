//! The page: the form, the filter, the list, and what keeps them in step
//! with the API, the URL and changes made elsewhere.

use std::time::Duration;

use chrono::{DateTime, Utc};
use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use task_core::problem::Problem;
use task_core::task::{Task, TaskStatus, UpdateTaskRequest};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::api::{self, ApiFailure};
use crate::components::filter_bar::FilterBar;
use crate::components::live::{LiveAnnouncer, LiveStatus};
use crate::components::notices::{NoticeAction, NoticeArea, Notices};
use crate::components::task_form::TaskForm;
use crate::components::task_item::TaskItem;
use crate::live::{Write, use_live_list};
use crate::shell::Account;
use crate::state::{Action, TaskList};
use crate::view::View;

/// Typing pauses this long before the search runs.
const SEARCH_DEBOUNCE: Duration = Duration::from_millis(250);
/// While the server is unreachable, look again this often.
const RETRY_EVERY: Duration = Duration::from_secs(3);

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

fn location_query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// Puts `view` in the address bar: a new history entry, or in place.
fn show_in_url(view: &View, new_entry: bool) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let path = window.location().pathname().unwrap_or_else(|_| "/".into());
    let url = format!("{path}{}", view.to_query());
    if let Ok(history) = window.history() {
        let _ = if new_entry {
            history.push_state_with_url(&JsValue::NULL, "", Some(&url))
        } else {
            history.replace_state_with_url(&JsValue::NULL, "", Some(&url))
        };
    }
}

/// Tells the person what went wrong; an outage also raises the banner.
fn report(notices: &UseReducerHandle<Notices>, what: &str, failure: &ApiFailure) {
    if failure.is_outage() {
        notices.dispatch(NoticeAction::Outage);
    }
    notices.dispatch(NoticeAction::Say(format!("{what}: {}", failure.message())));
}

pub(crate) fn refresh_counts(
    list: &UseReducerHandle<TaskList>,
    notices: &UseReducerHandle<Notices>,
    view: View,
) {
    let (list, notices) = (list.clone(), notices.clone());
    spawn_local(async move {
        match api::count_tasks(view.effective_search()).await {
            Ok(counts) => list.dispatch(Action::CountsLoaded(counts)),
            Err(failure) if failure.is_outage() => notices.dispatch(NoticeAction::Outage),
            Err(_) => {}
        }
    });
}

#[component]
pub fn App() -> Html {
    let list = use_reducer(|| TaskList::new(View::from_query(&location_query())));
    let notices = use_reducer(Notices::default);
    let typed_search = use_state(|| list.view.search.clone());
    let search_timer = use_mut_ref(|| None::<Timeout>);
    let clock = use_state(now);
    // Before the first page's effect, so that this tab hears of changes
    // before it asks for the page.
    let live = use_live_list(&list, &notices);

    // The first page and the counts of the view, whenever it changes.
    {
        let (list, notices) = (list.clone(), notices.clone());
        use_effect_with(list.generation, move |generation| {
            let generation = *generation;
            let view = list.view.clone();
            refresh_counts(&list, &notices, view.clone());
            spawn_local(async move {
                match api::list_tasks(&view, None).await {
                    Ok((tasks, next_cursor)) => list.dispatch(Action::PageLoaded {
                        generation,
                        tasks,
                        next_cursor,
                        append: false,
                    }),
                    Err(failure) => {
                        list.dispatch(Action::PageFailed { generation });
                        report(&notices, "The tasks could not be loaded", &failure);
                    }
                }
            });
        });
    }

    // Back and forward restore the filter and the search.
    {
        let (list, typed_search) = (list.clone(), typed_search.clone());
        use_effect_with((), move |_| {
            let listener = web_sys::window().map(|window| {
                EventListener::new(&window, "popstate", move |_| {
                    let view = View::from_query(&location_query());
                    typed_search.set(view.search.clone());
                    list.dispatch(Action::ShowView(view));
                })
            });
            move || drop(listener)
        });
    }

    // Relative times stay true.
    {
        let clock = clock.clone();
        use_effect_with((), move |_| {
            let tick = Interval::new(30_000, move || clock.set(now()));
            move || drop(tick)
        });
    }

    // While the server is unreachable, look for it, and reload when it is back.
    {
        let (list, notices) = (list.clone(), notices.clone());
        use_effect_with(notices.outage, move |outage| {
            let poll = outage.then(|| {
                Interval::new(RETRY_EVERY.as_millis() as u32, move || {
                    let (list, notices) = (list.clone(), notices.clone());
                    spawn_local(async move {
                        if api::is_up().await {
                            notices.dispatch(NoticeAction::Recovered);
                            notices.dispatch(NoticeAction::Say(
                                "The server is reachable again.".into(),
                            ));
                            list.dispatch(Action::Reload);
                        }
                    });
                })
            });
            move || drop(poll)
        });
    }

    let on_status = {
        let list = list.clone();
        Callback::from(move |status: Option<TaskStatus>| {
            let view = View {
                status,
                search: list.view.search.clone(),
            };
            show_in_url(&view, true);
            list.dispatch(Action::ShowView(view));
        })
    };
    let on_search = {
        let (list, typed_search, search_timer) =
            (list.clone(), typed_search.clone(), search_timer.clone());
        Callback::from(move |text: String| {
            typed_search.set(text.clone());
            let list = list.clone();
            let timer = Timeout::new(SEARCH_DEBOUNCE.as_millis() as u32, move || {
                let view = View {
                    status: list.view.status,
                    search: text,
                };
                if view != list.view {
                    show_in_url(&view, false);
                    list.dispatch(Action::ShowView(view));
                }
            });
            // Replacing the pending timer cancels it.
            *search_timer.borrow_mut() = Some(timer);
        })
    };
    let on_failure = {
        let notices = notices.clone();
        Callback::from(move |(what, failure): (String, ApiFailure)| {
            report(&notices, &what, &failure)
        })
    };
    let on_created = {
        let (list, notices) = (list.clone(), notices.clone());
        Callback::from(move |task: Task| {
            notices.dispatch(NoticeAction::Say(format!("Added “{}”.", task.title)));
            list.dispatch(Action::Upsert(task));
            refresh_counts(&list, &notices, list.view.clone());
        })
    };
    let on_update = {
        let (list, notices, writes) = (list.clone(), notices.clone(), live.writes.clone());
        Callback::from(move |(shown, request): (Task, UpdateTaskRequest)| {
            // Optimistic: show the change now, take it back if the API refuses.
            let Ok(patch) = request.clone().validate() else {
                return;
            };
            let write = writes.begin(Write::Task(shown.id));
            if let Some(changed) = patch.apply_to(&shown) {
                list.dispatch(Action::Upsert(changed));
            }
            let (list, notices) = (list.clone(), notices.clone());
            spawn_local(async move {
                match api::update_task(shown.id, shown.version, &request).await {
                    Ok(task) => list.dispatch(Action::Upsert(task)),
                    Err(ApiFailure::Refused(Problem {
                        status: 412,
                        current: Some(current),
                        ..
                    })) => {
                        notices.dispatch(NoticeAction::Say(format!(
                            "“{}” was changed elsewhere, so your change was not saved. Showing its current version ({}).",
                            shown.title, current.version
                        )));
                        list.dispatch(Action::Upsert(*Box::new(current)));
                    }
                    Err(ApiFailure::Refused(Problem { status: 404, .. })) => {
                        notices.dispatch(NoticeAction::Say(format!(
                            "“{}” no longer exists.",
                            shown.title
                        )));
                        list.dispatch(Action::Remove(shown.id));
                    }
                    Err(failure) => {
                        list.dispatch(Action::Upsert(shown.clone()));
                        report(
                            &notices,
                            &format!("“{}” was not changed", shown.title),
                            &failure,
                        );
                    }
                }
                drop(write);
                refresh_counts(&list, &notices, list.view.clone());
            });
        })
    };
    let on_delete = {
        let (list, notices, writes) = (list.clone(), notices.clone(), live.writes.clone());
        Callback::from(move |task: Task| {
            let write = writes.begin(Write::Task(task.id));
            list.dispatch(Action::Remove(task.id));
            let (list, notices) = (list.clone(), notices.clone());
            spawn_local(async move {
                match api::delete_task(task.id).await {
                    Ok(()) | Err(ApiFailure::Refused(Problem { status: 404, .. })) => {
                        notices.dispatch(NoticeAction::Say(format!("Deleted “{}”.", task.title)));
                    }
                    Err(failure) => {
                        list.dispatch(Action::Upsert(task.clone()));
                        report(
                            &notices,
                            &format!("“{}” was not deleted", task.title),
                            &failure,
                        );
                    }
                }
                drop(write);
                refresh_counts(&list, &notices, list.view.clone());
            });
        })
    };
    let on_more = {
        let (list, notices) = (list.clone(), notices.clone());
        Callback::from(move |_| {
            let (list, notices) = (list.clone(), notices.clone());
            let (view, cursor, generation) = (list.view.clone(), list.next_cursor, list.generation);
            spawn_local(async move {
                match api::list_tasks(&view, cursor).await {
                    Ok((tasks, next_cursor)) => list.dispatch(Action::PageLoaded {
                        generation,
                        tasks,
                        next_cursor,
                        append: true,
                    }),
                    Err(failure) => report(&notices, "More tasks could not be loaded", &failure),
                }
            });
        })
    };

    let filtered = list.view != View::default();
    html! {
        <>
            <header class="top">
                <h1>{ "Tasks" }</h1>
                <LiveStatus connected={live.connected} />
                <Account />
            </header>
            <main>
                <NoticeArea notices={notices.clone()} />
                <LiveAnnouncer change={list.elsewhere.clone()} />
                <TaskForm {on_created} {on_failure} writes={live.writes.clone()} />
                <FilterBar status={list.view.status} search={(*typed_search).clone()}
                           counts={list.counts} {on_status} {on_search} />
                if list.view.search_too_short() {
                    <p class="muted search-hint" role="status">{ "Type at least 3 characters to search." }</p>
                }
                <section class="list" aria-label="Tasks" aria-busy={if list.loading { "true" } else { "false" }}>
                    if list.tasks.is_empty() && !list.loading {
                        <p class="empty-state">
                            { if filtered {
                                "No tasks match this filter or search. Choose “All” or clear the search to see every task."
                            } else {
                                "No tasks yet. Add your first one with the form above."
                            } }
                        </p>
                    }
                    <ul class="tasks">
                        { for list.tasks.iter().map(|task| html! {
                            <TaskItem key={task.id} task={task.clone()} now={*clock}
                                      on_update={on_update.clone()} on_delete={on_delete.clone()} />
                        }) }
                    </ul>
                    if list.next_cursor.is_some() {
                        <button type="button" class="secondary more" onclick={on_more}>{ "Load more" }</button>
                    }
                </section>
            </main>
        </>
    }
}
