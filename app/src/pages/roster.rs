//! "Who is here": the room's list of viewers with the health each one's own client reports
//! (see [`crate::roster`]), and the aggregate line a big room shows instead of every name.
//! Hosts and co-hosts wear a badge; a host sees the buttons of [`super::host`] on each row.

use super::host::MemberControls;
use super::session::together::ReadyMark;
use super::Ask;
use crate::health::Health;
use crate::i18n::{t_string, tr, use_i18n};
use crate::lang::fill;
use crate::rights::{Kid, Rights};
use crate::roster::Roster;
use leptos::prelude::*;
use reactive_stores::Field;

/// The words shown for a member's health, in the page's language.
fn label(status: Option<Health>) -> String {
    let i18n = use_i18n();
    match status {
        None => t_string!(i18n, people.health.joining).into(),
        Some(Health::InSync { ms, rate_locked }) => {
            let at = if ms == 0 {
                t_string!(i18n, people.health.in_sync).to_owned()
            } else {
                fill(
                    t_string!(i18n, people.health.in_sync_ms),
                    &[("ms", &format!("{ms:+}"))],
                )
            };
            // Says why this viewer may stay a frame from the others (issue 14).
            if rate_locked {
                at + " · " + t_string!(i18n, people.health.rate_locked)
            } else {
                at
            }
        }
        Some(h) => health_word(h).into(),
    }
}

/// A health in a few words, without figures ("in sync", "catching up"), in the page's
/// language: the row's words, and what the page announces when this viewer's own state changes.
pub(crate) fn health_word(h: Health) -> &'static str {
    let i18n = use_i18n();
    match h {
        Health::InSync { .. } => t_string!(i18n, people.health.in_sync),
        Health::CatchingUp => t_string!(i18n, people.health.catching_up),
        Health::Buffering => t_string!(i18n, people.health.buffering),
        Health::Loading => t_string!(i18n, people.health.loading),
        Health::Ad => t_string!(i18n, people.health.ad),
        Health::NeedsClick => t_string!(i18n, people.health.needs_click),
        Health::Background => t_string!(i18n, people.health.background),
        Health::Reconnecting => t_string!(i18n, people.health.reconnecting),
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
    let i18n = use_i18n();
    let total = move || viewers.get().max(roster.with(|r| r.members.len() as u32));
    let in_sync = move || roster.with(|r| r.in_sync());
    let more = move || total().saturating_sub(roster.with(|r| r.members.len() as u32));
    view! {
        <section class="roster panel" data-testid="roster">
            <h2 class="roster-heading">{tr!(i18n, people.heading)}</h2>
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
                        let name = move || member().and_then(|m| m.name).unwrap_or_else(|| t_string!(i18n, people.guest).into());
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
                                <span class="roster-you" hidden=move || me.get() != id>{tr!(i18n, people.you)}</span>
                                <span class="roster-state">{move || label(status())}</span>
                                <ReadyMark ready_skip=ready_skip rights=rights kid=kid/>
                                <MemberControls rights=rights me=my_kid kid=kid on_ask=on_ask/>
                            </li>
                        }
                    }
                />
            </ul>
            <Show when=move || { more() > 0 }>
                <p class="hint" data-testid="roster-more">{move || fill(t_string!(i18n, people.more), &[("count", &crate::lang::number(i18n, u64::from(more())))])}</p>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::label;
    use crate::health::Health;
    use leptos::prelude::*;

    #[test]
    fn labels() {
        let owner = Owner::new();
        owner.set();
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

    /// The same words in German, for a page rendered for a German browser.
    #[cfg(feature = "ssr")]
    #[test]
    fn labels_in_german() {
        let owner = Owner::new();
        owner.set();
        let mut req = http::Request::new(());
        req.headers_mut()
            .insert(http::header::ACCEPT_LANGUAGE, "de-DE".parse().unwrap());
        provide_context(req.into_parts().0);
        crate::i18n::provide_i18n();
        let locked = Health::InSync {
            ms: -20,
            rate_locked: true,
        };
        assert_eq!(
            label(Some(locked)),
            "synchron (-20 ms) · feste Geschwindigkeit"
        );
        assert_eq!(label(Some(Health::CatchingUp)), "holt auf");
    }
}
