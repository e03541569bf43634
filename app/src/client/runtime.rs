//! The sync runtime: owns the YouTube player, the WebSocket (with reconnects) and the timers, and
//! feeds everything into the pure [`Engine`], executing the [`Action`]s it returns.
//!
//! Every input goes through one queue ([`Inner::dispatch`]): the engine is borrowed by one step
//! at a time even if executing an action makes the player call back synchronously. A fresh
//! [`Reading`] of the player is taken for every step. `window.__watchparty` and the page's
//! signals are refreshed after each batch.
//!
//! Dropping the [`SyncClient`] tears everything down: timers stop, the socket closes, the player
//! is destroyed, `window.__watchparty` is removed.

use super::now_ms;
use super::yt::{self, PlayerEvent, YtPlayer};
use crate::api::SessionView;
use crate::chat::{ChatLine, Reaction, ReactionTrack};
use crate::protocol::{close, ClientMsg, ErrorCode, ServerMsg};
use crate::rights::{Kid, Rights, RightsCommand};
use crate::sync::{Action, Backoff, Engine, PlayerState, Reading, SyncStats, TICK_MS};
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::future::{abortable, select, AbortHandle, Either};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use gloo_timers::callback::{Interval, Timeout};
use js_sys::{Object, Reflect};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;

/// What the page shows, pushed by the runtime.
#[derive(Clone, Debug, PartialEq)]
pub enum UiEvent {
    /// New numbers for the badge and the viewer count.
    Stats(SyncStats),
    /// Show or hide "Join playback".
    ShowJoin(bool),
    /// The player's error message (or none).
    PlayerError(Option<String>),
    /// The session no longer exists (expired, or lost by the store): show "This watch party
    /// has ended"; the runtime stopped reconnecting.
    Ended,
    /// The room's video changed, or its title became known: `(video id, title)`.
    Video(String, Option<String>),
    /// The room's queue changed.
    Queue(crate::queue::Queue),
    /// A room request (queue edit, play now) was refused: the server's message.
    RoomError(String),
    /// Something happened in the room ("Ana paused at 12:31").
    Notice(String),
    /// Who is here changed (see `crate::roster`).
    Roster(crate::roster::Roster),
    /// This viewer's public id, as the server told in `hello`.
    Kid(Option<Kid>),
    /// The room's rights changed (hosts, "hosts control").
    Rights(Rights),
    /// A host removed this viewer (close 4403): show it; the runtime stopped reconnecting.
    Removed,
    /// This viewer changed playback in the player (or asked to) while only hosts control the
    /// room: the change was undone (or refused by the server).
    ControlRefused,
    /// A host request (lock, co-host, hand over, remove) was refused: the server's message.
    HostError(String),
    /// The chat history sent after `hello` (replaces the list), oldest first.
    ChatHistory(Vec<ChatLine>),
    /// A new chat line.
    Chat(ChatLine),
    /// A host deleted a chat line.
    ChatDeleted(u64),
    /// A chat message or reaction was refused: the server's message.
    ChatError(String),
    /// Reactions to float over the player now (this viewer's video reached their moment).
    Reactions(Vec<Reaction>),
}

/// Sequence numbers: the top two bits tell what a `seq` (echoed in an error) was for. The sync
/// engine's commands count from 0; room requests (queue, play now, name) have the top bits
/// `01`, host requests `10`, chat lines and reactions `11`.
const ROOM_SEQ_BASE: u32 = 1 << 30;
const HOST_SEQ_BASE: u32 = 2 << 30;
const CHAT_SEQ_BASE: u32 = 3 << 30;

/// Reactions a viewer keeps for replays (the server keeps at most its own `reactions_kept`).
const REACTIONS_KEPT: usize = 500;

type Step = Box<dyn FnOnce(&mut Engine, f64, Option<Reading>) -> Vec<Action>>;

