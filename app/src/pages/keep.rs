//! "Keep this room": the host makes the room permanent (optionally under a short name,
//! `/r/<name>`), makes it temporary again, or ends it (after a confirmation). A component of
//! its own, placed by the session page wherever the host controls go. The page only offers
//! what the rules allow (the room's host only, see `watchparty_core::permanent`); the server
//! checks every request anyway, and its refusals (a cap reached, a name taken, invalid or
//! reserved) reach the host panel's error line.

use crate::i18n::{t_string, tr, use_i18n};
use crate::lang::fill;
use crate::protocol::ClientMsg;
use leptos::prelude::*;
use reactive_stores::Field;
use watchparty_core::permanent::Permanence;

/// What the host asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeepAsk {
    /// Keep the room, under this name if any (the server validates it).
    Keep(Option<String>),
    /// Make it temporary again.
    Release,
    /// End it for everyone.
    End,
}

impl KeepAsk {
    /// The message for this request with host sequence number `seq` (sent by the browser's
    /// client only).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn message(self, seq: u32) -> ClientMsg {
        match self {
            KeepAsk::Keep(name) => ClientMsg::MakePermanent {
                seq,
                name: name.filter(|n| !n.trim().is_empty()),
            },
            KeepAsk::Release => ClientMsg::MakeTemporary { seq },
            KeepAsk::End => ClientMsg::EndRoom { seq },
        }
    }
}

/// The invite link: `<origin>/r/<name>` for a permanent room with a name, else the room's
/// own link, `<origin><path>` (`path`: `/s/<id>`). `share` is the current link (its origin is
/// kept).
pub fn invite_link(share: &str, path: &str, permanent: Option<&Permanence>) -> String {
    let origin = ["/s/", "/r/"]
        .iter()
        .filter_map(|p| share.find(p))
        .min()
        .map_or(share, |at| &share[..at]);
    match permanent.and_then(|p| p.alias.as_ref()) {
        Some(alias) => format!("{origin}{}", alias.path()),
        None if path.starts_with("/s/") => format!("{origin}{path}"),
        None => share.to_owned(),
    }
}

/// The room's status for the host, in the page's language: "Permanent room · /r/name",
/// "Permanent room", or none.
pub fn status(permanent: Option<&Permanence>) -> Option<String> {
    let p = permanent?;
    let i18n = use_i18n();
    Some(match &p.alias {
        Some(a) => fill(
            t_string!(i18n, host.keep.status_named),
            &[("path", &a.path())],
        ),
        None => t_string!(i18n, host.keep.status).to_owned(),
    })
}

/// "Keep this room", "Make temporary" and "End room" (with a confirmation), for the host.
#[component]
pub fn KeepRoom<F>(
    visible: Signal<bool>,
    permanent: Field<Option<Permanence>>,
    on_ask: F,
) -> impl IntoView
where
    F: Fn(KeepAsk) + Copy + Send + Sync + 'static,
{
    let i18n = use_i18n();
    let name = RwSignal::new(String::new());
    let confirming = RwSignal::new(false);
    let kept = move || permanent.with(|p| p.is_some());
    let keep = move || {
        on_ask(KeepAsk::Keep(Some(name.get_untracked())));
    };
    view! {
        <section
            class="keep-room"
            data-testid="keep-room"
            data-permanent=move || kept().to_string()
            aria-label=tr!(i18n, host.keep.label)
            hidden=move || !visible.get()
        >
            <div hidden=kept>
                <form
                    class="field"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        keep();
                    }
                >
                    <label for="room-name">{tr!(i18n, host.keep.label)}</label>
                    <div class="share-row">
                        <input
                            id="room-name"
                            type="text"
                            maxlength="40"
                            autocomplete="off"
                            spellcheck="false"
                            placeholder=tr!(i18n, host.keep.name_placeholder)
                            data-testid="room-name"
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev))
                        />
                        <button type="submit" data-testid="keep-room-button">{tr!(i18n, host.keep.keep)}</button>
                    </div>
                </form>
                <p class="hint">
                    {tr!(i18n, host.keep.hint)}
                </p>
            </div>
            <div hidden=move || !kept()>
                <p class="permanent-status" data-testid="permanent-status">
                    {move || permanent.with(|p| status(p.as_ref()))}
                </p>
                <p class="hint">
                    {tr!(i18n, host.keep.kept_hint)}
                </p>
                <button type="button" data-testid="make-temporary" on:click=move |_| on_ask(KeepAsk::Release)>
                    {tr!(i18n, host.keep.make_temporary)}
                </button>
            </div>
            <div class="end-room">
                <button
                    type="button"
                    class="danger"
                    data-testid="end-room"
                    hidden=move || confirming.get()
                    on:click=move |_| confirming.set(true)
                >
                    {tr!(i18n, host.keep.end)}
                </button>
                <div role="group" aria-label=tr!(i18n, host.keep.confirm_label) hidden=move || !confirming.get()>
                    <p>{tr!(i18n, host.keep.confirm)}</p>
                    <button
                        type="button"
                        class="danger"
                        data-testid="end-room-confirm"
                        on:click=move |_| {
                            confirming.set(false);
                            on_ask(KeepAsk::End);
                        }
                    >
                        {tr!(i18n, host.keep.end_for_everyone)}
                    </button>
                    <button type="button" data-testid="end-room-cancel" on:click=move |_| confirming.set(false)>
                        {tr!(i18n, host.keep.cancel)}
                    </button>
                </div>
            </div>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchparty_core::permanent::Alias;
    use watchparty_core::rights::Kid;

    fn kept(alias: Option<&str>) -> Permanence {
        Permanence {
            by: Kid::parse(&"a".repeat(32)).unwrap(),
            alias: alias.map(|a| Alias::parse(a).unwrap()),
        }
    }

    #[test]
    fn the_invite_link_is_the_short_one_when_there_is_one() {
        let owner = Owner::new();
        owner.set();
        let share = "https://w.example/s/abcDEF012345";
        let path = "/s/abcDEF012345";
        let named = kept(Some("Friday"));
        assert_eq!(
            invite_link(share, path, Some(&named)),
            "https://w.example/r/friday"
        );
        assert_eq!(invite_link(share, path, Some(&kept(None))), share);
        assert_eq!(invite_link(share, path, None), share);
        // Back from a short link to the room's own.
        assert_eq!(invite_link("https://w.example/r/friday", path, None), share);
        assert_eq!(
            status(Some(&named)).as_deref(),
            Some("Permanent room · /r/friday")
        );
        assert_eq!(status(None), None);
    }

    #[test]
    fn asks_are_messages() {
        assert_eq!(
            KeepAsk::Keep(Some("  ".into())).message(7),
            ClientMsg::MakePermanent { seq: 7, name: None }
        );
        assert_eq!(
            KeepAsk::Keep(Some("x-y".into())).message(7),
            ClientMsg::MakePermanent {
                seq: 7,
                name: Some("x-y".into())
            }
        );
        assert_eq!(KeepAsk::End.message(1), ClientMsg::EndRoom { seq: 1 });
    }
}
