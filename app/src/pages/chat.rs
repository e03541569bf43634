//! The room's chat and frame-locked reactions on the session page (see [`crate::chat`]).
//!
//! * [`ChatPanel`]: the messages (name, text rendered as text, never as HTML, and the video
//!   moment as a button that seeks there when this viewer may control), a field that sends on
//!   Enter, and a host's delete button on each message.
//! * [`ReactionBar`]: one button per reaction; a reaction is stamped with this viewer's player
//!   position by the runtime.
//! * [`ReactionOverlay`]: the reactions floating over the player. The runtime decides when
//!   (when this viewer's own video reaches each reaction's moment); the page only shows them
//!   for [`FLOAT_MS`].

use super::Ask;
use crate::chat::{
    clock_text, validate_text, ChatError, ChatLine, Reaction, MAX_CHAT_CHARS, REACTIONS,
};
use crate::i18n::{t_string, tr, use_i18n};
use crate::lang::fill;
use leptos::prelude::*;
use reactive_stores::Field;

/// How long a reaction floats over the player (ms; the CSS animation lasts as long).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub const FLOAT_MS: u32 = 2_000;
/// Reactions floating at once, at most (a burst shows its newest).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MAX_FLOATS: usize = 24;
/// How long a chat error stays (ms).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const ERROR_MS: u32 = 4_000;

/// Runs `f` after `ms` in the browser.
#[cfg(feature = "hydrate")]
pub fn after(ms: u32, f: impl FnOnce() + 'static) {
    leptos::task::spawn_local(async move {
        gloo_timers::future::TimeoutFuture::new(ms).await;
        f();
    });
}

/// Timers never run on the server (nothing there calls for one after the render).
#[cfg(not(feature = "hydrate"))]
pub fn after(_: u32, _: impl FnOnce() + 'static) {}

/// Sends the chat field's text (nothing when it is blank): a valid line empties the field and
/// goes out; an invalid one flashes its error. The chat panel's and the full-screen overlay's
/// field both submit through it.
pub fn send_chat<F>(input: RwSignal<String>, error: Field<Option<String>>, on_ask: F)
where
    F: Fn(Ask),
{
    let raw = input.get_untracked();
    if raw.trim().is_empty() {
        return;
    }
    match validate_text(&raw, MAX_CHAT_CHARS) {
        Ok(text) => {
            input.set(String::new());
            on_ask(Ask::Chat(text));
        }
        Err(e) => flash(error, error_text(e)),
    }
}

/// Why a chat line or reaction was refused, in the page's language.
pub fn error_text(e: ChatError) -> String {
    let i18n = use_i18n();
    match e {
        ChatError::Empty => t_string!(i18n, chat.error.empty).to_string(),
        ChatError::TooLong(max) => fill(
            t_string!(i18n, chat.error.too_long),
            &[("max", &max.to_string())],
        ),
        ChatError::Control => t_string!(i18n, chat.error.control).to_string(),
        ChatError::UnknownReaction => t_string!(i18n, chat.error.unknown_reaction).to_string(),
        ChatError::BadStamp => t_string!(i18n, chat.error.bad_stamp).to_string(),
    }
}

/// Shows `msg` in `error` for a while (a newer message restarts the time).
pub fn flash(error: Field<Option<String>>, msg: String) {
    error.set(Some(msg.clone()));
    after(ERROR_MS, move || {
        if error.try_get_untracked().flatten().as_deref() == Some(msg.as_str()) {
            error.try_set(None);
        }
    });
}

/// Lanes across the player that reactions float in (CSS classes `lane-0`…; no `style`
/// attribute: the page's CSP refuses those).
const LANES: u64 = 8;

/// The lane a reaction floats in, spread by its id.
fn lane(id: u64) -> u64 {
    id.wrapping_mul(5) % LANES
}

/// Starts floating `reactions` in `floats` (each removed after [`FLOAT_MS`]).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn float(floats: Field<Vec<(u64, Reaction)>>, next: Field<u64>, reactions: Vec<Reaction>) {
    for r in reactions {
        let key = next.get_untracked();
        next.set(key.wrapping_add(1));
        floats.update(|f| {
            f.push((key, r));
            if f.len() > MAX_FLOATS {
                let extra = f.len() - MAX_FLOATS;
                f.drain(..extra);
            }
        });
        after(FLOAT_MS + 200, move || {
            floats.try_update(|f| f.retain(|(k, _)| *k != key));
        });
    }
}

/// The reactions floating over the player (inside `.player-frame`; not clickable).
#[component]
pub fn ReactionOverlay(floats: Field<Vec<(u64, Reaction)>>) -> impl IntoView {
    view! {
        <div class="reaction-overlay" aria-hidden="true">
            <For
                each=move || floats.get()
                key=|(k, _)| *k
                children=|(_, r)| {
                    view! {
                        <span
                            class=format!("reaction-float lane-{}", lane(r.id))
                            data-testid="reaction-float"
                            data-emoji=r.emoji.clone()
                            data-at=r.at.to_string()
                        >
                            <span class="reaction-emoji">{r.emoji.clone()}</span>
                            <span class="reaction-who">{r.name.clone()}</span>
                        </span>
                    }
                }
            />
        </div>
    }
    .into_any()
}

