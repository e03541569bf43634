//! Home page: paste a YouTube link, create a session.
//!
//! The form is a plain HTML form posting to the `create_session` server function, so before
//! (or without) hydration it works alone: the post redirects to the new session, or back here
//! with the error's name in the query (`/?error=not-youtube`), which this page renders on the
//! server ([`CreateFailure::from_code`]). Once hydrated, the same parser ([`parse_video_input`]) runs in
//! the browser for instant feedback (on paste, on leaving the field, while an error is shown)
//! and stops an invalid submission before it leaves the page; a valid one is posted by
//! [`crate::client::post_create`] and the page routes to the session without reloading.

use crate::api::CreateFailure;
use crate::i18n::{t_string, tr, use_i18n};
use crate::lang::fill;
use crate::video::{format_offset, parse_video_input, VideoInputError, VideoRef};
use leptos::{ev, html, prelude::*};
use leptos_router::hooks::use_query_map;

/// The form's state: every piece a signal (so the whole is `Copy` and each handler takes it).
#[derive(Clone, Copy)]
struct CreateForm {
    input_ref: NodeRef<html::Input>,
    /// What the parser makes of the current text; `None` while the field is empty (or untouched).
    parsed: RwSignal<Option<Result<VideoRef, VideoInputError>>>,
    /// An error found by the in-browser check, shown until the input becomes valid.
    client_error: RwSignal<Option<VideoInputError>>,
    /// The server's answer to the last post: the error a post without JavaScript carried back
    /// (by name, in the address), or the one the page's own post got.
    server_error: RwSignal<Option<CreateFailure>>,
    /// The server's error hides once the visitor edits.
    show_server_error: RwSignal<bool>,
    /// A post of the page's own is on its way.
    pending: RwSignal<bool>,
    last_len: StoredValue<usize>,
}

impl CreateForm {
    /// A fresh form; the server's error (if any) read from the address.
    fn new() -> Self {
        let query = use_query_map();
        Self {
            input_ref: NodeRef::new(),
            parsed: RwSignal::new(None),
            client_error: RwSignal::new(None),
            server_error: RwSignal::new(
                query
                    .with_untracked(|q| q.get("error"))
                    .map(|code| CreateFailure::from_code(&code)),
            ),
            show_server_error: RwSignal::new(true),
            pending: RwSignal::new(false),
            last_len: StoredValue::new(0),
        }
    }

    /// The error to show: the browser's own check first, else the server's answer.
    fn error(self) -> Option<CreateFailure> {
        self.client_error
            .get()
            .map(CreateFailure::Video)
            .or_else(|| {
                (!self.pending.get() && self.show_server_error.get())
                    .then(|| self.server_error.get())
                    .flatten()
            })
    }

    fn text(self) -> String {
        self.input_ref
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default()
    }

    /// Typing: a jump of more than one character is a paste (or autofill), judged at once;
    /// while an error is shown it is kept current, so it goes as soon as the input is fixed.
    fn on_input(self, text: String) {
        self.show_server_error.set(false);
        let result = parse_video_input(&text);
        let pasted = text.len().abs_diff(self.last_len.get_value()) > 1;
        self.last_len.set_value(text.len());
        if pasted || self.client_error.get_untracked().is_some() {
            self.client_error
                .set(result.as_ref().err().copied().filter(|_| !text.is_empty()));
        }
        self.parsed.set((!text.trim().is_empty()).then_some(result));
    }

    /// Leaving the field shows what is wrong with it.
    fn on_change(self) {
        if let Some(Err(e)) = self.parsed.get_untracked() {
            self.client_error.set(Some(e));
        }
    }

    /// Clicks on the submit button (also the implicit one from Enter in the field): an invalid
    /// input never leaves the browser: preventing the click's default prevents the submission
    /// itself, so the submit handler only sees valid input.
    fn on_click(self, ev: ev::MouseEvent) {
        match parse_video_input(&self.text()) {
            Ok(_) => {
                self.client_error.set(None);
                self.show_server_error.set(true);
            }
            Err(e) => {
                ev.prevent_default();
                self.client_error.set(Some(e));
                if let Some(el) = self.input_ref.get_untracked() {
                    let _ = el.focus();
                }
            }
        }
    }

