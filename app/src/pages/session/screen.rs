//! Full screen and theater mode (issue 29). The full-screen button puts the player's wrapper
//! (`.player-frame`, not the YouTube iframe) in the browser's element full screen, so what the
//! page lays over the video comes along: the incoming chat lines (fading out), the reaction
//! floats, the newest notice, and a chat field that opens with the C key or a tap. Where the
//! browser offers no element full screen (iOS Safari on a phone) or refuses it, the wrapper
//! fills the viewport with CSS instead (`Screen::Fill`). Theater mode gives the player the page's
//! full width (wide screens). None of this touches the player or the sync client: the overlay
//! reads the page's store like the side panel does.

use crate::chat::{ChatLine, MAX_CHAT_CHARS};
use crate::i18n::{tr, use_i18n};
use crate::pages::Ask;
use leptos::html::Div;
use leptos::prelude::*;
use reactive_stores::Field;

/// How the player is shown (only the browser leaves `Page`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum Screen {
    /// In the page.
    #[default]
    Page,
    /// The browser's element full screen.
    Full,
    /// Filling the viewport with CSS (no element full screen here).
    Fill,
}

impl Screen {
    /// The player frame's `data-screen`.
    pub fn as_str(self) -> &'static str {
        match self {
            Screen::Page => "page",
            Screen::Full => "full",
            Screen::Fill => "fill",
        }
    }
}

/// Chat lines shown over the video, at most (the newest).
const OVERLAY_LINES: usize = 4;

#[cfg(feature = "hydrate")]
mod browser {
    use super::Screen;
    use leptos::prelude::*;
    use reactive_stores::Field;
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// An element, for `requestFullscreen()` with its promise (web-sys drops it).
        #[wasm_bindgen(js_name = Element)]
        type FullscreenElement;
        #[wasm_bindgen(method, catch, js_name = requestFullscreen)]
        fn request_fullscreen_promise(this: &FullscreenElement)
            -> Result<js_sys::Promise, JsValue>;
    }

    /// Puts `el` in element full screen where the browser allows it, else fills the viewport.
    pub fn enter(el: &web_sys::Element, screen: Field<Screen>) {
        if !document().fullscreen_enabled() {
            screen.set(Screen::Fill);
            return;
        }
        match el
            .unchecked_ref::<FullscreenElement>()
            .request_fullscreen_promise()
        {
            Ok(p) => leptos::task::spawn_local(async move {
                if wasm_bindgen_futures::JsFuture::from(p).await.is_err() {
                    screen.try_set(Screen::Fill);
                }
            }),
            Err(_) => screen.set(Screen::Fill),
        }
    }

    /// Leaves full screen (or the fill mode).
    pub fn exit(screen: Field<Screen>) {
        match screen.get_untracked() {
            Screen::Full => document().exit_fullscreen(),
            Screen::Fill => screen.set(Screen::Page),
            Screen::Page => {}
        }
    }

    /// After `fullscreenchange`: whether an element is in full screen now.
    pub fn is_full() -> bool {
        document().fullscreen_element().is_some()
    }
}

/// Enters full screen with the player's wrapper `frame`.
fn enter(frame: NodeRef<Div>, screen: Field<Screen>) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = frame.get_untracked() {
        browser::enter(&el, screen);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (frame, screen);
}

/// Leaves full screen or the fill mode.
pub fn exit(screen: Field<Screen>) {
    #[cfg(feature = "hydrate")]
    browser::exit(screen);
    #[cfg(not(feature = "hydrate"))]
    let _ = screen;
}

