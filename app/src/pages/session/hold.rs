//! "Waiting for Ana, Ben and 3 others": the room's hold ("wait for everyone", see
//! [`watchparty_core::hold`]), shown to everybody while the room waits for players that are not
//! ready, with "Start now" for those who may control playback. The names come from the room's
//! list as it is now (who is still not ready), else from the hold's own record.

use crate::i18n::{tr, use_i18n};
use crate::roster::Roster;
use leptos::prelude::*;
use reactive_stores::Field;
use watchparty_core::hold::{hold_waiting, Hold, Readiness};

/// The hold's line and its "Start now" button; hidden while the room is not held.
#[component]
pub fn HoldBanner<F>(
    hold: Field<Option<Hold>>,
    roster: Field<Roster>,
    may_control: Signal<bool>,
    on_start: F,
) -> impl IntoView
where
    F: Fn(u64) + Copy + Send + Sync + 'static,
{
    let i18n = use_i18n();
    let text = move || {
        hold.with(|h| {
            h.as_ref().map(|h| {
                let live = roster.with(|r| Readiness::of(&r.members, &r.counts));
                crate::sentences::waiting(i18n, &hold_waiting(h, &live))
            })
        })
        .unwrap_or_default()
    };
    let revision = move || hold.with(|h| h.as_ref().map(|h| h.revision));
    view! {
        <div
            class="control-notice hold"
            role="status"
            data-testid="hold"
            data-hold=move || revision().map(|r| r.to_string()).unwrap_or_default()
            hidden=move || revision().is_none()
        >
            <span data-testid="hold-text">{text}</span>
            " "
            <button
                type="button"
                data-testid="hold-start-now"
                hidden=move || !may_control.get()
                on:click=move |_| {
                    if let Some(r) = hold.with_untracked(|h| h.as_ref().map(|h| h.revision)) {
                        on_start(r);
                    }
                }
            >
                {tr!(i18n, session.hold.start_now)}
            </button>
        </div>
    }
}
