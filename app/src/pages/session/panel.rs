//! The session page's side panel, one component per block: this viewer's name, what is
//! playing, the room's notices, "change the video", the invite link, and the viewer count with
//! the sync badge; and what the page announces to screen readers ([`Announcer`]).

use super::client::Client;
use crate::health::Health;
use crate::i18n::{t_string, tr, use_i18n, I18n};
use crate::lang::fill;
use crate::roster::Roster;
use crate::sync::{RateControl, SyncStats};
use leptos::prelude::*;
use reactive_stores::Field;

/// The room's current video: its title once the player knows it, else its id.
#[component]
pub fn NowPlaying(video: Field<(String, Option<String>)>) -> impl IntoView {
    let id = move || video.with(|(id, _)| id.clone());
    let label = move || video.with(|(id, title)| title.clone().unwrap_or_else(|| id.clone()));
    let i18n = use_i18n();
    view! {
        <p class="now-playing" data-testid="now-playing" data-video-id=id>
            <span class="now-playing-label">{tr!(i18n, queue.now_playing)}</span>
            // Titles come from YouTube: rendered as text, never as HTML.
            <span class="now-playing-title">{label}</span>
        </p>
    }
}

/// "Change the video": any YouTube link or id, through the same parser as the home page
/// (`t=`/`start=` honoured). The whole room switches.
#[component]
pub fn ChangeVideo(client: Client, may_control: Signal<bool>) -> impl IntoView {
    use crate::video::parse_video_input;
    let input = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match parse_video_input(&input.get_untracked()) {
            Ok(v) => {
                error.set(None);
                input.set(String::new());
                client.request(crate::playback::Command::Video {
                    video_id: v.id,
                    position: v.start,
                });
            }
            Err(e) => error.set(Some(crate::lang::video_error(e).to_string())),
        }
    };
    let i18n = use_i18n();
    view! {
        <form class="change-video field" data-testid="video-change-form" on:submit=submit>
            <label for="video-change-input">{tr!(i18n, queue.change.label)}</label>
            <div class="share-row">
                <input
                    id="video-change-input"
                    type="text"
                    autocomplete="off"
                    placeholder=tr!(i18n, queue.change.placeholder)
                    data-testid="video-change-input"
                    maxlength="2048"
                    disabled=move || !may_control.get()
                    prop:value=move || input.get()
                    on:input=move |ev| input.set(event_target_value(&ev))
                />
                <button type="submit" data-testid="video-change-submit" disabled=move || !may_control.get()>{tr!(i18n, queue.change.submit)}</button>
            </div>
            <Show when=move || error.with(|e| e.is_some())>
                <p class="error" role="alert" data-testid="video-change-error">
                    {move || error.get().unwrap_or_default()}
                </p>
            </Show>
        </form>
    }
}

/// This viewer's display name: generated on the first visit, editable, remembered by the
/// browser (`localStorage`), validated like the server does.
#[component]
pub fn NameField(name: Field<Option<String>>, client: Client) -> impl IntoView {
    use crate::names::{validate_name, NameError, MAX_NAME_CHARS};
    let input = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let i18n = use_i18n();
    let name_error = move |e: NameError| match e {
        NameError::Empty => t_string!(i18n, queue.name.empty).to_string(),
        NameError::TooLong(max) => fill(
            t_string!(i18n, queue.name.too_long),
            &[("max", &max.to_string())],
        ),
        NameError::Control => t_string!(i18n, queue.name.control).to_string(),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match validate_name(&input.get_untracked(), MAX_NAME_CHARS) {
            Ok(n) => {
                error.set(None);
                input.set(String::new());
                name.set(Some(n.clone()));
                client.rename(n);
            }
            Err(e) => error.set(Some(name_error(e))),
        }
    };
    view! {
        <form class="name-field field" on:submit=submit>
            <label for="name-input">
                {tr!(i18n, queue.name.you_are)}
                <strong data-testid="my-name">{move || name.get().unwrap_or_default()}</strong>
            </label>
            <div class="share-row">
                <input
                    id="name-input"
                    type="text"
                    autocomplete="nickname"
                    placeholder=tr!(i18n, queue.name.placeholder)
                    data-testid="name-input"
                    maxlength="64"
                    prop:value=move || input.get()
                    on:input=move |ev| input.set(event_target_value(&ev))
                />
                <button type="submit" data-testid="name-save">{tr!(i18n, queue.name.submit)}</button>
            </div>
            <Show when=move || error.with(|e| e.is_some())>
                <p class="error" role="alert" data-testid="name-error">
                    {move || error.get().unwrap_or_default()}
                </p>
            </Show>
        </form>
    }
}

/// The room's latest notices ("Ana paused at 12:31"), newest first. ([`Announcer`] reads the
/// newest out: this list may sit in a closed tab.)
#[component]
pub fn Notices(notices: Field<Vec<(u64, String)>>) -> impl IntoView {
    view! {
            <ol class="notices" data-testid="notices">
                <For
                    each=move || notices.get()
                    key=|(id, _)| *id
                    children=|(_, text)| view! { <li data-testid="notice">{text}</li> }
                />
            </ol>
    }
}

