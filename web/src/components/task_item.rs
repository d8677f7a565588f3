//! One task: its status in one click, title and description edited in place
//! (Enter or leaving the field saves, Escape cancels), delete after a
//! confirmation, and its history.

use chrono::{DateTime, Utc};
use task_core::problem::FieldError;
use task_core::task::{Patch, Task, TaskStatus, UpdateTaskRequest};
use web_sys::{HtmlElement, HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::components::task_history::TaskHistory;
use crate::format::{relative_time, status_label};

#[derive(Properties, PartialEq)]
pub struct TaskItemProps {
    pub task: Task,
    pub now: DateTime<Utc>,
    /// The task as shown, and the change asked for.
    pub on_update: Callback<(Task, UpdateTaskRequest)>,
    pub on_delete: Callback<Task>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Description,
}

#[component]
pub fn TaskItem(props: &TaskItemProps) -> Html {
    let task = &props.task;
    let editing = use_state(|| None::<Field>);
    let draft = use_state(String::new);
    let error = use_state(|| None::<String>);
    let confirming = use_state(|| false);
    let history_open = use_state(|| false);
    // Set when Enter or Escape closes the editor, so the blur that follows is ignored.
    let closing = use_mut_ref(|| false);
    let editor_ref = use_node_ref();
    let title_ref = use_node_ref();

    // Focus follows the editor: into it when it opens, back to the title
    // when it closes, so keyboard users keep their place.
    {
        let (editor_ref, title_ref) = (editor_ref.clone(), title_ref.clone());
        let was_editing = use_mut_ref(|| false);
        use_effect_with(*editing, move |editing| {
            let target = if editing.is_some() {
                editor_ref.cast::<HtmlElement>()
            } else if std::mem::take(&mut *was_editing.borrow_mut()) {
                title_ref.cast::<HtmlElement>()
            } else {
                None
            };
            *was_editing.borrow_mut() = editing.is_some();
            if let Some(element) = target {
                let _ = element.focus();
            }
        });
    }

    let start_edit = |field: Field| {
        let (editing, draft, error, closing) = (
            editing.clone(),
            draft.clone(),
            error.clone(),
            closing.clone(),
        );
        let value = match field {
            Field::Title => task.title.clone(),
            Field::Description => task.description.clone().unwrap_or_default(),
        };
        Callback::from(move |_: MouseEvent| {
            *closing.borrow_mut() = false;
            draft.set(value.clone());
            error.set(None);
            editing.set(Some(field));
        })
    };

    // Saves the draft if it changes the field; Err keeps the editor open.
    let commit = {
        let (editing, draft, error) = (editing.clone(), draft.clone(), error.clone());
        let (task, on_update) = (task.clone(), props.on_update.clone());
        move || {
            let Some(field) = *editing else { return };
            let request = match field {
                Field::Title => UpdateTaskRequest {
                    title: Patch::Value((*draft).clone()),
                    ..Default::default()
                },
                Field::Description => UpdateTaskRequest {
                    description: if draft.is_empty() {
                        Patch::Null
                    } else {
                        Patch::Value((*draft).clone())
                    },
                    ..Default::default()
                },
            };
            match request.clone().validate() {
                Err(errors) => {
                    let message = errors
                        .iter()
                        .map(|FieldError { field, message }| {
                            format!("{} {message}.", capitalized(field))
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    error.set(Some(message));
                }
                Ok(patch) => {
                    if patch.apply_to(&task).is_some() {
                        on_update.emit((task.clone(), request));
                    }
                    error.set(None);
                    editing.set(None);
                }
            }
        }
    };

    let on_keydown = {
        let (editing, error, closing) = (editing.clone(), error.clone(), closing.clone());
        let commit = commit.clone();
        Callback::from(move |event: KeyboardEvent| match event.key().as_str() {
            "Enter" if !event.shift_key() => {
                event.prevent_default();
                *closing.borrow_mut() = true;
                commit();
            }
            "Escape" => {
                event.prevent_default();
                *closing.borrow_mut() = true;
                error.set(None);
                editing.set(None);
            }
            _ => {}
        })
    };
    let on_blur = {
        let closing = closing.clone();
        let commit = commit.clone();
        Callback::from(move |_: FocusEvent| {
            if !std::mem::replace(&mut *closing.borrow_mut(), false) {
                commit();
            }
        })
    };
    let on_draft = {
        let draft = draft.clone();
        Callback::from(move |event: InputEvent| {
            let target = event.target_unchecked_into::<web_sys::EventTarget>();
            let value =
                if let Some(input) = wasm_bindgen::JsCast::dyn_ref::<HtmlInputElement>(&target) {
                    input.value()
                } else {
                    wasm_bindgen::JsCast::unchecked_into::<HtmlTextAreaElement>(target).value()
                };
            draft.set(value);
        })
    };

    let status_buttons = TaskStatus::ALL.into_iter().map(|status| {
        let selected = task.status == status;
        let onclick = {
            let (task, on_update) = (task.clone(), props.on_update.clone());
            Callback::from(move |_| {
                if task.status != status {
                    let request = UpdateTaskRequest {
                        status: Patch::Value(status.as_str().to_string()),
                        ..Default::default()
                    };
                    on_update.emit((task.clone(), request));
                }
            })
        };
        html! {
            <button type="button" class={classes!("status", status.as_str(), selected.then_some("selected"))}
                    aria-pressed={if selected { "true" } else { "false" }} {onclick}>
                { status_label(status) }
            </button>
        }
    });

    let title = if *editing == Some(Field::Title) {
        html! {
            <input ref={editor_ref.clone()} class="edit-title" aria-label="Title" value={(*draft).clone()}
                   oninput={on_draft.clone()} onkeydown={on_keydown.clone()} onfocusout={on_blur.clone()}
                   maxlength="255" aria-invalid={if error.is_some() { "true" } else { "false" }} />
        }
    } else {
        html! {
            <button type="button" ref={title_ref.clone()} class="title" onclick={start_edit(Field::Title)}
                    aria-label={format!("Edit title: {}", task.title)}>
                { &task.title }
            </button>
        }
    };
    let description = if *editing == Some(Field::Description) {
        html! {
            <textarea ref={editor_ref.clone()} class="edit-description" aria-label="Description"
                      value={(*draft).clone()} oninput={on_draft} onkeydown={on_keydown} onfocusout={on_blur}
                      rows="3" aria-invalid={if error.is_some() { "true" } else { "false" }} />
        }
    } else {
        match &task.description {
            Some(text) if !text.is_empty() => html! {
                <button type="button" class="description" onclick={start_edit(Field::Description)}
                        aria-label={format!("Edit description: {text}")}>{ text }</button>
            },
            _ => html! {
                <button type="button" class="description empty" onclick={start_edit(Field::Description)}>
                    { "Add a description" }
                </button>
            },
        }
    };

    let toggle_history = {
        let history_open = history_open.clone();
        Callback::from(move |_| history_open.set(!*history_open))
    };
    let ask_delete = {
        let confirming = confirming.clone();
        Callback::from(move |_| confirming.set(true))
    };
    let keep = {
        let confirming = confirming.clone();
        Callback::from(move |_| confirming.set(false))
    };
    let delete = {
        let (task, on_delete) = (task.clone(), props.on_delete.clone());
        Callback::from(move |_| on_delete.emit(task.clone()))
    };
    let history_id = format!("history-{}", task.id);

    html! {
        <li class={classes!("task", task.status.as_str())} data-task-id={task.id.to_string()}>
            <div class="task-text">
                { title }
                { description }
                if let Some(message) = &*error {
                    <p class="field-error" role="alert">{ message }</p>
                }
                <p class="meta">
                    { "Created " }
                    <time datetime={task.created_at.to_rfc3339()}>{ relative_time(task.created_at, props.now) }</time>
                    if task.updated_at != task.created_at {
                        { " · changed " }
                        <time datetime={task.updated_at.to_rfc3339()}>{ relative_time(task.updated_at, props.now) }</time>
                    }
                </p>
            </div>
            <div class="task-controls">
                <div class="status-group" role="group" aria-label={format!("Status of {}", task.title)}>
                    { for status_buttons }
                </div>
                <div class="actions">
                    <button type="button" class="secondary" onclick={toggle_history}
                            aria-expanded={if *history_open { "true" } else { "false" }} aria-controls={history_id.clone()}>
                        { if *history_open { "Hide history" } else { "History" } }
                    </button>
                    if *confirming {
                        <span class="confirm" role="group" aria-label="Confirm deletion">
                            { "Delete this task? " }
                            <button type="button" class="danger" onclick={delete}>{ "Delete" }</button>
                            <button type="button" class="secondary" onclick={keep}>{ "Keep" }</button>
                        </span>
                    } else {
                        <button type="button" class="secondary" onclick={ask_delete}
                                aria-label={format!("Delete {}", task.title)}>{ "Delete" }</button>
                    }
                </div>
            </div>
            <div id={history_id}>
                if *history_open {
                    <TaskHistory task_id={task.id} title={task.title.clone()} now={props.now} />
                }
            </div>
        </li>
    }
}

fn capitalized(field: &str) -> String {
    let mut chars = field.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