struct Inner {
    session_id: String,
    engine: RefCell<Engine>,
    player: RefCell<Option<YtPlayer>>,
    player_ready: Cell<bool>,
    socket: RefCell<Option<web_sys::WebSocket>>,
    out: RefCell<Option<UnboundedSender<String>>>,
    inbox: RefCell<VecDeque<Step>>,
    busy: Cell<bool>,
    ui: Rc<dyn Fn(UiEvent)>,
    last_stats: RefCell<Option<SyncStats>>,
    last_video: RefCell<Option<(String, Option<String>)>>,
    last_queue: RefCell<Option<crate::queue::Queue>>,
    title_sent: RefCell<Option<String>>,
    room_seq: Cell<u32>,
    host_seq: Cell<u32>,
    chat_seq: Cell<u32>,
    /// This viewer's public id (from `hello`).
    kid: RefCell<Option<Kid>>,
    /// The rights last told to the page.
    last_rights: RefCell<Option<Rights>>,
    /// Undone local changes already told to the page (see `Engine::refused`).
    refused_seen: Cell<u32>,
    /// The reactions known, shown as this viewer's video reaches them.
    track: RefCell<ReactionTrack>,
    name: RefCell<Option<String>>,
    /// "Join playback" is shown (for this viewer's reported health).
    needs_click: Cell<bool>,
    /// Decides which changes of this viewer's health are reported (`status`).
    reporter: RefCell<crate::health::Reporter>,
    /// Who is here, as the server last told.
    roster: RefCell<crate::roster::Roster>,
    wake: RefCell<Option<Timeout>>,
    /// Fires at the next reaction's moment (steps may be a second apart while in sync).
    reaction_wake: RefCell<Option<Timeout>>,
    interval: RefCell<Option<Interval>>,
    tasks: RefCell<Vec<AbortHandle>>,
    hook: Object,
    closed: Cell<bool>,
}

/// A running sync client for one session page.
pub struct SyncClient {
    inner: Rc<Inner>,
}

impl SyncClient {
    /// Starts the player, the socket and the poll for `view`'s session. `ui` receives what the
    /// page must show.
    pub fn start(view: &SessionView, ui: Rc<dyn Fn(UiEvent)>) -> Self {
        let hook = Object::new();
        if let Some(w) = web_sys::window() {
            let _ = Reflect::set(&w, &"__watchparty".into(), &hook);
        }
        let inner = Rc::new(Inner {
            session_id: view.id.to_string(),
            engine: RefCell::new(Engine::new(Some(view.state.clone()))),
            player: RefCell::new(None),
            player_ready: Cell::new(false),
            socket: RefCell::new(None),
            out: RefCell::new(None),
            inbox: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            ui,
            last_stats: RefCell::new(None),
            last_video: RefCell::new(None),
            last_queue: RefCell::new(None),
            title_sent: RefCell::new(None),
            room_seq: Cell::new(0),
            host_seq: Cell::new(0),
            chat_seq: Cell::new(0),
            kid: RefCell::new(None),
            last_rights: RefCell::new(None),
            refused_seen: Cell::new(0),
            track: RefCell::new(ReactionTrack::new(REACTIONS_KEPT)),
            name: RefCell::new(None),
            needs_click: Cell::new(false),
            reporter: RefCell::new(new_reporter()),
            roster: RefCell::new(crate::roster::Roster::default()),
            wake: RefCell::new(None),
            reaction_wake: RefCell::new(None),
            interval: RefCell::new(None),
            tasks: RefCell::new(Vec::new()),
            hook,
            closed: Cell::new(false),
        });
        inner.publish();

        // The player: load the API, then create it at the session's position.
        let start = view.state.position_at(view.server_time);
        let video = view.state.video_id.to_string();
        let weak = Rc::downgrade(&inner);
        inner.spawn(async move {
            match yt::load_api().await {
                Ok(()) => {
                    if let Some(inner) = weak.upgrade() {
                        inner.create_player(&video, start);
                    }
                }
                Err(e) => {
                    yt::discard_early();
                    if let Some(inner) = weak.upgrade() {
                        (inner.ui)(UiEvent::PlayerError(Some(e.to_string())));
                    }
                }
            }
        });

        // The socket, with reconnects.
        let weak = Rc::downgrade(&inner);
        inner.spawn(connect_loop(weak));

        // The operators' sync-error histogram.
        let weak = Rc::downgrade(&inner);
        inner.spawn(health_loop(weak));

        // The poll.
        let weak = Rc::downgrade(&inner);
        let interval = Interval::new(TICK_MS as u32, move || {
            if let Some(inner) = weak.upgrade() {
                inner.dispatch(Box::new(|e, now, r| e.on_tick(now, r)));
            }
        });
        *inner.interval.borrow_mut() = Some(interval);
        Self { inner }
    }

    /// Asks the room for a change made outside the player (e.g. another video).
    pub fn request(&self, cmd: crate::playback::Command) {
        self.inner
            .dispatch(Box::new(move |e, now, r| e.on_request(now, cmd, r)));
    }

    /// Sets this viewer's display name (sent now and after every reconnect).
    pub fn set_name(&self, name: String) {
        *self.inner.name.borrow_mut() = Some(name);
        self.inner.send_name();
    }

