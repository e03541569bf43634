//! The session page's state: one store ([`reactive_stores`]) written by the runtime's
//! [`ViewEvent`]s ([`Page::apply`]) and by the page's own controls, and read by the page's
//! components, each through the fields it shows. The room's rules (what the events say) are the
//! pure `watchparty_core::room_view`; this is only what the page keeps on screen and for how
//! long (flashed errors, floating reactions, "only hosts control").

use crate::api::SessionView;
use crate::chat::{ChatLine, Reaction};
use crate::queue::Queue;
use crate::rights::{Kid, Rights};
use crate::roster::Roster;
use crate::sync::SyncStats;
use leptos::prelude::*;
use reactive_stores::Store;
#[cfg(feature = "hydrate")]
use watchparty_core::room_view::ViewEvent;

/// Everything the session page shows.
#[derive(Clone, Debug, Store)]
pub struct Page {
    /// The badge's numbers.
    pub stats: SyncStats,
    /// Viewers in the room (the server's count, once known).
    pub viewers: u32,
    /// "Join playback" is shown.
    pub show_join: bool,
    /// The player's error message.
    pub player_error: Option<String>,
    /// The room's current video id and, once the player knows it, its title.
    pub video: (String, Option<String>),
    /// The room's queue.
    pub queue: Queue,
    /// The last refused room request (queue edit, play now).
    pub room_error: Option<String>,
    /// The latest notices, newest first (at most `room_view::MAX_NOTICES`).
    pub notices: Vec<(u64, String)>,
    /// Who is here.
    pub roster: Roster,
    /// This viewer's public id (from `hello`).
    pub kid: Option<Kid>,
    /// The room's rights.
    pub rights: Rights,
    /// The watch party ended (final).
    pub ended: bool,
    /// A host removed this viewer (final).
    pub removed: bool,
    /// "Only hosts control" shown after an undone change (a number per showing).
    pub control_notice: Option<u64>,
    /// The last refused host request.
    pub host_error: Option<String>,
    /// The chat, oldest first (at most `room_view::MAX_LINES`).
    pub chat: Vec<ChatLine>,
    /// The last refused chat line or reaction.
    pub chat_error: Option<String>,
    /// Reactions floating over the player now, by key.
    pub floats: Vec<(u64, Reaction)>,
    /// The key of the next floating reaction (the browser's runtime floats them).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub float_key: u64,
    /// This viewer's display name.
    pub my_name: Option<String>,
    /// The link to invite people with.
    pub share: String,
    /// The owner's private host link, once known.
    pub host_link: Option<String>,
    /// The party ended because a host ended the room.
    pub ended_by_host: bool,
    /// Set while the room is permanent (see `watchparty_core::permanent`).
    pub permanent: Option<watchparty_core::permanent::Permanence>,
    /// The browser has a system share sheet (known after hydration).
    pub can_share: bool,
    /// The room's hold ("Waiting for Ana, Ben…"), while the room waits for everyone.
    pub hold: Option<watchparty_core::hold::Hold>,
    /// The room's settings (hosts switch them).
    pub settings: watchparty_core::together::RoomSettings,
    /// The ready check and the skip votes.
    pub ready_skip: watchparty_core::ready_skip::ReadySkip,
    /// The side panel's open tab.
    pub tab: super::tabs::Tab,
    /// One past the newest chat line id seen with the chat tab open (older ones are read).
    pub chat_seen: u64,
    /// One past the newest notice id seen with the room tab open.
    pub notices_seen: u64,
    /// How the player is shown: in the page, full screen or filling the viewport.
    pub screen: super::screen::Screen,
    /// Theater mode: the player takes the page's full width (desktop).
    pub theater: bool,
}

impl Page {
    /// The page as the server renders it: the session's state at `view`'s read.
    pub fn new(view: &SessionView, share: String) -> Self {
        Self {
            stats: SyncStats {
                target_position: view.state.position_at(view.server_time),
                revision: view.state.revision,
                ..SyncStats::default()
            },
            viewers: view.viewers,
            show_join: false,
            player_error: None,
            video: (view.state.video_id.to_string(), None),
            queue: view.state.queue.clone(),
            room_error: None,
            notices: Vec::new(),
            roster: Roster::default(),
            kid: None,
            rights: view.state.rights.clone(),
            ended: false,
            removed: false,
            control_notice: None,
            host_error: None,
            chat: Vec::new(),
            chat_error: None,
            floats: Vec::new(),
            float_key: 0,
            my_name: None,
            share: crate::pages::keep::invite_link(&share, "", view.state.permanent.as_ref()),
            host_link: None,
            permanent: view.state.permanent.clone(),
            ended_by_host: false,
            can_share: false,
            hold: view.state.hold.active.clone(),
            settings: view.state.settings,
            ready_skip: view.state.ready_skip.clone(),
            tab: super::tabs::Tab::Chat,
            chat_seen: 0,
            notices_seen: 0,
            screen: super::screen::Screen::Page,
            theater: false,
        }
    }
}