/// The wrapper's `fullscreenchange`: follows the browser's full screen.
pub fn changed(screen: Field<Screen>) {
    #[cfg(feature = "hydrate")]
    screen.set(if browser::is_full() {
        Screen::Full
    } else {
        Screen::Page
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = screen;
}

/// "Full screen" and "Theater" under the player.
#[component]
pub fn ScreenButtons(
    frame: NodeRef<Div>,
    screen: Field<Screen>,
    theater: Field<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="screen-buttons">
            <button
                type="button"
                class="quiet"
                data-testid="fullscreen"
                aria-pressed=move || (screen.get() != Screen::Page).to_string()
                on:click=move |_| {
                    if screen.get_untracked() == Screen::Page {
                        enter(frame, screen);
                    } else {
                        exit(screen);
                    }
                }
            >
                {tr!(i18n, session.screen.full)}
            </button>
            <button
                type="button"
                class="quiet theater-toggle"
                data-testid="theater"
                aria-pressed=move || theater.get().to_string()
                on:click=move |_| theater.update(|t| *t = !*t)
            >
                {tr!(i18n, session.screen.theater)}
            </button>
        </div>
    }
    .into_any()
}

/// What lies over the video in full screen (CSS shows it only then): chat lines fading out, the
/// newest notice, the chat field and the way out. Clicks pass through to the player except on
/// its own controls.
#[component]
pub fn VideoOverlay<F>(
    lines: Field<Vec<ChatLine>>,
    notices: Field<Vec<(u64, String)>>,
    error: Field<Option<String>>,
    screen: Field<Screen>,
    on_ask: F,
) -> impl IntoView
where
    F: Fn(Ask) + Copy + Send + Sync + 'static,
{
    let open = RwSignal::new(false);
    let input = RwSignal::new(String::new());
    let field = NodeRef::<leptos::html::Input>::new();
    let recent = move || {
        lines.with(|l| {
            l.iter()
                .skip(l.len().saturating_sub(OVERLAY_LINES))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let newest = move || notices.with(|n| n.first().cloned().into_iter().collect::<Vec<_>>());
    let show_field = move || {
        open.set(true);
        #[cfg(feature = "hydrate")]
        crate::pages::chat::after(0, move || {
            if let Some(el) = field.get_untracked() {
                let _ = el.focus();
            }
        });
    };
    // The C key opens the field, Escape leaves the fill mode (the browser's own full screen
    // leaves on Escape by itself); only while the player is full screen, never from a field.
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let keys = window_event_listener(leptos::ev::keydown, move |ev| {
            if screen.get_untracked() == Screen::Page {
                return;
            }
            let in_field = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA"));
            match ev.key().as_str() {
                "c" | "C" if !in_field && !ev.ctrl_key() && !ev.meta_key() && !ev.alt_key() => {
                    ev.prevent_default();
                    show_field();
                }
                "Escape" => exit(screen),
                _ => {}
            }
        });
        on_cleanup(move || keys.remove());
    }
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        crate::pages::chat::send_chat(input, error, on_ask);
    };
    let i18n = use_i18n();
    view! {
        <div class="video-overlay" data-testid="video-overlay">
            <ol class="overlay-chat" data-testid="overlay-chat" aria-hidden="true">
                <For
                    each=recent
                    key=|l: &ChatLine| l.id
                    children=|l: ChatLine| view! {
                        <li class="overlay-line" data-testid="overlay-line">
                            <span class="chat-name">{l.name}</span>
                            " "
                            <span class="chat-text">{l.text}</span>
                        </li>
                    }
                />
            </ol>
            <ol class="overlay-notices" aria-hidden="true">
                <For
                    each=newest
                    key=|(id, _)| *id
                    children=|(_, text)| view! { <li class="overlay-notice" data-testid="overlay-notice">{text}</li> }
                />
            </ol>
            <div class="overlay-controls">
                <button
                    type="button"
                    class="quiet"
                    data-testid="overlay-chat-open"
                    aria-label=tr!(i18n, session.screen.chat)
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| if open.get_untracked() { open.set(false) } else { show_field() }
                >
                    "💬"
                </button>
                <button
                    type="button"
                    class="quiet"
                    data-testid="fullscreen-exit"
                    aria-label=tr!(i18n, session.screen.leave)
                    on:click=move |_| exit(screen)
                >
                    "✕"
                </button>
            </div>
            <form class="overlay-form" on:submit=submit hidden=move || !open.get()>
                <input
                    type="text"
                    node_ref=field
                    aria-label=tr!(i18n, session.screen.message)
                    placeholder=tr!(i18n, session.screen.message_hint)
                    autocomplete="off"
                    enterkeyhint="send"
                    data-testid="overlay-chat-input"
                    maxlength=MAX_CHAT_CHARS.to_string()
                    prop:value=move || input.get()
                    on:input=move |ev| input.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if ev.key() == "Escape" {
                            ev.stop_propagation();
                            open.set(false);
                        }
                    }
                />
                <button type="submit" data-testid="overlay-chat-send">{tr!(i18n, session.screen.send)}</button>
            </form>
            <p class="error overlay-error" hidden=move || error.with(|e| e.is_none())>
                {move || error.get().unwrap_or_default()}
            </p>
        </div>
    }
    .into_any()
}
