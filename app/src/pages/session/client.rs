//! The session page's handle on the sync client ([`crate::client::SyncClient`]): started after
//! hydration, fed into the page's store, asked for what the viewer does on the page. The client
//! lives only in the browser (a thread-local value must never be created on the multi-threaded
//! server); the server build of [`Client`] renders the page and is never asked anything (events
//! do not run there), so its methods do nothing.

use super::state::Page;
use crate::api::SessionView;
use crate::pages::Ask;
use crate::playback::Command;
use crate::queue::{ItemId, QueueEdit};
use leptos::prelude::*;
use reactive_stores::Store;
use watchparty_core::playlist::{PlaylistRef, ReadError};

/// A room request from the page (read by the browser's client only).
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum RoomReq {
    /// A queue edit.
    Edit(QueueEdit),
    /// Play a queued item now.
    PlayNow(ItemId),
    /// "Start now": end the hold made at this revision (see `watchparty_core::hold`).
    StartNow(u64),
    /// A host's new room settings.
    Settings(watchparty_core::together::RoomSettings),
    /// A host opens (`true`) or cancels the ready check.
    ReadyCheck(bool),
    /// This viewer is ready (or not) in the ready check.
    Ready(bool),
    /// This viewer votes (or takes back its vote) to skip the video of skip round `round`.
    VoteSkip {
        /// The skip round.
        round: u64,
        /// Vote or take back.
        vote: bool,
    },
}

/// The page's handle on its sync client (`Copy`, for event handlers).
#[derive(Clone, Copy)]
pub struct Client {
    #[cfg(feature = "hydrate")]
    running: StoredValue<Option<crate::client::SyncClient>, LocalStorage>,
    /// What this viewer's last playlist import did ("Added 3 videos"), shown by the queue.
    note: RwSignal<Option<String>>,
}

impl Client {
    /// What this viewer's last playlist import did, until the next one starts.
    pub fn import_note(&self) -> RwSignal<Option<String>> {
        self.note
    }
}

#[cfg(feature = "hydrate")]
impl Client {
    /// Starts the client once the page is hydrated (and stops it with the page): the host
    /// secret, the share link as the browser sees it, this viewer's name, then the player and
    /// the socket, whose events go into `page`.
    pub fn start(view: SessionView, page: Store<Page>) -> Self {
        use super::state::PageStoreFields;
        let running = StoredValue::new_local(None);
        let note = RwSignal::new(None);
        let i18n = crate::i18n::use_i18n();
        Effect::new(move |prev: Option<()>| {
            if prev.is_some() {
                return;
            }
            let id = view.id.as_str();
            // A host secret in the address (after creating, or a host link) is kept by this
            // browser and removed from the address before anything else reads it.
            crate::client::take_host_fragment(id);
            page.can_share().set(crate::client::can_share());
            if let Some(origin) = crate::client::origin() {
                page.share().set(format!("{origin}/s/{id}"));
                if let Some(secret) = crate::client::host_secret(id) {
                    page.host_link().set(Some(format!(
                        "{origin}/s/{id}{}{secret}",
                        crate::early::HOST_FRAGMENT
                    )));
                }
            }
            let sink: std::rc::Rc<dyn Fn(crate::client::UiEvent)> =
                std::rc::Rc::new(move |ev| match ev {
                    // The queue's own line (see `QueuePanel`), not the page's store.
                    crate::client::UiEvent::Imported(summary) => {
                        note.try_set(Some(crate::sentences::imported(i18n, summary)));
                    }
                    ev => super::state::apply(page, i18n, ev),
                });
            let c = crate::client::SyncClient::start(&view, sink);
            let name = crate::client::stored_name();
            c.set_name(name.clone());
            page.my_name().set(Some(name));
            running.set_value(Some(c));
        });
        // Destroys the player, closes the socket, stops the timers.
        on_cleanup(move || running.set_value(None));
        Self { running, note }
    }

