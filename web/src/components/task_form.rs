//! The form that creates a task: checked as the API checks it, and showing
//! the API's own field errors when it refuses.

use task_core::problem::FieldError;
use task_core::task::{CreateTaskRequest, Patch, Task};
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::api::{self, ApiFailure};
use crate::live::{Write, Writes};

#[derive(Properties, PartialEq)]
pub struct TaskFormProps {
    pub on_created: Callback<Task>,
    pub on_failure: Callback<(String, ApiFailure)>,
    pub writes: Writes,
}

fn error_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_str())
}

#[component]
pub fn TaskForm(props: &TaskFormProps) -> Html {
    let title = use_state(String::new);
    let description = use_state(String::new);
    let errors = use_state(Vec::<FieldError>::new);
    let submitting = use_state(|| false);
    let title_ref = use_node_ref();

    let on_title = {
        let title = title.clone();
        Callback::from(move |e: InputEvent| {
            title.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_description = {
        let description = description.clone();
        Callback::from(move |e: InputEvent| {
            description.set(e.target_unchecked_into::<HtmlTextAreaElement>().value())
        })
    };
    let on_submit = {
        let (title, description, errors, submitting) = (
            title.clone(),
            description.clone(),
            errors.clone(),
            submitting.clone(),
        );
        let (on_created, on_failure) = (props.on_created.clone(), props.on_failure.clone());
        let writes = props.writes.clone();
        let title_ref = title_ref.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if *submitting {
                return;
            }
            let request = CreateTaskRequest {
                title: Patch::Value((*title).clone()),
                description: if description.is_empty() {
                    Patch::Missing
                } else {
                    Patch::Value((*description).clone())
                },
                status: Patch::Missing,
            };
            // The same rules the API applies, before bothering it.
            if let Err(found) = request.clone().validate() {
                errors.set(found);
                if let Some(input) = title_ref.cast::<HtmlInputElement>() {
                    let _ = input.focus();
                }
                return;
            }
            submitting.set(true);
            let (title, description, errors, submitting) = (
                title.clone(),
                description.clone(),
                errors.clone(),
                submitting.clone(),
            );
            let (on_created, on_failure) = (on_created.clone(), on_failure.clone());
            // Until the new task is shown, the stream's news of it is held.
            let write = writes.begin(Write::Create);
            spawn_local(async move {
                match api::create_task(&request).await {
                    Ok(task) => {
                        title.set(String::new());
                        description.set(String::new());
                        errors.set(Vec::new());
                        on_created.emit(task);
                    }
                    Err(ApiFailure::Refused(problem)) if !problem.errors.is_empty() => {
                        errors.set(problem.errors);
                    }
                    Err(failure) => on_failure.emit(("The task was not created".into(), failure)),
                }
                drop(write);
                submitting.set(false);
            });
        })
    };

    let title_error = error_for(&errors, "title");
    let description_error = error_for(&errors, "description");
    html! {
        <form class="task-form" onsubmit={on_submit} novalidate=true aria-label="New task">
            <div class="field">
                <label for="new-title">{ "Title" }</label>
                <input id="new-title" ref={title_ref} value={(*title).clone()} oninput={on_title}
                       required=true maxlength="255" autocomplete="off"
                       aria-invalid={if title_error.is_some() { "true" } else { "false" }}
                       aria-describedby={title_error.map(|_| "new-title-error")}
                       placeholder="What needs doing?" />
                if let Some(message) = title_error {
                    <p id="new-title-error" class="field-error">{ format!("Title {message}.") }</p>
                }
            </div>
            <div class="field">
                <label for="new-description">{ "Description " }<span class="optional">{ "(optional)" }</span></label>
                <textarea id="new-description" value={(*description).clone()} oninput={on_description}
                          rows="2"
                          aria-invalid={if description_error.is_some() { "true" } else { "false" }}
                          aria-describedby={description_error.map(|_| "new-description-error")} />
                if let Some(message) = description_error {
                    <p id="new-description-error" class="field-error">{ format!("Description {message}.") }</p>
                }
            </div>
            <button type="submit" class="primary" disabled={*submitting}>{ "Add task" }</button>
        </form>
    }
}