    /// Sends a room request (queue edit, play now); `build` gets the sequence number and the
    /// newest revision seen.
    pub fn room(&self, build: impl FnOnce(u32, u64) -> ClientMsg) {
        let seq = self.inner.next_room_seq();
        let revision = self
            .inner
            .engine
            .borrow()
            .state()
            .map(|s| s.revision)
            .unwrap_or(0);
        self.inner.send(&build(seq, revision));
    }

    /// The "Join playback" click (call synchronously from the click handler).
    pub fn join(&self) {
        self.inner
            .dispatch(Box::new(|e, now, r| e.on_join_click(now, r)));
    }

    /// Sends a host request (lock, co-host, hand over, remove).
    pub fn host(&self, cmd: RightsCommand) {
        let seq = next_seq(&self.inner.host_seq, HOST_SEQ_BASE);
        self.inner.send(&ClientMsg::Host { seq, cmd });
    }

    /// Sends a chat line.
    pub fn chat(&self, text: String) {
        let seq = next_seq(&self.inner.chat_seq, CHAT_SEQ_BASE);
        self.inner.send(&ClientMsg::Chat { seq, text });
    }

    /// Asks to delete a chat line (hosts only).
    pub fn delete_chat(&self, id: u64) {
        let seq = next_seq(&self.inner.chat_seq, CHAT_SEQ_BASE);
        self.inner.send(&ClientMsg::DeleteChat { seq, id });
    }

    /// Sends a reaction stamped with this viewer's player position (the frame it shows now).
    pub fn react(&self, emoji: &str) {
        let inner = &self.inner;
        let at = inner
            .reading(now_ms())
            .map(|r| r.position)
            .unwrap_or_else(|| inner.engine.borrow().stats().target_position);
        if !at.is_finite() {
            return;
        }
        let seq = next_seq(&inner.chat_seq, CHAT_SEQ_BASE);
        inner.send(&ClientMsg::React {
            seq,
            emoji: emoji.to_owned(),
            at,
        });
    }
}

/// The next sequence number of the kind `base` (see [`ROOM_SEQ_BASE`]).
fn next_seq(counter: &Cell<u32>, base: u32) -> u32 {
    let n = (counter.get().wrapping_add(1) & 0x3FFF_FFFF).max(1);
    counter.set(n);
    base | n
}

impl Drop for SyncClient {
    fn drop(&mut self) {
        self.inner.shutdown();
    }
}

