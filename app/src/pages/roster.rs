//! "Who is here": the room's list of viewers with the health each one's own client reports
//! (see [`crate::roster`]), and the aggregate line a big room shows instead of every name.
//! Hosts and co-hosts wear a badge; a host sees the buttons of [`super::host`] on each row.

use super::host::MemberControls;
use super::session::together::ReadyMark;
use super::Ask;
use crate::health::Health;
use crate::rights::{Kid, Rights};
use crate::roster::Roster;
use leptos::prelude::*;
use reactive_stores::Field;

/// The words shown for a member's health.
fn label(status: Option<Health>) -> String {
    match status {
        None => "joining…".into(),
        Some(Health::InSync { ms, rate_locked }) => {
            let at = if ms == 0 {
                "in sync".to_owned()
            } else {
                format!("in sync ({ms:+} ms)")
            };
            // Says why this viewer may stay a frame from the others (issue 14).
            if rate_locked {
                at + " · rate-locked"
            } else {
                at
            }
        }
        Some(h) => health_word(h).into(),
    }
}

/// A health in a few words, without figures ("in sync", "catching up"): the row's words, and
/// what the page announces when this viewer's own state changes.
pub(crate) fn health_word(h: Health) -> &'static str {
    match h {
        Health::InSync { .. } => "in sync",
        Health::CatchingUp => "catching up",
        Health::Buffering => "buffering",
        Health::Loading => "loading",
        Health::Ad => "watching an ad",
        Health::NeedsClick => "needs a click",
        Health::Background => "background tab",
        Health::Reconnecting => "reconnecting",
    }
}

/// The list: one row per listed member (their name as text only), then "and N more".
#[component]
pub fn RosterPanel<F>(
    roster: Field<Roster>,
    viewers: Field<u32>,
    me: Signal<u64>,
    rights: Field<Rights>,
    my_kid: Signal<Option<Kid>>,
    /// The ready check, for each row's ready mark.
    ready_skip: Field<watchparty_core::ready_skip::ReadySkip>,
    on_ask: F,
) -> impl IntoView
where
    F: Fn(Ask) + Copy + Send + Sync + 'static,
{
    let i18n = crate::i18n::use_i18n();
    let total = move || viewers.get().max(roster.with(|r| r.members.len() as u32));
    let in_sync = move || roster.with(|r| r.in_sync());
    let more = move || total().saturating_sub(roster.with(|r| r.members.len() as u32));
    view! {
        <section class="roster panel" data-testid="roster">
            <h2 class="roster-heading">"Who is here"</h2>
            <p
                class="roster-summary"
                data-testid="roster-summary"
                data-in-sync=move || in_sync().to_string()
                data-total=move || total().to_string()
            >
                {move || crate::sentences::in_sync(i18n, u64::from(in_sync()), u64::from(total()))}
            </p>
            <ul class="roster-list">
                // Rows are keyed by member id only and read their name and health reactively:
                // a health change updates two attributes and a text instead of re-creating
                // the row (less layout work on every page while the room's players correct).
                <For
                    each=move || roster.with(|r| r.members.iter().map(|m| m.id).collect::<Vec<_>>())
                    key=|id: &u64| *id
                    children=move |id: u64| {
                        let member = move || roster.with(|r| r.members.iter().find(|m| m.id == id).cloned());
                        let status = move || member().and_then(|m| m.status);
                        let health = move || status().map(|h| h.as_str()).unwrap_or("unknown");
                        let ms = move || match status() {
                            Some(Health::InSync { ms, .. }) => Some(ms.to_string()),
                            _ => None,
                        };
                        let locked = move || status().is_some_and(|h| h.rate_locked()).then_some("true");
                        let mine = move || (me.get() == id).to_string();
                        let name = move || member().and_then(|m| m.name).unwrap_or_else(|| "Guest".into());
                        let kid = Signal::derive(move || {
                            roster.with(|r| r.members.iter().find(|m| m.id == id).and_then(|m| m.kid.clone()))
                        });
                        view! {
                            <li
                                class="roster-member"
                                data-testid="roster-member"
                                data-health=health
                                data-ms=ms
                                data-rate-locked=locked
                                data-me=mine
                                data-conn-id=id.to_string()
                            >
                                <span class=move || format!("dot health-{}", health()) aria-hidden="true"></span>
                                <span class="roster-name" data-testid="roster-name">{name}</span>
                                <span class="roster-state">{move || label(status())}</span>
                                <ReadyMark ready_skip=ready_skip rights=rights kid=kid/>
                                <MemberControls rights=rights me=my_kid kid=kid on_ask=on_ask/>
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=move || { more() > 0 }>
                <p class="hint" data-testid="roster-more">{move || format!("and {} more", more())}</p>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::label;
    use crate::health::Health;

    #[test]
    fn labels() {
        assert_eq!(label(Some(Health::in_sync(0))), "in sync");
        assert_eq!(label(Some(Health::in_sync(-10))), "in sync (-10 ms)");
        assert_eq!(label(Some(Health::in_sync(20))), "in sync (+20 ms)");
        let locked = |ms| Health::InSync {
            ms,
            rate_locked: true,
        };
        assert_eq!(label(Some(locked(0))), "in sync · rate-locked");
        assert_eq!(label(Some(locked(-20))), "in sync (-20 ms) · rate-locked");
        assert_eq!(label(Some(Health::NeedsClick)), "needs a click");
        assert_eq!(label(None), "joining…");
    }
}