/// This viewer's sync state in a few words: the connection while not live, else the health its
/// own row shows ("in sync", "catching up"), never a figure that changes every moment.
fn sync_word(stats: &SyncStats, roster: &Roster) -> &'static str {
    match stats.status {
        "live" => roster
            .members
            .iter()
            .find(|m| m.id == stats.conn_id)
            .and_then(|m| m.status)
            .map_or("live", crate::pages::roster::health_word),
        "reconnecting" => "reconnecting",
        "offline" => "offline",
        _ => "connecting",
    }
}

/// [`sync_word`] in the page's language (what the page announces).
fn sync_said(i18n: I18n, stats: &SyncStats, roster: &Roster) -> &'static str {
    match stats.status {
        "live" => match roster
            .members
            .iter()
            .find(|m| m.id == stats.conn_id)
            .and_then(|m| m.status)
        {
            None => t_string!(i18n, queue.sync.state.live),
            Some(Health::InSync { .. }) => t_string!(i18n, queue.sync.state.in_sync),
            Some(Health::CatchingUp) => t_string!(i18n, queue.sync.state.catching_up),
            Some(Health::Buffering) => t_string!(i18n, queue.sync.state.buffering),
            Some(Health::Loading) => t_string!(i18n, queue.sync.state.loading),
            Some(Health::Ad) => t_string!(i18n, queue.sync.state.ad),
            Some(Health::NeedsClick) => t_string!(i18n, queue.sync.state.needs_click),
            Some(Health::Background) => t_string!(i18n, queue.sync.state.background),
            Some(Health::Reconnecting) => t_string!(i18n, queue.sync.state.reconnecting),
        },
        "reconnecting" => t_string!(i18n, queue.sync.state.reconnecting),
        "offline" => t_string!(i18n, queue.sync.state.offline),
        _ => t_string!(i18n, queue.sync.state.connecting),
    }
}

/// Two polite live regions, seen by screen readers only: the newest notice, and this viewer's
/// sync state when it changes (announced as "Sync: in sync", "Sync: catching up").
#[component]
pub fn Announcer(
    notices: Field<Vec<(u64, String)>>,
    stats: Field<SyncStats>,
    roster: Field<Roster>,
) -> impl IntoView {
    let word = Memo::new(move |_| stats.with(|s| roster.with(|r| sync_word(s, r))));
    let i18n = use_i18n();
    let said = Memo::new(move |_| stats.with(|s| roster.with(|r| sync_said(i18n, s, r))));
    let newest = move || notices.with(|n| n.first().map(|(_, t)| t.clone()).unwrap_or_default());
    view! {
        <div class="sr-only">
            <p role="status" aria-live="polite" data-testid="announce-notice">{newest}</p>
            <p role="status" aria-live="polite" data-testid="announce-sync" data-state=move || word.get()>
                {move || fill(t_string!(i18n, queue.sync.announce), &[("state", said.get())])}
            </p>
        </div>
    }
}

/// Selects the share link's text when it gets focus (so it can be copied by hand).
#[cfg(feature = "hydrate")]
fn select_on_focus(ev: leptos::ev::FocusEvent) {
    use wasm_bindgen::JsCast;
    if let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        input.select();
    }
}

/// Focus events never run on the server.
#[cfg(not(feature = "hydrate"))]
fn select_on_focus(_: leptos::ev::FocusEvent) {}

/// "Invite people with this link": the link and its share (or copy) button.
#[component]
pub fn Invite(
    share: Field<String>,
    can_share: Field<bool>,
    video: Field<(String, Option<String>)>,
) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let i18n = use_i18n();
    let copy = move |_| {
        let url = share.get_untracked();
        if can_share.get_untracked() {
            let title = video.with(|(id, t)| {
                fill(
                    t_string!(i18n, session.title),
                    &[("title", t.as_deref().unwrap_or(id.as_str()))],
                )
            });
            crate::pages::share_or_copy(url, title, "share-link", copied);
        } else {
            crate::pages::copy_with_feedback(url, "share-link", copied);
        }
    };
    view! {
                <div class="share field">
                    <label for="share-link">{tr!(i18n, queue.invite.label)}</label>
                    <div class="share-row">
                        <input
                            id="share-link"
                            type="text"
                            readonly
                            data-testid="share-link"
                            value=move || share.get()
                            prop:value=move || share.get()
                            on:focus=select_on_focus
                        />
                        <button
                            type="button"
                            class="copy"
                            data-testid="copy-link"
                            data-action=move || if can_share.get() { "share" } else { "copy" }
                            on:click=copy
                        >
                            {move || match copied.get() {
                                Some(true) => t_string!(i18n, queue.invite.copied),
                                Some(false) => t_string!(i18n, queue.invite.press_copy),
                                None if can_share.get() => t_string!(i18n, queue.invite.share),
                                None => t_string!(i18n, queue.invite.copy),
                            }}
                        </button>
                    </div>
                </div>
    }
}