    /// Reads playlist `p` with a hidden helper player (`crate::client::playlist`) and sends
    /// the import of its videos from `p.from` on; `done` gets the read's failure, if any
    /// (nothing was sent then).
    pub fn import(&self, p: PlaylistRef, done: impl FnOnce(Option<ReadError>) + 'static) {
        let running = self.running;
        self.note.set(None);
        leptos::task::spawn_local(async move {
            let read = crate::client::playlist::read(&p.list).await;
            let failed = read.map(|ids| {
                let (sent, cut) = watchparty_core::playlist::import_slice(&ids, p.from);
                running.try_with_value(|c| {
                    if let Some(c) = c {
                        c.import(sent.to_vec(), cut);
                    }
                });
            });
            done(failed.err());
        });
    }

    fn with(&self, f: impl FnOnce(&crate::client::SyncClient)) {
        self.running.with_value(|c| {
            if let Some(c) = c {
                f(c);
            }
        });
    }

    /// The "Join playback" click.
    pub fn join(&self) {
        self.with(|c| c.join());
    }

    /// A change made outside the player (another video).
    pub fn request(&self, cmd: Command) {
        self.with(|c| c.request(cmd));
    }

    /// This viewer's new name (remembered by the browser).
    pub fn rename(&self, name: String) {
        crate::client::remember_name(&name);
        self.with(|c| c.set_name(name));
    }

    /// Chat, reactions, a seek from the chat, host requests.
    pub fn ask(&self, a: Ask) {
        self.with(|c| match a {
            Ask::Chat(text) => c.chat(text),
            Ask::DeleteChat(id) => c.delete_chat(id),
            Ask::React(emoji) => c.react(emoji),
            Ask::Seek(position) => c.request(Command::Seek { position }),
            Ask::Host(cmd) => c.host(cmd),
        });
    }

    /// Keep, release or end the room (the host's requests; see `crate::pages::keep`).
    pub fn keep(&self, ask: crate::pages::keep::KeepAsk) {
        self.with(|c| c.host_msg(move |seq| ask.message(seq)));
    }

    /// A queue edit or "play now".
    pub fn room(&self, req: RoomReq) {
        self.with(|c| {
            c.room(move |seq, base_revision| match req {
                RoomReq::Edit(edit) => crate::protocol::ClientMsg::Queue { seq, edit },
                RoomReq::PlayNow(item) => crate::protocol::ClientMsg::PlayNow {
                    seq,
                    base_revision,
                    item,
                },
                RoomReq::StartNow(hold) => crate::protocol::ClientMsg::StartNow { seq, hold },
                RoomReq::Settings(settings) => {
                    crate::protocol::ClientMsg::Settings { seq, settings }
                }
                RoomReq::ReadyCheck(open) => crate::protocol::ClientMsg::ReadyCheck { seq, open },
                RoomReq::Ready(ready) => crate::protocol::ClientMsg::Ready { seq, ready },
                RoomReq::VoteSkip { round, vote } => {
                    crate::protocol::ClientMsg::VoteSkip { seq, round, vote }
                }
            })
        });
    }
}

#[cfg(not(feature = "hydrate"))]
impl Client {
    /// The server renders the page only.
    pub fn start(_: SessionView, _: Store<Page>) -> Self {
        Self {
            note: RwSignal::new(None),
        }
    }

    /// Never called on the server.
    pub fn import(&self, _: PlaylistRef, _: impl FnOnce(Option<ReadError>) + 'static) {}

    /// Never called on the server (see the module docs).
    pub fn join(&self) {}

    /// Never called on the server.
    pub fn request(&self, _: Command) {}

    /// Never called on the server.
    pub fn rename(&self, _: String) {}

    /// Never called on the server.
    pub fn ask(&self, _: Ask) {}

    /// The server renders the page only.
    pub fn keep(&self, _: crate::pages::keep::KeepAsk) {}

    /// Never called on the server.
    pub fn room(&self, _: RoomReq) {}
}
