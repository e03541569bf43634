//! The session page's stage: the player's frame (with "Join playback", the floating reactions
//! and what [`super::screen`] lays over the video in full screen), "only hosts control", the
//! reaction buttons and the player's error; and the banners of a party that ended or a viewer
//! who was removed.

use super::client::Client;
use super::screen::Screen;
use crate::i18n::{t_string, tr, use_i18n};
use crate::pages::chat::{ReactionBar, ReactionOverlay};
use crate::pages::Ask;
use leptos::prelude::*;
use reactive_stores::Field;

/// Where the page's player starts: the room's video and its whole second at the state's read
/// (the page's early player starts there, as the app would: yt.rs floors `start`).
#[derive(Clone, Debug)]
pub struct PlayerStart {
    /// The video id.
    pub video: String,
    /// The whole second.
    pub second: String,
}

/// "This watch party has ended" (or "A host ended this room") and "A host removed you".
#[component]
pub fn Banners(ended: Field<bool>, by_host: Field<bool>, removed: Field<bool>) -> impl IntoView {
    let i18n = use_i18n();
    let start_new = tr!(i18n, session.ended.start_new);
    view! {
        <Show when=move || ended.get()>
            <div class="ended" role="alert" data-testid="session-ended" data-by-host=move || by_host.get().to_string()>
                <p>
                    {move || if by_host.get() {
                        t_string!(i18n, session.ended.by_host)
                    } else {
                        t_string!(i18n, session.ended.over)
                    }}
                </p>
                <a href="/" rel="external">{start_new}</a>
            </div>
        </Show>
        <div class="ended" role="alert" data-testid="session-removed" hidden=move || !removed.get()>
            <p>{tr!(i18n, session.ended.removed)}</p>
            <a href="/" rel="external">{start_new}</a>
        </div>
    }
}

/// The player's frame and what goes with it.
#[component]
pub fn PlayerArea(
    start: PlayerStart,
    show_join: Field<bool>,
    floats: Field<Vec<(u64, crate::chat::Reaction)>>,
    control_notice: Field<Option<u64>>,
    player_error: Field<Option<String>>,
    client: Client,
    /// The frame (what goes full screen).
    frame: NodeRef<leptos::html::Div>,
    screen: Field<Screen>,
    /// What lies over the video in full screen.
    children: Children,
) -> impl IntoView {
    let ask = move |a: Ask| client.ask(a);
    let i18n = use_i18n();
    view! {
        <div
            class="player-frame"
            node_ref=frame
            data-testid="player-frame"
            data-screen=move || screen.get().as_str()
            on:fullscreenchange=move |_| super::screen::changed(screen)
        >
            // No children: the player goes into a child the page (or the app) adds,
            // possibly before hydration (`EARLY_PLAYER` in ssr.rs); the text
            // "Loading the player…" is the stylesheet's, shown while it is empty.
            <div
                id="player"
                class="player-placeholder"
                data-video=start.video
                data-start=start.second
            ></div>
            <Show when=move || show_join.get()>
                <div class="join-overlay">
                    <button class="join" type="button" data-testid="join-playback" on:click=move |_| client.join()>
                        {tr!(i18n, session.join.button)}
                    </button>
                    <p class="hint">{tr!(i18n, session.join.hint)}</p>
                </div>
            </Show>
            <ReactionOverlay floats=floats/>
            {children()}
        </div>
        <p
            class="control-notice"
            role="status"
            data-testid="control-notice"
            hidden=move || control_notice.with(|n| n.is_none())
        >
            {tr!(i18n, host.control_hint)}
        </p>
        <ReactionBar on_ask=ask/>
        <Show when=move || player_error.with(|e| e.is_some())>
            <p class="player-error error" role="alert" data-testid="player-error">
                {move || player_error.get().unwrap_or_default()}
            </p>
        </Show>
    }
}