    /// A valid submission, posted by the page, which then routes to the session (before
    /// hydration the browser posts the form itself).
    #[cfg(feature = "hydrate")]
    fn post(self, navigate: impl Fn(&str, leptos_router::NavigateOptions) + 'static) {
        if self.pending.get_untracked() {
            return;
        }
        let text = self.text();
        self.pending.set(true);
        leptos::task::spawn_local(async move {
            match crate::client::post_create(&text).await {
                Ok(location) => navigate(&location, Default::default()),
                Err(failure) => {
                    self.server_error.set(Some(failure));
                    self.show_server_error.set(true);
                }
            }
            self.pending.set(false);
        });
    }

    /// The hint under the input: the video found, or how to write one.
    fn hint(self) -> String {
        let i18n = use_i18n();
        match self.parsed.get() {
            Some(Ok(video)) if video.start > 0.0 => fill(
                t_string!(i18n, common.home.found_from),
                &[
                    ("id", &video.id.to_string()),
                    ("at", &format_offset(video.start)),
                ],
            ),
            Some(Ok(video)) => fill(
                t_string!(i18n, common.home.found),
                &[("id", &video.id.to_string())],
            ),
            _ => t_string!(i18n, common.home.hint).to_string(),
        }
    }
}

/// The home page.
#[component]
pub fn HomePage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="card home">
            <h1>{tr!(i18n, common.home.title)}</h1>
            <p>{tr!(i18n, common.home.intro)}</p>
            <CreateSessionForm/>
        </section>
    }
}

/// The link field and its button, posting to `/api/create` (see the module docs).
#[component]
fn CreateSessionForm() -> impl IntoView {
    let form = CreateForm::new();
    let error = Memo::new(move |_| form.error());
    let i18n = use_i18n();
    #[cfg(feature = "hydrate")]
    let on_submit = {
        let navigate = leptos_router::hooks::use_navigate();
        move |ev: ev::SubmitEvent| {
            ev.prevent_default();
            form.post(navigate.clone());
        }
    };
    #[cfg(not(feature = "hydrate"))]
    let on_submit = |_: ev::SubmitEvent| {};
    let busy = move || form.pending.get();
    view! {
        <form
            method="post"
            action="/api/create"
            id="create-form"
            class="create-form"
            on:submit=on_submit
        >
            <div class="field">
                <label for="video-input">{tr!(i18n, common.home.label)}</label>
                <input
                    node_ref=form.input_ref
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
                    on:input=move |ev| form.on_input(event_target_value(&ev))
                    on:change=move |_| form.on_change()
                />
                <p class="hint" id="video-hint">{move || form.hint()}</p>
            </div>
            {move || {
                error
                    .get()
                    .map(|message| {
                        view! {
                            <p class="error" id="create-error" role="alert" data-testid="create-error">
                                {crate::lang::create_failure(message)}
                            </p>
                        }
                    })
            }}
            <button type="submit" disabled=busy on:click=move |ev| form.on_click(ev)>
                {move || {
                    if busy() {
                        t_string!(i18n, common.home.creating)
                    } else {
                        t_string!(i18n, common.home.create)
                    }
                }}
            </button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{CreateFailure, CREATE_FAILED, UNAVAILABLE_CODE};
    use crate::video::VideoInputError;

    #[test]
    fn the_address_names_an_error_and_never_carries_its_text() {
        for e in VideoInputError::ALL {
            assert_eq!(CreateFailure::from_code(e.code()), CreateFailure::Video(e));
            assert_eq!(
                CreateFailure::from_sentence(&e.to_string()),
                Some(CreateFailure::Video(e))
            );
        }
        assert_eq!(
            CreateFailure::from_code(UNAVAILABLE_CODE),
            CreateFailure::Unavailable
        );
        assert_eq!(
            CreateFailure::from_sentence(CREATE_FAILED),
            Some(CreateFailure::Unavailable)
        );
        let forged = "Your account is locked: call +1 555";
        assert_eq!(CreateFailure::from_code(forged), CreateFailure::Generic);
        assert_eq!(CreateFailure::from_sentence(forged), None);
    }
}
