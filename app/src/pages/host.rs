//! Host controls on the session page (see [`crate::rights`]): the "only hosts control" switch,
//! the owner's private host link, and what a host may do to a viewer of the room's list.
//! The page only offers what the rules allow; the server checks every request anyway.

use super::Ask;
use crate::i18n::{t_string, tr, use_i18n, I18n};
use crate::rights::{Kid, Rights, RightsCommand};
use leptos::prelude::*;
use reactive_stores::Field;

/// What `me` may do to `target` (a viewer of the list) under `rights`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberActions {
    /// Appoint or dismiss as co-host (the host only).
    pub cohost: bool,
    /// Hand over host (the host only).
    pub hand_over: bool,
    /// Remove from the room.
    pub remove: bool,
}

impl MemberActions {
    /// The actions of `me` on `target`: none on oneself, on the host, or for a viewer who is
    /// no host; the host may do all three to anyone else; a co-host may remove plain viewers.
    pub fn of(rights: &Rights, me: Option<&Kid>, target: Option<&Kid>) -> Self {
        let (Some(me), Some(target)) = (me, target) else {
            return Self::default();
        };
        if me == target || rights.is_owner(target) || !rights.is_host(me) {
            return Self::default();
        }
        let owner = rights.is_owner(me);
        Self {
            cohost: owner,
            hand_over: owner,
            remove: owner || !rights.is_host(target),
        }
    }

    /// Any action at all?
    pub fn any(&self) -> bool {
        self.cohost || self.hand_over || self.remove
    }
}

/// A member's role: `"host"`, `"cohost"`, or none.
pub fn role(rights: &Rights, kid: Option<&Kid>) -> Option<&'static str> {
    let kid = kid?;
    if rights.is_owner(kid) {
        Some("host")
    } else if rights.is_host(kid) {
        Some("cohost")
    } else {
        None
    }
}

/// A role's badge text ("Host", "Co-host") in the page's language.
fn role_text(i18n: I18n, role: &str) -> &'static str {
    if role == "host" {
        t_string!(i18n, host.role.host)
    } else {
        t_string!(i18n, host.role.cohost)
    }
}

/// The hosts' panel: the lock switch and, for the host, the host link.
#[component]
pub fn HostPanel<F>(
    visible: Signal<bool>,
    rights: Field<Rights>,
    is_owner: Signal<bool>,
    host_link: Field<Option<String>>,
    error: Field<Option<String>>,
    on_ask: F,
) -> impl IntoView
where
    F: Fn(Ask) + Copy + Send + Sync + 'static,
{
    let i18n = use_i18n();
    let locked = move || rights.with(|r| r.locked);
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        let Some(link) = host_link.get_untracked() else {
            return;
        };
        super::copy_with_feedback(link, "host-link", copied);
    };
    view! {
        <section
            class="host-panel"
            data-testid="host-panel"
            aria-label=tr!(i18n, host.controls)
            hidden=move || !visible.get()
        >
            <label class="switch">
                <input
                    type="checkbox"
                    role="switch"
                    data-testid="lock-control"
                    // Re-read after a refusal too, so the switch never shows a mode the room
                    // is not in.
                    prop:checked=move || {
                        error.track();
                        locked()
                    }
                    on:change=move |ev| {
                        on_ask(Ask::Host(RightsCommand::Lock { locked: event_target_checked(&ev) }))
                    }
                />
                <span>{tr!(i18n, host.lock.label)}</span>
            </label>
            <p class="hint">
                {move || if locked() {
                    t_string!(i18n, host.lock.on)
                } else {
                    t_string!(i18n, host.lock.off)
                }}
            </p>
            <div
                class="field host-link-field"
                hidden=move || !(is_owner.get() && host_link.with(|l| l.is_some()))
            >
                    <label for="host-link">{tr!(i18n, host.link.label)}</label>
                    <div class="share-row">
                        <input
                            id="host-link"
                            type="text"
                            readonly
                            data-testid="host-link"
                            prop:value=move || host_link.get().unwrap_or_default()
                        />
                        <button type="button" class="copy" data-testid="copy-host-link" on:click=copy>
                            {move || match copied.get() {
                                Some(true) => t_string!(i18n, host.link.copied),
                                Some(false) => t_string!(i18n, host.link.press_copy),
                                None => t_string!(i18n, host.link.copy),
                            }}
                        </button>
                    </div>
                    <p class="hint warn">
                        {tr!(i18n, host.link.private)}
                    </p>
            </div>
            <p class="error" role="alert" data-testid="host-error" hidden=move || error.with(|e| e.is_none())>
                {move || error.get().unwrap_or_default()}
            </p>
        </section>
    }
    .into_any()
}