/// The derived facts several components need: this viewer's role and whether it may control.
#[derive(Clone, Copy)]
pub struct Roles {
    /// This viewer is the host or a co-host.
    pub is_host: Signal<bool>,
    /// This viewer is the host.
    pub is_owner: Signal<bool>,
    /// This viewer may change playback, the video and the queue.
    pub may_control: Signal<bool>,
}

impl Roles {
    /// The roles of this viewer in `page`.
    pub fn of(page: Store<Page>) -> Self {
        let (kid, rights) = (page.kid(), page.rights());
        let is_host = Signal::derive(move || {
            kid.with(|k| k.as_ref().is_some_and(|k| rights.with(|r| r.is_host(k))))
        });
        let is_owner = Signal::derive(move || {
            kid.with(|k| k.as_ref().is_some_and(|k| rights.with(|r| r.is_owner(k))))
        });
        let may_control = Signal::derive(move || {
            kid.with(|k| {
                rights.with(|r| match k {
                    Some(k) => r.may_control(k),
                    None => !r.locked,
                })
            })
        });
        Self {
            is_host,
            is_owner,
            may_control,
        }
    }
}

/// How long "Only hosts control playback" stays after an undone change (ms).
#[cfg(feature = "hydrate")]
const CONTROL_NOTICE_MS: u32 = 5_000;

/// Applies one event of the runtime to the page. Notices and refusals are put into words
/// here, in the page's language at that moment (`crate::sentences`).
#[cfg(feature = "hydrate")]
pub fn apply(page: Store<Page>, i18n: crate::i18n::I18n, ev: ViewEvent) {
    use crate::pages::chat::{flash, float};
    use crate::sentences::{notice, refused};
    match ev {
        ViewEvent::Stats(s) => {
            if s.viewers > 0 && page.viewers().get_untracked() != s.viewers {
                page.viewers().set(s.viewers);
            }
            page.stats().set(s);
        }
        ViewEvent::ShowJoin(b) => page.show_join().set(b),
        ViewEvent::PlayerError(e) => {
            if page.player_error().get_untracked() != e {
                page.player_error().set(e);
            }
        }
        ViewEvent::Video(id, title) => page.video().set((id, title)),
        ViewEvent::Queue(q) => page.queue().set(q),
        ViewEvent::RoomError(code) => page.room_error().set(Some(refused(i18n, code).into())),
        ViewEvent::Ended => page.ended().set(true),
        ViewEvent::EndedByHost => {
            page.ended_by_host().set(true);
            page.ended().set(true);
        }
        ViewEvent::Roster(r) => page.roster().set(r),
        ViewEvent::Notices(n) => page
            .notices()
            .set(n.iter().map(|(key, n)| (*key, notice(i18n, n))).collect()),
        ViewEvent::Kid(k) => page.kid().set(k),
        ViewEvent::Rights(r) => page.rights().set(r),
        ViewEvent::Removed => page.removed().set(true),
        ViewEvent::ControlRefused => {
            let notice = page.control_notice();
            let n = notice.get_untracked().map_or(0, |n| n + 1);
            notice.set(Some(n));
            crate::pages::chat::after(CONTROL_NOTICE_MS, move || {
                if notice.try_get_untracked() == Some(Some(n)) {
                    notice.try_set(None);
                }
            });
        }
        ViewEvent::HostError(code) => flash(page.host_error().into(), refused(i18n, code).into()),
        ViewEvent::Chat(lines) => page.chat().set(lines),
        ViewEvent::ChatError(code) => flash(page.chat_error().into(), refused(i18n, code).into()),
        ViewEvent::Reactions(rs) => float(page.floats().into(), page.float_key().into(), rs),
        ViewEvent::Hold(h) => page.hold().set(h),
        ViewEvent::Permanent(p) => {
            let path = web_sys::window()
                .and_then(|w| w.location().pathname().ok())
                .unwrap_or_default();
            let link =
                crate::pages::keep::invite_link(&page.share().get_untracked(), &path, p.as_ref());
            page.share().set(link);
            page.permanent().set(p);
        }
        ViewEvent::Together(settings, ready_skip) => {
            page.settings().set(settings);
            page.ready_skip().set(ready_skip);
        }
        // Kept by the queue itself (`client.rs`), never sent here.
        ViewEvent::Imported(_) => {}
    }
}
