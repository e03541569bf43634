//! Moving as one, on the session page: the host's switches for the room's settings ("Wait for
//! everyone", "Also wait when someone buffers", "Vote to skip"), the ready check ("Everyone
//! ready?", each viewer's "I'm ready", the host's "Start" or "Start anyway") and vote to skip
//! ("Skip (2/5)", and a host's plain "Skip"). What they show comes from the pure
//! [`watchparty_core::room_view::together`]; every request goes through the server's rules
//! ([`watchparty_core::ready_skip`]), which refuse what the page should not have offered.

use super::client::{Client, RoomReq};
use crate::i18n::{t_string, tr, use_i18n, I18n};
use crate::playback::Command;
use crate::queue::Queue;
use crate::rights::{Kid, Rights};
use crate::roster::Roster;
use leptos::prelude::*;
use reactive_stores::Field;
use watchparty_core::ready_skip::ReadySkip;
use watchparty_core::room_view::together::{row_ready, vote_share, ReadyTally};
use watchparty_core::together::RoomSettings;

/// The open ready check's tally over the room's list (`None` without a check).
pub fn tally(
    ready_skip: Field<ReadySkip>,
    rights: Field<Rights>,
    roster: Field<Roster>,
    viewers: Field<u32>,
) -> Signal<Option<ReadyTally>> {
    Signal::derive(move || {
        ready_skip.with(|rs| {
            rights.with(|r| roster.with(|ro| ReadyTally::of(rs, r, &ro.members, viewers.get())))
        })
    })
}

/// One of the host's setting switches.
#[component]
fn SettingSwitch(
    settings: Field<RoomSettings>,
    client: Client,
    testid: &'static str,
    /// The switch's label, in the page's language (read in a reactive closure).
    label: fn(I18n) -> &'static str,
    get: fn(&RoomSettings) -> bool,
    set: fn(&mut RoomSettings, bool),
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <label class="switch">
            <input
                type="checkbox"
                role="switch"
                data-testid=testid
                prop:checked=move || settings.with(get)
                on:change=move |ev| {
                    let mut s = settings.get_untracked();
                    set(&mut s, event_target_checked(&ev));
                    client.room(RoomReq::Settings(s));
                }
            />
            <span>{move || label(i18n)}</span>
        </label>
    }
}

/// The host's block: the settings, "Everyone ready?" and "Skip" (the next queued video now).
#[component]
pub fn TogetherHost(
    visible: Signal<bool>,
    settings: Field<RoomSettings>,
    ready_skip: Field<ReadySkip>,
    queue: Field<Queue>,
    client: Client,
) -> impl IntoView {
    let checking = move || ready_skip.with(|rs| rs.check.is_some());
    let next = move || queue.with(|q| q.items.first().map(|i| i.id));
    let i18n = use_i18n();
    view! {
        <section
            class="host-panel together-host"
            data-testid="together-host"
            aria-label=tr!(i18n, session.together.label)
            hidden=move || !visible.get()
        >
            <SettingSwitch
                settings=settings
                client=client
                testid="setting-wait-for-all"
                label=|i18n| t_string!(i18n, session.together.wait_for_all)
                get=|s| s.wait_for_all
                set=|s, on| s.wait_for_all = on
            />
            <SettingSwitch
                settings=settings
                client=client
                testid="setting-wait-on-buffer"
                label=|i18n| t_string!(i18n, session.together.wait_on_buffer)
                get=|s| s.wait_on_buffer
                set=|s, on| s.wait_on_buffer = on
            />
            <SettingSwitch
                settings=settings
                client=client
                testid="setting-vote-skip"
                label=|i18n| t_string!(i18n, session.together.vote_skip)
                get=|s| s.vote_skip
                set=|s, on| s.vote_skip = on
            />
            <div class="share-row">
                <button
                    type="button"
                    data-testid="ready-check-start"
                    hidden=checking
                    on:click=move |_| client.room(RoomReq::ReadyCheck(true))
                >
                    {tr!(i18n, session.together.ask)}
                </button>
                <button
                    type="button"
                    data-testid="host-skip"
                    disabled=move || next().is_none()
                    on:click=move |_| {
                        if let Some(item) = next() {
                            client.room(RoomReq::PlayNow(item));
                        }
                    }
                >
                    {tr!(i18n, session.together.skip)}
                </button>
            </div>
        </section>
    }
}