/// A row's role badge and a host's buttons for that member.
#[component]
pub fn MemberControls<F>(
    rights: Field<Rights>,
    me: Signal<Option<Kid>>,
    kid: Signal<Option<Kid>>,
    on_ask: F,
) -> impl IntoView
where
    F: Fn(Ask) + Copy + Send + Sync + 'static,
{
    let i18n = use_i18n();
    let badge = move || kid.with(|k| rights.with(|r| role(r, k.as_ref())));
    let actions = move || {
        me.with(|m| kid.with(|k| rights.with(|r| MemberActions::of(r, m.as_ref(), k.as_ref()))))
    };
    let is_cohost =
        move || kid.with(|k| rights.with(|r| k.as_ref().is_some_and(|k| r.cohosts.contains(k))));
    let ask = move |cmd: fn(Kid, bool) -> RightsCommand| {
        if let Some(k) = kid.get_untracked() {
            on_ask(Ask::Host(cmd(k, is_cohost())));
        }
    };
    view! {
        <span
            class="member-role"
            data-testid="member-role"
            data-role=badge
            hidden=move || badge().is_none()
        >
            {move || badge().map(|role| role_text(i18n, role))}
        </span>
        <span class="member-actions" hidden=move || !actions().any()>
                    <button
                        type="button"
                        data-testid="member-cohost"
                        hidden=move || !actions().cohost
                        data-on=move || is_cohost().to_string()
                        on:click=move |_| ask(|kid, on| RightsCommand::Cohost { kid, on: !on })
                    >
                        {move || if is_cohost() {
                            t_string!(i18n, host.member.dismiss_cohost)
                        } else {
                            t_string!(i18n, host.member.make_cohost)
                        }}
                    </button>
                    <button
                        type="button"
                        data-testid="member-handover"
                        hidden=move || !actions().hand_over
                        title=tr!(i18n, host.member.make_host_title)
                        on:click=move |_| ask(|kid, _| RightsCommand::HandOver { kid })
                    >
                        {tr!(i18n, host.member.make_host)}
                    </button>
                    <button
                        type="button"
                        class="danger"
                        data-testid="member-remove"
                        hidden=move || !actions().remove
                        title=tr!(i18n, host.member.remove_title)
                        on:click=move |_| ask(|kid, _| RightsCommand::Remove { kid })
                    >
                        {tr!(i18n, host.member.remove)}
                    </button>
        </span>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u8) -> Kid {
        Kid::parse(&format!("{i:032x}")).unwrap()
    }

    #[test]
    fn hosts_are_offered_only_what_the_rules_allow() {
        let owner = Owner::new();
        owner.set();
        let mut r = Rights::owned_by(k(1));
        r.cohosts.push(k(2));
        let of = |me: u8, t: u8| MemberActions::of(&r, Some(&k(me)), Some(&k(t)));
        let all = MemberActions {
            cohost: true,
            hand_over: true,
            remove: true,
        };
        // The host: everything on others, nothing on themselves.
        assert_eq!(of(1, 2), all);
        assert_eq!(of(1, 3), all);
        assert!(!of(1, 1).any());
        // A co-host removes plain viewers only, never the host or another co-host.
        assert_eq!(
            of(2, 3),
            MemberActions {
                remove: true,
                ..MemberActions::default()
            }
        );
        assert!(!of(2, 1).any());
        // A viewer: nothing.
        assert!(!of(3, 4).any());
        assert!(!MemberActions::of(&r, None, Some(&k(3))).any());
        assert!(!MemberActions::of(&r, Some(&k(1)), None).any());
        assert_eq!(role(&r, Some(&k(1))), Some("host"));
        assert_eq!(role(&r, Some(&k(2))), Some("cohost"));
        assert_eq!(role_text(use_i18n(), "host"), "Host");
        assert_eq!(role_text(use_i18n(), "cohost"), "Co-host");
        assert_eq!(role(&r, Some(&k(3))), None);
    }
}