impl Inner {
    fn spawn(&self, fut: impl std::future::Future<Output = ()> + 'static) {
        let (fut, handle) = abortable(fut);
        self.tasks.borrow_mut().push(handle);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = fut.await;
        });
    }

    fn shutdown(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.interval.borrow_mut().take();
        self.wake.borrow_mut().take();
        for t in self.tasks.borrow_mut().drain(..) {
            t.abort();
        }
        self.out.borrow_mut().take();
        if let Some(ws) = self.socket.borrow_mut().take() {
            let _ = ws.close_with_code_and_reason(1000, "page closed");
        }
        self.player.borrow_mut().take();
        self.inbox.borrow_mut().clear();
        if let Some(w) = web_sys::window() {
            let _ = Reflect::delete_property(&w.into(), &"__watchparty".into());
        }
    }

    fn create_player(self: &Rc<Self>, video: &str, start: f64) {
        let weak = Rc::downgrade(self);
        let on_event: Rc<dyn Fn(PlayerEvent)> = Rc::new(move |ev| {
            if let Some(inner) = weak.upgrade() {
                inner.on_player_event(ev);
            }
        });
        match YtPlayer::create("player", video, start, on_event) {
            Ok(p) => *self.player.borrow_mut() = Some(p),
            Err(e) => (self.ui)(UiEvent::PlayerError(Some(e.to_string()))),
        }
    }

    fn on_player_event(self: &Rc<Self>, ev: PlayerEvent) {
        if self.closed.get() {
            return;
        }
        match ev {
            PlayerEvent::Ready => {
                self.player_ready.set(true);
                let rates = self
                    .player
                    .borrow()
                    .as_ref()
                    .map(|p| p.available_rates())
                    .unwrap_or_default();
                self.dispatch(Box::new(move |e, now, r| e.on_player_ready(now, &rates, r)));
            }
            PlayerEvent::StateChange(code) => {
                if code == PlayerState::Playing.code() {
                    (self.ui)(UiEvent::PlayerError(None));
                }
                let st = PlayerState::from_code(code);
                self.dispatch(Box::new(move |e, now, r| e.on_player_state(now, st, r)));
            }
            PlayerEvent::RateChange(rate) => {
                self.dispatch(Box::new(move |e, now, r| e.on_rate_change(now, rate, r)));
            }
            PlayerEvent::Error(code) => {
                (self.ui)(UiEvent::PlayerError(Some(yt::error_message(code))));
            }
        }
    }

    fn reading(&self, now: f64) -> Option<Reading> {
        if !self.player_ready.get() {
            return None;
        }
        let player = self.player.borrow();
        let p = player.as_ref()?;
        // Right after a video change the player may still report the previous video's length:
        // only a length measured on the room's video counts.
        let room_video = self.engine.borrow().state().map(|s| s.video_id);
        let measured = p.video_data().map(|(id, _)| id);
        let duration = match (room_video, measured) {
            (Some(room), Some(id)) if !id.is_empty() && id != room.as_str() => 0.0,
            _ => p.duration(),
        };
        Some(Reading {
            at: now,
            state: PlayerState::from_code(p.state().unwrap_or(-1)),
            position: p.current_time()?,
            rate: p.rate().unwrap_or(1.0),
            duration,
        })
    }

    /// Runs `step` (and anything queued meanwhile) against the engine.
    fn dispatch(self: &Rc<Self>, step: Step) {
        if self.closed.get() {
            return;
        }
        self.inbox.borrow_mut().push_back(step);
        if self.busy.replace(true) {
            return;
        }
        let mut last = None;
        loop {
            let next = self.inbox.borrow_mut().pop_front();
            let Some(step) = next else {
                break;
            };
            let now = now_ms();
            let r = self.reading(now);
            let actions = {
                let mut engine = self.engine.borrow_mut();
                let actions = step(&mut engine, now, r);
                // The rights may have changed with this step (a lock, a new co-host).
                let may = self.may_control(engine.state());
                engine.set_may_control(may);
                actions
            };
            self.execute(actions, now);
            last = r.or(last);
        }
        self.busy.set(false);
        if let Some(r) = last {
            self.reactions_due(r);
        }
        self.publish();
    }

    /// May this viewer control the room in `state`?
    fn may_control(&self, state: Option<&crate::playback::PlaybackState>) -> bool {
        let Some(s) = state else {
            return true;
        };
        match self.kid.borrow().as_ref() {
            Some(k) => s.rights.may_control(k),
            None => !s.rights.locked,
        }
    }

    /// Floats the reactions whose moment this viewer's video just passed in play, and arms a
    /// timer for the next one ahead, so it floats on its moment (within a few ms) rather than
    /// at the next sync step.
    fn reactions_due(self: &Rc<Self>, r: Reading) {
        let Some((video, rate)) = self.engine.borrow().state().map(|s| (s.video_id, s.rate)) else {
            return;
        };
        let playing = r.state == PlayerState::Playing;
        let (due, next) = {
            let mut track = self.track.borrow_mut();
            let due = track.due(&video, r.position, playing);
            (due, track.next_after(&video, r.position))
        };
        if !due.is_empty() {
            (self.ui)(UiEvent::Reactions(due));
        }
        let wake = match next {
            Some(at) if playing && rate > 0.0 => {
                let delay = ((at - r.position) / rate * 1000.0).ceil() + 1.0;
                (delay <= crate::chat::MAX_PLAY_STEP * 1000.0).then(|| {
                    let weak = Rc::downgrade(self);
                    Timeout::new(delay.max(0.0) as u32, move || {
                        if let Some(inner) = weak.upgrade() {
                            if let Some(r) = inner.reading(now_ms()) {
                                inner.reactions_due(r);
                            }
                        }
                    })
                })
            }
            _ => None,
        };
        *self.reaction_wake.borrow_mut() = wake;
    }

    /// Chat and reactions: to the page (reactions through the track).
    fn on_social(self: &Rc<Self>, msg: ServerMsg) {
        match msg {
            ServerMsg::History { chat, reactions } => {
                let mut track = self.track.borrow_mut();
                for r in reactions {
                    track.add(r);
                }
                drop(track);
                (self.ui)(UiEvent::ChatHistory(chat));
            }
            ServerMsg::Chat(line) => (self.ui)(UiEvent::Chat(line)),
            ServerMsg::ChatDeleted { id } => (self.ui)(UiEvent::ChatDeleted(id)),
            ServerMsg::Reaction(r) => {
                let late = self.track.borrow().late_arrival(&r);
                self.track.borrow_mut().add(r.clone());
                if late {
                    (self.ui)(UiEvent::Reactions(vec![r]));
                } else if let Some(reading) = self.reading(now_ms()) {
                    // Ahead of this viewer's video: arm the timer for its moment.
                    self.reactions_due(reading);
                }
            }
            _ => {}
        }
    }

    /// Tells the page an error the server sent, by what the refused message was for.
    fn on_error(&self, code: ErrorCode, message: &str, seq: Option<u32>) {
        let Some(seq) = seq else {
            return;
        };
        let event = match seq >> 30 {
            0 if code == ErrorCode::Forbidden => UiEvent::ControlRefused,
            0 => return,
            1 => UiEvent::RoomError(message.to_owned()),
            2 => UiEvent::HostError(message.to_owned()),
            _ => UiEvent::ChatError(message.to_owned()),
        };
        (self.ui)(event);
    }

    fn execute(self: &Rc<Self>, actions: Vec<Action>, now: f64) {
        for a in actions {
            match a {
                Action::Send(msg) => self.send(&msg),
                Action::ShowJoin(b) => {
                    self.needs_click.set(b);
                    (self.ui)(UiEvent::ShowJoin(b));
                }
                Action::WakeAt(t) => {
                    let weak = Rc::downgrade(self);
                    let delay = (t - now).clamp(0.0, 60_000.0).round() as u32;
                    let timeout = Timeout::new(delay, move || {
                        if let Some(inner) = weak.upgrade() {
                            inner.dispatch(Box::new(|e, now, r| e.on_tick(now, r)));
                        }
                    });
                    *self.wake.borrow_mut() = Some(timeout);
                }
                other => {
                    let player = self.player.borrow();
                    let Some(p) = player.as_ref() else {
                        continue;
                    };
                    match other {
                        Action::Play => p.play(),
                        Action::Pause => p.pause(),
                        Action::Seek(s) => p.seek(s),
                        Action::SetRate(r) => p.set_rate(r),
                        Action::Load { video, start } => p.cue(video.as_str(), start),
                        _ => {}
                    }
                }
            }
        }
    }

    fn send(&self, msg: &ClientMsg) {
        let Ok(text) = serde_json::to_string(msg) else {
            return;
        };
        if let Some(tx) = self.out.borrow().as_ref() {
            let _ = tx.unbounded_send(text);
        }
    }

    /// Refreshes `window.__watchparty` and, when something changed, the page.
    fn publish(&self) {
        let stats = self.engine.borrow().stats().clone();
        let h = &self.hook;
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(h, &JsValue::from_str(k), &v);
        };
        set("status", stats.status.into());
        set("connId", (stats.conn_id as f64).into());
        set("revision", (stats.revision as f64).into());
        set("offsetMs", stats.offset_ms.into());
        set("rttMs", stats.rtt_ms.into());
        set(
            "errorMs",
            stats
                .error_ms
                .map(JsValue::from_f64)
                .unwrap_or(JsValue::NULL),
        );
        set("correctiveSeeks", stats.corrective_seeks.into());
        set("rateNudges", stats.rate_nudges.into());
        set("playerState", stats.player_state.into());
        set("targetPosition", stats.target_position.into());
        set("lastAction", stats.last_action.as_str().into());
        set("seekLatencyMs", stats.seek_latency_ms.into());
        set("viewers", stats.viewers.into());
        set("rateControl", stats.rate_control.as_str().into());
        set("readingNoiseMs", stats.reading_noise_ms.into());
        set("inAd", stats.in_ad.into());
        set("pulseLagMs", stats.pulse_lag_ms.into());
        self.publish_video();
        self.publish_queue();
        self.publish_rights();
        self.report_health(&stats);
        let changed = self.last_stats.borrow().as_ref() != Some(&stats);
        if changed {
            *self.last_stats.borrow_mut() = Some(stats.clone());
            (self.ui)(UiEvent::Stats(stats));
        }
    }
}