/// One button per reaction.
#[component]
pub fn ReactionBar<F>(on_ask: F) -> impl IntoView
where
    F: Fn(Ask) + Copy + Send + Sync + 'static,
{
    let i18n = use_i18n();
    view! {
        <div class="reaction-bar" role="group" aria-label=tr!(i18n, chat.reactions)>
            {REACTIONS
                .iter()
                .map(|e| {
                    let e: &'static str = e;
                    view! {
                        <button
                            type="button"
                            class="reaction-button"
                            data-testid="reaction-button"
                            data-emoji=e
                            aria-label=move || fill(t_string!(i18n, chat.react), &[("emoji", e)])
                            on:click=move |_| on_ask(Ask::React(e))
                        >
                            {e}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

/// The chat: messages, the field, errors.
#[component]
pub fn ChatPanel<F>(
    lines: Field<Vec<ChatLine>>,
    error: Field<Option<String>>,
    is_host: Signal<bool>,
    may_control: Signal<bool>,
    video: Field<(String, Option<String>)>,
    on_ask: F,
) -> impl IntoView
where
    F: Fn(Ask) + Copy + Send + Sync + 'static,
{
    let i18n = use_i18n();
    let input = RwSignal::new(String::new());
    let list = NodeRef::<leptos::html::Ol>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send_chat(input, error, on_ask);
    };
    // New lines scroll the list to the bottom (unless the viewer scrolled up to read).
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let n = lines.with(|l| l.len());
        if let Some(el) = list.get() {
            let near_bottom = el.scroll_height() - el.scroll_top() - el.client_height() < 80;
            if near_bottom || n <= 1 {
                // After the new row is laid out.
                after(0, move || {
                    if let Some(el) = list.get_untracked() {
                        el.set_scroll_top(el.scroll_height());
                    }
                });
            }
        }
    });
    let current_video = move || video.with(|(id, _)| id.clone());
    view! {
        <section class="chat panel" data-testid="chat" aria-label=tr!(i18n, chat.heading)>
            <h2 class="chat-heading">{tr!(i18n, chat.heading)}</h2>
            <ol class="chat-messages" data-testid="chat-messages" node_ref=list aria-live="polite">
                <For
                    each=move || lines.get()
                    key=|l: &ChatLine| l.id
                    children=move |l: ChatLine| {
                        let id = l.id;
                        let at = l.at;
                        let line_video = l.video_id.to_string();
                        let same_video = move || current_video() == line_video;
                        view! {
                            <li class="chat-message" data-testid="chat-message" data-id=id.to_string()>
                                <button
                                    type="button"
                                    class="chat-time"
                                    data-testid="chat-time"
                                    title=tr!(i18n, chat.jump)
                                    disabled=move || !(may_control.get() && same_video())
                                    on:click=move |_| on_ask(Ask::Seek(at))
                                >
                                    {clock_text(at)}
                                </button>
                                <span class="chat-body">
                                    <span class="chat-name" data-testid="chat-name">{l.name}</span>
                                    " "
                                    // Text only: a text node, never HTML, never auto-linked.
                                    <span class="chat-text" data-testid="chat-text">{l.text}</span>
                                </span>
                                <button
                                        type="button"
                                        class="chat-delete"
                                        data-testid="chat-delete"
                                        hidden=move || !is_host.get()
                                        title=tr!(i18n, chat.delete_title)
                                        aria-label=tr!(i18n, chat.delete_label)
                                        on:click=move |_| on_ask(Ask::DeleteChat(id))
                                    >
                                        "✕"
                                    </button>
                            </li>
                        }
                    }
                />
            </ol>
            <p class="hint" data-testid="chat-empty" hidden=move || lines.with(|l| !l.is_empty())>
                {tr!(i18n, chat.empty)}
            </p>
            <form class="chat-form" on:submit=submit>
                <div class="share-row">
                    <input
                        type="text"
                        aria-label=tr!(i18n, chat.input_label)
                        placeholder=tr!(i18n, chat.placeholder)
                        autocomplete="off"
                        enterkeyhint="send"
                        data-testid="chat-input"
                        maxlength=MAX_CHAT_CHARS.to_string()
                        prop:value=move || input.get()
                        on:input=move |ev| input.set(event_target_value(&ev))
                    />
                    <button type="submit" data-testid="chat-send">{tr!(i18n, chat.send)}</button>
                </div>
            </form>
            <p class="error" role="alert" data-testid="chat-error" hidden=move || error.with(|e| e.is_none())>
                {move || error.get().unwrap_or_default()}
            </p>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_float_in_different_lanes() {
        for id in 0..1000 {
            assert!(lane(id) < LANES);
            assert_ne!(lane(id), lane(id + 1));
        }
    }
}
