//! Home page: paste a YouTube link, create a session.
//!
//! The form is a plain HTML form posting to the `create_session` server function, so before
//! (or without) hydration it works alone: the post redirects to the new session, or back here
//! with the error's name in the query (`/?error=not-youtube`), which this page renders on the
//! server ([`error_message`]). Once hydrated, the same parser ([`parse_video_input`]) runs in
//! the browser for instant feedback (on paste, on leaving the field, while an error is shown)
//! and stops an invalid submission before it leaves the page; a valid one is posted by
//! [`crate::client::post_create`] and the page routes to the session without reloading.

use crate::api::error_message;
use crate::video::{parse_video_input, VideoInputError, VideoRef};
use leptos::{ev, html, prelude::*};
use leptos_router::hooks::use_query_map;

/// The default hint under the input.
const HINT: &str = "A link from youtube.com or youtu.be (a start time such as t=1m30s is kept), \
                    or just the 11-character video id.";

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    let input_ref = NodeRef::<html::Input>::new();
    // What the parser makes of the current text; `None` while the field is empty (or untouched).
    let parsed = RwSignal::new(None::<Result<VideoRef, VideoInputError>>);
    // An error found by the in-browser check, shown until the input becomes valid.
    let client_error = RwSignal::new(None::<VideoInputError>);
    // The server's answer to the last post: the error a post without JavaScript carried back
    // (by name, in the address), or the one the page's own post got.
    let query = use_query_map();
    let server_error = RwSignal::new(
        query
            .with_untracked(|q| q.get("error"))
            .map(|code| error_message(&code)),
    );
    // The server's error hides once the visitor edits.
    let show_server_error = RwSignal::new(true);
    // A post of the page's own is on its way.
    let pending = RwSignal::new(false);
    let last_len = StoredValue::new(0usize);

    let error = Memo::new(move |_| {
        client_error.get().map(|e| e.to_string()).or_else(|| {
            (!pending.get() && show_server_error.get())
                .then(|| server_error.get())
                .flatten()
        })
    });

    let on_input = move |ev: ev::Event| {
        let text = event_target_value(&ev);
        show_server_error.set(false);
        let result = parse_video_input(&text);
        // A jump of more than one character is a paste (or autofill): judge it at once. While
        // an error is shown, keep it current so it disappears as soon as the input is fixed.
        let pasted = text.len().abs_diff(last_len.get_value()) > 1;
        last_len.set_value(text.len());
        if pasted || client_error.get_untracked().is_some() {
            client_error.set(result.as_ref().err().copied().filter(|_| !text.is_empty()));
        }
        parsed.set((!text.trim().is_empty()).then_some(result));
    };
    let on_change = move |_: ev::Event| {
        if let Some(Err(e)) = parsed.get_untracked() {
            client_error.set(Some(e));
        }
    };
    // Clicks on the submit button (also the implicit one from Enter in the field): an invalid
    // input never leaves the browser: preventing the click's default prevents the submission
    // itself, so `on_submit` only sees valid input.
    let on_click = move |ev: ev::MouseEvent| {
        let text = input_ref
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default();
        match parse_video_input(&text) {
            Ok(_) => {
                client_error.set(None);
                show_server_error.set(true);
            }
            Err(e) => {
                ev.prevent_default();
                client_error.set(Some(e));
                if let Some(el) = input_ref.get_untracked() {
                    let _ = el.focus();
                }
            }
        }
    };

    // A valid submission (the click handler stopped any other): posted by the page, which then
    // routes to the session. Before hydration the browser posts the form itself.
    #[cfg(feature = "hydrate")]
    let navigate = leptos_router::hooks::use_navigate();
    let on_submit = move |ev: ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            ev.prevent_default();
            if pending.get_untracked() {
                return;
            }
            let text = input_ref
                .get_untracked()
                .map(|el| el.value())
                .unwrap_or_default();
            pending.set(true);
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                match crate::client::post_create(&text).await {
                    Ok(location) => navigate(&location, Default::default()),
                    Err(message) => {
                        server_error.set(Some(message));
                        show_server_error.set(true);
                    }
                }
                pending.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };

    let hint = move || match parsed.get() {
        Some(Ok(video)) => format!("Found {video}."),
        _ => HINT.to_string(),
    };
    let busy = move || pending.get();

    view! {
        <section class="card home">
            <h1>"Watch YouTube together"</h1>
            <p>
                "Paste a YouTube link to start a watch party, then share its link. Everyone who "
                "opens it watches the same video at the same moment: play, pause and seeking are "
                "shared, and people who join late land where the others are."
            </p>
            <form
                method="post"
                action="/api/create"
                id="create-form"
                class="create-form"
                on:submit=on_submit
            >
                <div class="field">
                    <label for="video-input">"YouTube link or video id"</label>
                    <input
                        node_ref=input_ref
                        id="video-input"
                        name="video"
                        type="text"
                        inputmode="url"
                        autocomplete="off"
                        autocapitalize="off"
                        spellcheck="false"
                        placeholder="https://www.youtube.com/watch?v=…"
                        aria-describedby="video-hint"
                        aria-invalid=move || error.get().is_some().then_some("true")
                        aria-errormessage=move || error.get().is_some().then_some("create-error")
                        on:input=on_input
                        on:change=on_change
                    />
                    <p class="hint" id="video-hint">{hint}</p>
                </div>
                {move || {
                    error
                        .get()
                        .map(|message| {
                            view! {
                                <p class="error" id="create-error" role="alert" data-testid="create-error">
                                    {message}
                                </p>
                            }
                        })
                }}
                <button type="submit" disabled=busy on:click=on_click>
                    {move || if busy() { "Creating…" } else { "Create" }}
                </button>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{error_message, CREATE_FAILED, GENERIC_FAILURE, UNAVAILABLE_CODE};
    use crate::video::VideoInputError;

    #[test]
    fn the_address_names_an_error_and_never_carries_its_text() {
        for e in VideoInputError::ALL {
            assert_eq!(error_message(e.code()), e.to_string());
        }
        assert_eq!(error_message(UNAVAILABLE_CODE), CREATE_FAILED);
        let forged = error_message("Your account is locked: call +1 555");
        assert_eq!(forged, GENERIC_FAILURE);
        assert!(!forged.contains("555"));
    }
}