/// The reporter of this viewer's health: a new state at most once a second, a moved in-sync
/// figure at most every 5 s.
fn new_reporter() -> crate::health::Reporter {
    crate::health::Reporter::new(1_000.0, 5_000.0)
}

impl Inner {
    /// Reports this viewer's health to the room's list when it changed (bounded rate).
    fn report_health(&self, stats: &crate::sync::SyncStats) {
        use crate::health::{classify, Observed};
        let live = stats.status == "live";
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        let health = classify(&Observed {
            live,
            hidden,
            needs_click: self.needs_click.get(),
            // YT.PlayerState.BUFFERING
            buffering: stats.player_state == 3,
            ad: stats.in_ad,
            error_ms: stats.error_ms,
            rate_locked: stats.rate_control == crate::sync::RateControl::Locked,
        });
        // Not live (nothing can be sent), or not measurable yet (the player is still starting):
        // the others see "joining…" until there is something true to say.
        let starting = stats.error_ms.is_none()
            && health == crate::health::Health::Buffering
            && stats.player_state != 3;
        if !live || starting {
            return;
        }
        let send = self.reporter.borrow_mut().observe(health, now_ms());
        if let Some(status) = send {
            self.send(&ClientMsg::Status { status });
        }
    }

    /// Applies a `roster` message: the page's list, and "Ben joined" / "Ben left" notices.
    fn on_roster(&self, msg: ServerMsg) {
        let ServerMsg::Roster {
            v,
            full,
            members,
            gone,
            counts,
        } = msg
        else {
            return;
        };
        let changes = self
            .roster
            .borrow_mut()
            .apply(v, full, members, &gone, counts);
        let me = self.engine.borrow().stats().conn_id;
        let named = |ms: Vec<crate::roster::Member>| {
            ms.into_iter()
                .filter(move |m| m.id != me)
                .filter_map(|m| m.name)
        };
        for name in named(changes.joined) {
            (self.ui)(UiEvent::Notice(format!("{name} joined")));
        }
        for name in named(changes.left) {
            (self.ui)(UiEvent::Notice(format!("{name} left")));
        }
        let roster = self.roster.borrow().clone();
        (self.ui)(UiEvent::Roster(roster));
    }

