//! Home page: paste a YouTube link, create a session.
//!
//! The form is an [`ActionForm`] over the `create_session` server function, so before (or
//! without) hydration it is a plain HTML form: the post redirects to the new session, or back
//! here with the error in the query, which [`ServerAction::new`] reads and this page renders on
//! the server. Once hydrated, the same parser ([`parse_video_input`]) runs in the browser for
//! instant feedback (on paste, on leaving the field, while an error is shown) and stops an
//! invalid submission before it leaves the page.

use crate::api::CreateSession;
use crate::video::{parse_video_input, VideoInputError, VideoRef};
use leptos::{ev, form::ActionForm, html, prelude::*};

/// The default hint under the input.
const HINT: &str = "A link from youtube.com or youtu.be (a start time such as t=1m30s is kept), \
                    or just the 11-character video id.";

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    let create = ServerAction::<CreateSession>::new();
    let input_ref = NodeRef::<html::Input>::new();
    // What the parser makes of the current text; `None` while the field is empty (or untouched).
    let parsed = RwSignal::new(None::<Result<VideoRef, VideoInputError>>);
    // An error found by the in-browser check, shown until the input becomes valid.
    let client_error = RwSignal::new(None::<VideoInputError>);
    // The server's error (also the one carried back by a no-JS post) hides once the visitor edits.
    let show_server_error = RwSignal::new(true);
    let last_len = StoredValue::new(0usize);

    let server_error = move || {
        if create.pending().get() || !show_server_error.get() {
            return None;
        }
        create.value().with(|v| match v {
            Some(Err(e)) => Some(server_message(e)),
            _ => None,
        })
    };
    let error = Memo::new(move |_| {
        client_error
            .get()
            .map(|e| e.to_string())
            .or_else(server_error)
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
    // input never leaves the browser. `ActionForm` ignores a submission whose default was
    // prevented, and preventing the click's default prevents the submission itself.
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

    let hint = move || match parsed.get() {
        Some(Ok(video)) => format!("Found {video}."),
        _ => HINT.to_string(),
    };
    let pending = move || create.pending().get();

    view! {
        <section class="card home">
            <h1>"Watch YouTube together"</h1>
            <p>
                "Paste a YouTube link to start a watch party, then share its link. Everyone who "
                "opens it watches the same video at the same moment: play, pause and seeking are "
                "shared, and people who join late land where the others are."
            </p>
            <ActionForm action=create attr:id="create-form" attr:class="create-form">
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
                <button type="submit" disabled=pending on:click=on_click>
                    {move || if pending() { "Creating…" } else { "Create" }}
                </button>
            </ActionForm>
        </section>
    }
}

/// The sentence to show for a failed `create_session` call.
fn server_message(err: &ServerFnError) -> String {
    match err {
        // The server's own sentence: the parser's message or "could not be created right now".
        // Only known sentences are shown: a no-JS post carries the error in the query string,
        // so anybody can link here with text of their choosing (issue 11).
        ServerFnError::ServerError(message) => known_message(message).unwrap_or_else(|| {
            "Something went wrong while creating the watch party. Please try again.".to_string()
        }),
        ServerFnError::Request(_) => {
            "The server could not be reached. Check your connection and try again.".to_string()
        }
        _ => "Something went wrong while creating the watch party. Please try again.".to_string(),
    }
}

/// `message` when it is one of the sentences the server sends, else `None`.
fn known_message(message: &str) -> Option<String> {
    VideoInputError::ALL
        .iter()
        .map(|e| e.to_string())
        .chain(std::iter::once(crate::api::CREATE_FAILED.to_string()))
        .find(|m| m == message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_server_messages_are_shown() {
        let known = VideoInputError::NotYouTube.to_string();
        assert_eq!(
            server_message(&ServerFnError::ServerError(known.clone())),
            known
        );
        let forged = ServerFnError::ServerError("Your account is locked: call +1 555".into());
        assert!(!server_message(&forged).contains("555"));
    }
}