/// The open ready check, for everybody: where it stands, this viewer's "I'm ready", and for
/// hosts "Start" (everyone is ready) or "Start anyway", and "Cancel". Hidden without a check.
#[component]
pub fn ReadyBar(
    ready_skip: Field<ReadySkip>,
    tally: Signal<Option<ReadyTally>>,
    my_kid: Signal<Option<Kid>>,
    is_host: Signal<bool>,
    position: Signal<f64>,
    client: Client,
) -> impl IntoView {
    let mine = move || {
        my_kid.with(|k| {
            k.as_ref()
                .is_some_and(|k| ready_skip.with(|rs| rs.is_ready(k)))
        })
    };
    let everyone = move || tally.get().is_some_and(|t| t.everyone());
    let i18n = use_i18n();
    let text = move || {
        tally
            .get()
            .map(|t| crate::sentences::ready_tally(i18n, &t))
            .unwrap_or_default()
    };
    view! {
        <div
            class="control-notice ready-check"
            role="status"
            data-testid="ready-check"
            data-ready=move || tally.get().map(|t| t.ready.to_string()).unwrap_or_default()
            data-of=move || tally.get().map(|t| t.of.to_string()).unwrap_or_default()
            hidden=move || tally.get().is_none()
        >
            <span>{tr!(i18n, session.together.check)}</span>
            <span data-testid="ready-check-text">{text}</span>
            " "
            <button
                type="button"
                data-testid="ready-toggle"
                aria-pressed=move || mine().to_string()
                hidden=move || is_host.get()
                on:click=move |_| client.room(RoomReq::Ready(!mine()))
            >
                {move || if mine() {
                    t_string!(i18n, session.together.not_ready)
                } else {
                    t_string!(i18n, session.together.im_ready)
                }}
            </button>
            <button
                type="button"
                data-testid="ready-start"
                data-everyone=move || everyone().to_string()
                hidden=move || !is_host.get()
                on:click=move |_| client.request(Command::Play { position: position.get_untracked() })
            >
                {move || if everyone() {
                    t_string!(i18n, session.together.start)
                } else {
                    t_string!(i18n, session.together.start_anyway)
                }}
            </button>
            <button
                type="button"
                data-testid="ready-check-cancel"
                hidden=move || !is_host.get()
                on:click=move |_| client.room(RoomReq::ReadyCheck(false))
            >
                {tr!(i18n, session.together.cancel)}
            </button>
        </div>
    }
}

/// "Skip (2/5)": this viewer's vote to skip the video (again to take it back), while the room
/// votes to skip; disabled with nothing queued. Hosts skip with "Skip" instead.
#[component]
pub fn SkipVote(
    settings: Field<RoomSettings>,
    ready_skip: Field<ReadySkip>,
    queue: Field<Queue>,
    viewers: Field<u32>,
    my_kid: Signal<Option<Kid>>,
    is_host: Signal<bool>,
    client: Client,
) -> impl IntoView {
    let votes = move || ready_skip.with(|rs| rs.votes.len());
    let mine = move || {
        my_kid.with(|k| {
            k.as_ref()
                .is_some_and(|k| ready_skip.with(|rs| rs.voted(k)))
        })
    };
    let vote_i18n = use_i18n();
    let share = move || vote_share(votes(), viewers.get());
    let label = move || crate::sentences::skip_label(vote_i18n, share());
    let notice = move || crate::sentences::skip_notice(vote_i18n, share());
    view! {
        <div
            class="vote-skip"
            data-testid="vote-skip-row"
            hidden=move || !settings.with(|s| s.vote_skip)
        >
            <button
                type="button"
                data-testid="vote-skip"
                data-votes=move || votes().to_string()
                aria-pressed=move || mine().to_string()
                hidden=move || is_host.get()
                disabled=move || queue.with(|q| q.items.is_empty())
                on:click=move |_| {
                    let round = ready_skip.with_untracked(|rs| rs.round);
                    client.room(RoomReq::VoteSkip { round, vote: !mine() });
                }
            >
                {label}
            </button>
            <span class="hint" data-testid="vote-skip-notice" hidden=move || notice().is_none()>
                {move || notice().unwrap_or_default()}
            </span>
        </div>
    }
}

/// A roster row's ready mark while a ready check is open (none on hosts' rows).
#[component]
pub fn ReadyMark(
    ready_skip: Field<ReadySkip>,
    rights: Field<Rights>,
    kid: Signal<Option<Kid>>,
) -> impl IntoView {
    let state =
        move || ready_skip.with(|rs| rights.with(|r| kid.with(|k| row_ready(rs, r, k.as_ref()))));
    let i18n = use_i18n();
    view! {
        <span
            class="roster-ready"
            data-testid="roster-ready"
            data-ready=move || state().map(|b| b.to_string()).unwrap_or_default()
            hidden=move || state().is_none()
        >
            {move || match state() {
                Some(true) => t_string!(i18n, session.together.mark_ready),
                _ => t_string!(i18n, session.together.mark_not_ready),
            }}
        </span>
    }
}