    /// Derives the notice for an authoritative change (before the engine applies it).
    fn notice(&self, next: &crate::playback::PlaybackState, cause: Option<crate::protocol::Cause>) {
        use crate::notices::{describe, Author};
        let engine = self.engine.borrow();
        let Some(prev) = engine.state() else {
            return;
        };
        let who = match cause {
            None => return,
            Some(c) if c.conn_id == engine.stats().conn_id => Author::You,
            Some(c) if c.conn_id == 0 => Author::Server,
            Some(_) => Author::Viewer(next.changed_by.as_deref().unwrap_or("Someone")),
        };
        if let Some(text) = describe(prev, next, who, None) {
            drop(engine);
            (self.ui)(UiEvent::Notice(text));
        }
    }

    fn send_name(&self) {
        let Some(name) = self.name.borrow().clone() else {
            return;
        };
        let seq = self.next_room_seq();
        self.send(&ClientMsg::Name { seq, name });
    }

    fn next_room_seq(&self) -> u32 {
        next_seq(&self.room_seq, ROOM_SEQ_BASE)
    }

    /// Tells the page the room's rights when they changed, and a local change undone because
    /// only hosts control the room.
    fn publish_rights(&self) {
        let refused = self.engine.borrow().refused();
        if self.refused_seen.replace(refused) != refused {
            (self.ui)(UiEvent::ControlRefused);
        }
        let Some(rights) = self.engine.borrow().state().map(|s| s.rights.clone()) else {
            return;
        };
        if self.last_rights.borrow().as_ref() != Some(&rights) {
            *self.last_rights.borrow_mut() = Some(rights.clone());
            (self.ui)(UiEvent::Rights(rights));
        }
    }

    /// Tells the page the room's queue when it changed.
    fn publish_queue(&self) {
        let Some(queue) = self.engine.borrow().state().map(|s| s.queue.clone()) else {
            return;
        };
        if self.last_queue.borrow().as_ref() != Some(&queue) {
            *self.last_queue.borrow_mut() = Some(queue.clone());
            (self.ui)(UiEvent::Queue(queue));
        }
    }

    /// Stores a title the player learned on the queued items of that video (once per video).
    fn report_title(&self, video: &str, title: &str) {
        let Ok(video_id) = crate::ids::VideoId::parse(video) else {
            return;
        };
        let wanted = self.engine.borrow().state().is_some_and(|s| {
            s.queue
                .items
                .iter()
                .any(|i| i.video_id == video_id && i.title.is_none())
        });
        // A queue edit: in a room only hosts control, a viewer who is none leaves it to them.
        let may = self.may_control(self.engine.borrow().state());
        if !wanted || !may || self.title_sent.borrow().as_deref() == Some(video) {
            return;
        }
        *self.title_sent.borrow_mut() = Some(video.to_owned());
        let seq = self.next_room_seq();
        self.send(&ClientMsg::Queue {
            seq,
            edit: crate::queue::QueueEdit::Title {
                video_id,
                title: title.to_owned(),
            },
        });
    }

    /// Tells the page the room's video (and its title once the player knows it).
    fn publish_video(&self) {
        let Some(video) = self.engine.borrow().state().map(|s| s.video_id.to_string()) else {
            return;
        };
        let title = self
            .player
            .borrow()
            .as_ref()
            .and_then(|p| p.video_data())
            .filter(|(id, title)| *id == video && !title.is_empty())
            .map(|(_, title)| title);
        if let Some(t) = title.as_deref() {
            self.report_title(&video, t);
        }
        let now = (video, title);
        if self.last_video.borrow().as_ref() != Some(&now) {
            *self.last_video.borrow_mut() = Some(now.clone());
            (self.ui)(UiEvent::Video(now.0, now.1));
        }
    }
}

