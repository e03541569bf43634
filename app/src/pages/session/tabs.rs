//! The session page's side panel as tabs (issue 29): Chat · Queue · People · Room, one panel
//! open at a time, beside the player on wide screens and under it on phones. The ARIA tabs
//! pattern: a `tablist` of `tab` buttons (`aria-selected`, one in the tab order, arrow keys,
//! Home and End move between them and open the one they reach), each controlling its
//! `tabpanel`. Unread chat lines and new notices show as a count on their tab. The open tab is
//! the page's store field `tab`.

use crate::i18n::{t_string, tr, use_i18n, I18n};
use leptos::prelude::*;
use reactive_stores::Field;

/// One tab of the side panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tab {
    /// The chat.
    #[default]
    Chat,
    /// The queue.
    Queue,
    /// Who is here.
    People,
    /// Now playing, change the video, invite, your name, the host controls.
    Room,
}

impl Tab {
    /// Every tab, in order.
    pub const ALL: [Tab; 4] = [Tab::Chat, Tab::Queue, Tab::People, Tab::Room];

    /// The tab's name in ids and test hooks (`tab-chat`, `tabpanel-chat`).
    pub fn key(self) -> &'static str {
        match self {
            Tab::Chat => "chat",
            Tab::Queue => "queue",
            Tab::People => "people",
            Tab::Room => "room",
        }
    }

    /// The tab's label, in the page's language (tracked).
    pub fn label(self, i18n: I18n) -> &'static str {
        match self {
            Tab::Chat => t_string!(i18n, session.tabs.chat),
            Tab::Queue => t_string!(i18n, session.tabs.queue),
            Tab::People => t_string!(i18n, session.tabs.people),
            Tab::Room => t_string!(i18n, session.tabs.room),
        }
    }

    /// The tab `step` places after this one (wrapping; negative: before).
    fn step(self, step: isize) -> Tab {
        let n = Self::ALL.len() as isize;
        let at = Self::ALL.iter().position(|t| *t == self).unwrap_or(0) as isize;
        Self::ALL[(at + step).rem_euclid(n) as usize]
    }
}

/// The tab a key press moves to from `from` (arrow keys, Home, End), if any.
pub fn moved(from: Tab, key: &str) -> Option<Tab> {
    match key {
        "ArrowRight" | "ArrowDown" => Some(from.step(1)),
        "ArrowLeft" | "ArrowUp" => Some(from.step(-1)),
        "Home" => Some(Tab::ALL[0]),
        "End" => Some(Tab::ALL[Tab::ALL.len() - 1]),
        _ => None,
    }
}

/// The count of items not seen yet, for a tab's badge: ids grow, `seen` is one past the newest
/// id seen.
pub fn unread<T>(items: &[T], seen: u64, id: impl Fn(&T) -> u64) -> usize {
    items.iter().filter(|i| id(i) >= seen).count()
}

/// Moves the keyboard focus to the tab `tab` (after a key moved the selection).
#[cfg(feature = "hydrate")]
fn focus_tab(tab: Tab) {
    use wasm_bindgen::JsCast;
    if let Some(el) = leptos::prelude::document()
        .get_element_by_id(&format!("tab-{}", tab.key()))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}

/// Focus never moves on the server.
#[cfg(not(feature = "hydrate"))]
fn focus_tab(_: Tab) {}

/// The row of tabs; `badges` gives each tab's count of new items (0: no badge).
#[component]
pub fn TabList(tab: Field<Tab>, badges: Signal<[usize; 4]>) -> impl IntoView {
    let keydown = move |ev: leptos::ev::KeyboardEvent| {
        if let Some(to) = moved(tab.get_untracked(), &ev.key()) {
            ev.prevent_default();
            tab.set(to);
            focus_tab(to);
        }
    };
    let i18n = use_i18n();
    view! {
        <div class="tabs" role="tablist" aria-label=tr!(i18n, session.tabs.label) data-testid="tabs" on:keydown=keydown>
            {Tab::ALL
                .iter()
                .enumerate()
                .map(|(n, &t)| {
                    let selected = move || tab.get() == t;
                    let count = move || badges.with(|b| b[n]);
                    view! {
                        <button
                            type="button"
                            role="tab"
                            class="tab"
                            id=format!("tab-{}", t.key())
                            data-testid=format!("tab-{}", t.key())
                            aria-controls=format!("tabpanel-{}", t.key())
                            aria-selected=move || selected().to_string()
                            tabindex=move || if selected() { "0" } else { "-1" }
                            data-new=move || count().to_string()
                            on:click=move |_| tab.set(t)
                        >
                            {move || t.label(i18n)}
                            <span class="tab-badge" hidden=move || count() == 0>
                                {move || count().to_string()}
                                <span class="sr-only">{tr!(i18n, session.tabs.new)}</span>
                            </span>
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

/// One tab's panel: shown while its tab is open.
#[component]
pub fn TabPanel(tab: Field<Tab>, of: Tab, children: Children) -> impl IntoView {
    view! {
        <div
            class="tabpanel"
            role="tabpanel"
            id=format!("tabpanel-{}", of.key())
            data-testid=format!("tabpanel-{}", of.key())
            aria-labelledby=format!("tab-{}", of.key())
            hidden=move || tab.get() != of
        >
            {children()}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_keys_wrap_home_and_end_jump() {
        assert_eq!(moved(Tab::Chat, "ArrowRight"), Some(Tab::Queue));
        assert_eq!(moved(Tab::Room, "ArrowRight"), Some(Tab::Chat));
        assert_eq!(moved(Tab::Chat, "ArrowLeft"), Some(Tab::Room));
        assert_eq!(moved(Tab::People, "ArrowUp"), Some(Tab::Queue));
        assert_eq!(moved(Tab::Queue, "End"), Some(Tab::Room));
        assert_eq!(moved(Tab::Room, "Home"), Some(Tab::Chat));
        assert_eq!(moved(Tab::Room, "Enter"), None);
    }

    #[test]
    fn unread_counts_items_newer_than_seen() {
        let ids = [0u64, 4, 7];
        assert_eq!(unread(&ids, 0, |i| *i), 3);
        assert_eq!(unread(&ids, 5, |i| *i), 1);
        assert_eq!(unread(&ids, 8, |i| *i), 0);
    }
}
