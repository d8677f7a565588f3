//! The page around the app: signing in first, then the app for the person
//! signed in (known to every part through a context), or the signed-out
//! page with its **Sign in** button.

use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::app::App;
use crate::session::{self, Start};
use crate::sign_in::Person;

#[derive(Debug, Clone, PartialEq)]
enum Status {
    /// Finishing or trying a sign-in.
    Starting,
    SignedIn(Person),
    SignedOut(Option<String>),
}

#[component]
pub fn Shell() -> Html {
    let status = use_state(|| Status::Starting);
    {
        let status = status.clone();
        use_effect_with((), move |_| {
            let ended = status.clone();
            session::on_signed_out(Callback::from(move |reason| {
                ended.set(Status::SignedOut(reason))
            }));
            spawn_local(async move {
                match session::start().await {
                    Start::SignedIn(person) => status.set(Status::SignedIn(person)),
                    Start::SignedOut(reason) => status.set(Status::SignedOut(reason)),
                    // The page is being left for the provider's.
                    Start::Leaving => {}
                }
            });
        });
    }
    match &*status {
        Status::Starting => html! {
            <>
                <header class="top"><h1>{ "Tasks" }</h1></header>
                <main><p class="muted" role="status">{ "Signing in…" }</p></main>
            </>
        },
        Status::SignedIn(person) => html! {
            <ContextProvider<Person> context={person.clone()}>
                <App />
            </ContextProvider<Person>>
        },
        Status::SignedOut(reason) => html! { <SignedOut reason={reason.clone()} /> },
    }
}

#[derive(Properties, PartialEq)]
struct SignedOutProps {
    reason: Option<String>,
}

#[component]
fn SignedOut(props: &SignedOutProps) -> Html {
    let signing_in = use_state(|| false);
    let onclick = {
        let signing_in = signing_in.clone();
        Callback::from(move |_| {
            signing_in.set(true);
            session::sign_in();
        })
    };
    html! {
        <>
            <header class="top"><h1>{ "Tasks" }</h1></header>
            <main class="signed-out">
                if let Some(reason) = &props.reason {
                    <p class="notice" role="alert">{ reason }</p>
                }
                <p>{ "Sign in to see and change your tasks." }</p>
                <button type="button" class="primary" {onclick} disabled={*signing_in}>
                    { if *signing_in { "Signing in…" } else { "Sign in" } }
                </button>
            </main>
        </>
    }
}

/// The signed-in person's name and the **Sign out** button, for the app's header.
#[component]
pub fn Account() -> Html {
    let person = use_context::<Person>();
    let onclick = Callback::from(|_| session::sign_out());
    html! {
        <div class="account">
            if let Some(person) = person {
                <span>{ "Signed in as " }<strong>{ person.name }</strong></span>
            }
            <button type="button" class="secondary" {onclick}>{ "Sign out" }</button>
        </div>
    }
}