/// `ws://host/ws/{id}` (or `wss://` on https).
fn socket_url(session_id: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!(
        "{scheme}://{}/ws/{session_id}",
        location.host().ok()?
    ))
}

/// Connects, runs the connection, and reconnects with backoff until told to stop.
/// Every [`HEALTH_EVERY_MS`], reports this viewer's own sync error (the badge figure) to the
/// server's metrics (`health`; the server counts one per connection per 5 s).
async fn health_loop(weak: Weak<Inner>) {
    loop {
        gloo_timers::future::TimeoutFuture::new(HEALTH_EVERY_MS).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let error_ms = inner.engine.borrow().stats().error_ms;
        if let Some(error_ms) = error_ms.filter(|e| e.is_finite()) {
            inner.send(&ClientMsg::Health { error_ms });
        }
    }
}

/// How often the client reports its sync error (the server counts one per 5 s).
const HEALTH_EVERY_MS: u32 = 10_000;

async fn connect_loop(weak: Weak<Inner>) {
    let mut backoff = Backoff::new();
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let session_id = inner.session_id.clone();
        drop(inner);
        let outcome = match socket_url(&session_id) {
            Some(url) => {
                run_connection(&weak, &session_id, &url, &super::session_key(&session_id)).await
            }
            None => Outcome {
                greeted: false,
                code: None,
            },
        };
        let removed = outcome.code == Some(close::REMOVED);
        let mut final_ = removed
            || matches!(
                outcome.code,
                Some(close::UNKNOWN_SESSION | close::SESSION_ENDED)
            );
        if !final_ && !outcome.greeted {
            // The handshake failed (the browser only reports 1006, whatever the HTTP status):
            // ask whether the session still exists, so an ended party does not retry forever.
            if let Ok(None) = crate::api::get_session(session_id.clone()).await {
                final_ = true;
            }
        }
        let Some(inner) = weak.upgrade() else {
            return;
        };
        inner.out.borrow_mut().take();
        inner.socket.borrow_mut().take();
        inner.dispatch(Box::new(move |e, now, r| e.on_disconnect(now, final_, r)));
        if final_ {
            (inner.ui)(if removed {
                UiEvent::Removed
            } else {
                UiEvent::Ended
            });
            inner.publish();
            return;
        }
        if outcome.greeted {
            backoff.reset();
        }
        // A server going away (restart/deploy) is back soon: retry quickly the first time.
        let jitter = js_sys::Math::random();
        let delay = backoff.next_delay(jitter);
        inner.engine.borrow_mut().on_connecting();
        inner.publish();
        drop(inner);
        gloo_timers::future::TimeoutFuture::new(delay as u32).await;
    }
}

struct Outcome {
    greeted: bool,
    code: Option<u16>,
}

/// The WebSocket subprotocol of this protocol version (the server answers with it).
const SUBPROTOCOL: &str = "wp1";