/// `text` (a formatted magnitude) with the sign of `x`: "+1.5", "-0,3".
fn signed(text: String, x: f64) -> String {
    if text.starts_with('-') {
        text
    } else if x < 0.0 {
        format!("-{text}")
    } else {
        format!("+{text}")
    }
}

/// The badge's short text, in the page's language.
fn badge_label(i18n: I18n, s: &SyncStats) -> String {
    match s.status {
        "live" => {
            let live = match s.error_ms {
                Some(e) if e.abs() >= 1_000.0 => fill(
                    t_string!(i18n, queue.sync.badge.live_s),
                    &[(
                        "error",
                        &signed(crate::lang::decimal(i18n, e / 1000.0, 1), e),
                    )],
                ),
                Some(e) => fill(
                    t_string!(i18n, queue.sync.badge.live_ms),
                    &[("error", &format!("{:+.0}", e))],
                ),
                None => t_string!(i18n, queue.sync.badge.live).to_owned(),
            };
            if s.rate_control == RateControl::Locked {
                fill(
                    t_string!(i18n, queue.sync.badge.rate_locked),
                    &[("live", &live)],
                )
            } else {
                live
            }
        }
        "reconnecting" => t_string!(i18n, queue.sync.badge.reconnecting).to_owned(),
        "offline" => t_string!(i18n, queue.sync.badge.offline).to_owned(),
        _ => t_string!(i18n, queue.sync.badge.connecting).to_owned(),
    }
}

/// The viewer count and the sync badge (its details open on a tap or click, or Enter/Space,
/// and close on Escape; not on `:focus`: a tap does not reliably focus a non-control on every
/// phone, and a focus that sticks would keep them open).
#[component]
pub fn StatusRow(viewers: Field<u32>, stats: Field<SyncStats>) -> impl IntoView {
    let details_open = RwSignal::new(false);
    let toggle_details = move || details_open.update(|o| *o = !*o);
    let status = move || stats.with(|s| s.status);
    let error_attr = move || {
        stats.with(|s| {
            s.error_ms
                .filter(|_| s.status != "connecting")
                .map(|e| format!("{}", e.round() as i64))
        })
    };
    let i18n = use_i18n();
    let label = move || stats.with(|s| badge_label(i18n, s));
    let count = move || viewers.get();
    let keydown = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Enter" | " " => {
            ev.prevent_default();
            toggle_details();
        }
        "Escape" => details_open.set(false),
        _ => {}
    };
    let watching = move || {
        if count() == 1 {
            t_string!(i18n, queue.sync.watching.one)
        } else {
            t_string!(i18n, queue.sync.watching.other)
        }
    };
    view! {
                <div class="status-row">
                    <span class="viewers" data-testid="viewer-count" data-count=move || count().to_string()>
                        <span class="viewers-number">{count}</span>
                        {watching}
                    </span>
                    <div
                        class="sync-badge"
                        class:open=move || details_open.get()
                        tabindex="0"
                        role="button"
                        aria-expanded=move || if details_open.get() { "true" } else { "false" }
                        on:click=move |_| toggle_details()
                        on:keydown=keydown
                        data-testid="sync-badge"
                        data-status=status
                        data-error-ms=error_attr
                        data-rate-control=move || stats.with(|s| s.rate_control.as_str())
                        title=move || stats.with(|s| (s.rate_control == RateControl::Locked).then(|| t_string!(i18n, queue.sync.locked_hint)))
                        aria-label=move || fill(t_string!(i18n, queue.sync.label), &[("state", &label())])
                    >
                        <span class="dot" aria-hidden="true"></span>
                        <span class="badge-label">{label}</span>
                        <dl class="sync-details">
                            <dt>{tr!(i18n, queue.sync.details.distance)}</dt>
                            <dd>{move || stats.with(|s| s.error_ms.map(|e| format!("{e:+.1} ms")).unwrap_or_else(|| "–".into()))}</dd>
                            <dt>{tr!(i18n, queue.sync.details.offset)}</dt>
                            <dd>{move || stats.with(|s| format!("{:.1} ms", s.offset_ms))}</dd>
                            <dt>{tr!(i18n, queue.sync.details.round_trip)}</dt>
                            <dd>{move || stats.with(|s| format!("{:.1} ms", s.rtt_ms))}</dd>
                            <dt>{tr!(i18n, queue.sync.details.seeks)}</dt>
                            <dd>{move || stats.with(|s| s.corrective_seeks.to_string())}</dd>
                            <dt>{tr!(i18n, queue.sync.details.nudges)}</dt>
                            <dd>{move || stats.with(|s| s.rate_nudges.to_string())}</dd>
                            <dt>{tr!(i18n, queue.sync.details.seek_latency)}</dt>
                            <dd>{move || stats.with(|s| format!("{:.0} ms", s.seek_latency_ms))}</dd>
                            <dt>{tr!(i18n, queue.sync.details.revision)}</dt>
                            <dd>{move || stats.with(|s| s.revision.to_string())}</dd>
                        </dl>
                    </div>
                </div>
    }
}