/// The socket the page opened before the app ran (`app/src/early.js`, `window.__wpEarlySocket`)
/// with the messages it received so far and their receive times, when it was opened for this
/// session with this key and is still connecting or open. Taken once: the object is removed and
/// marked taken, so the page's script no longer acts. A socket of the page's that does not
/// qualify is closed.
fn take_early_socket(
    session_id: &str,
    key: &str,
) -> Option<(web_sys::WebSocket, Vec<(String, f64)>)> {
    use wasm_bindgen::JsCast;
    let window = web_sys::window()?;
    let name = JsValue::from_str("__wpEarlySocket");
    let early = Reflect::get(&window, &name)
        .ok()
        .filter(|e| e.is_object())?;
    let _ = Reflect::delete_property(window.unchecked_ref::<Object>(), &name);
    let _ = Reflect::set(&early, &"taken".into(), &true.into());
    let ws = Reflect::get(&early, &"ws".into())
        .ok()?
        .dyn_into::<web_sys::WebSocket>()
        .ok()?;
    ws.set_onmessage(None);
    let text = |k: &str| {
        Reflect::get(&early, &k.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    let ours =
        text("session").as_deref() == Some(session_id) && text("key").as_deref() == Some(key);
    if !ours || ws.ready_state() > web_sys::WebSocket::OPEN {
        let _ = ws.close();
        return None;
    }
    let queued = Reflect::get(&early, &"msgs".into())
        .ok()
        .and_then(|m| m.dyn_into::<js_sys::Array>().ok())
        .map(|msgs| {
            msgs.iter()
                .filter_map(|m| {
                    let m = m.dyn_into::<js_sys::Array>().ok()?;
                    Some((m.get(0).as_string()?, m.get(1).as_f64()?))
                })
                .collect()
        })
        .unwrap_or_default();
    Some((ws, queued))
}

/// One text message from the server. `received`: the receive time of a message the page's
/// socket received before the app adopted it (replayed without a player reading; the clock
/// burst it would start was the page's already, so its pings are not sent again). Returns
/// whether it was `hello`, `None` once the client is gone.
fn on_text(weak: &Weak<Inner>, text: &str, received: Option<f64>) -> Option<bool> {
    let Ok(msg) = serde_json::from_str::<ServerMsg>(text) else {
        return Some(false);
    };
    let hello = matches!(msg, ServerMsg::Hello { .. });
    let inner = weak.upgrade()?;
    if let ServerMsg::Hello { kid, .. } = &msg {
        // A new connection has no health on record: report it afresh.
        *inner.reporter.borrow_mut() = new_reporter();
        inner.send_name();
        *inner.kid.borrow_mut() = kid.clone();
        (inner.ui)(UiEvent::Kid(kid.clone()));
    }
    match msg {
        ServerMsg::Roster { .. } => {
            inner.on_roster(msg);
            return Some(hello);
        }
        ServerMsg::History { .. }
        | ServerMsg::Chat(_)
        | ServerMsg::ChatDeleted { .. }
        | ServerMsg::Reaction(_) => {
            inner.on_social(msg);
            return Some(hello);
        }
        _ => {}
    }
    if let ServerMsg::State { state, cause } = &msg {
        inner.notice(state, *cause);
    }
    if let ServerMsg::Error { code, message, seq } = &msg {
        inner.on_error(*code, message, *seq);
    }
    match received {
        None => inner.dispatch(Box::new(move |e, now, r| e.on_message(now, msg, r))),
        Some(at) => inner.dispatch(Box::new(move |e, _, _| {
            let mut out = e.on_message(at, msg, None);
            out.retain(|a| !matches!(a, Action::Send(ClientMsg::Ping { .. })));
            out
        })),
    }
    Some(hello)
}

async fn run_connection(weak: &Weak<Inner>, session_id: &str, url: &str, key: &str) -> Outcome {
    let mut outcome = Outcome {
        greeted: false,
        code: None,
    };
    let (raw, replay) = match take_early_socket(session_id, key) {
        Some(early) => early,
        None => {
            // The private key travels only in the handshake, as a second subprotocol `k.<key>`.
            let protocols = js_sys::Array::of2(&SUBPROTOCOL.into(), &format!("k.{key}").into());
            let Ok(raw) = web_sys::WebSocket::new_with_str_sequence(url, &protocols) else {
                return outcome;
            };
            (raw, Vec::new())
        }
    };
    let Ok(ws) = WebSocket::try_from(raw.clone()) else {
        return outcome;
    };
    let (tx, mut rx) = unbounded::<String>();
    {
        let Some(inner) = weak.upgrade() else {
            let _ = raw.close();
            return outcome;
        };
        *inner.socket.borrow_mut() = Some(raw.clone());
        *inner.out.borrow_mut() = Some(tx);
    }
    if !replay.is_empty() {
        // What the page's socket received, in order and at the times it came; then the state
        // is applied to the player as it is now (the page may have joined already).
        for (text, at) in &replay {
            match on_text(weak, text, Some(*at)) {
                Some(hello) => outcome.greeted |= hello,
                None => {
                    let _ = raw.close();
                    return outcome;
                }
            }
        }
        if let Some(inner) = weak.upgrade() {
            inner.dispatch(Box::new(|e, now, r| e.on_adopted(now, r)));
        }
    }
    let (mut write, mut read) = ws.split();
    let writer = async move {
        while let Some(text) = rx.next().await {
            if write.send(Message::Text(text)).await.is_err() {
                break;
            }
        }
    };
    let greeted = &mut outcome.greeted;
    let reader = async move {
        while let Some(msg) = read.next().await {
            match msg {
                Ok(Message::Text(text)) => {
                    if on_text(weak, &text, None)? {
                        *greeted = true;
                    }
                }
                Ok(Message::Bytes(_)) => {}
                Err(WebSocketError::ConnectionClose(ev)) => return Some(ev.code),
                Err(_) => {}
            }
        }
        None
    };
    let code = match select(Box::pin(writer), Box::pin(reader)).await {
        Either::Left(_) => None,
        Either::Right((code, _)) => code,
    };
    let _ = raw.close();
    outcome.code = code;
    outcome
}
