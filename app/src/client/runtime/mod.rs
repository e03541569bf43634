//! The sync runtime: owns the YouTube player, the WebSocket (with reconnects) and the timers, and
//! feeds everything into the pure [`Engine`], executing the [`Action`]s it returns.
//!
//! Every input goes through one queue ([`Inner::dispatch`]): the engine is borrowed by one step
//! at a time even if executing an action makes the player call back synchronously. A fresh
//! [`Reading`] of the player is taken for every step. `window.__watchparty` and the page's
//! store are refreshed after each batch. The socket's side (connect, adopt the page's early
//! socket, read, reconnect) is [`socket`].
//!
//! What the page shows (roster, rights, queue, chat, reactions, notices, health) is the pure
//! [`RoomView`]'s: every server message goes through it first, and it is asked what changed
//! after every batch of engine steps; this module only carries out its [`Output`].
//!
//! Dropping the [`SyncClient`] tears everything down: timers stop, the socket closes, the player
//! is destroyed, `window.__watchparty` is removed.

mod socket;

use super::now_ms;
use super::yt::{self, PlayerEvent, YtPlayer};
use crate::api::SessionView;
use crate::protocol::ClientMsg;
use crate::rights::RightsCommand;
use crate::sync::{Action, Engine, PlayerState, Reading, TICK_MS};
use futures::channel::mpsc::UnboundedSender;
use futures::future::{abortable, AbortHandle};
use gloo_timers::callback::{Interval, Timeout};
use js_sys::{Object, Reflect};
use socket::{connect_loop, health_loop};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::JsValue;
pub use watchparty_core::room_view::ViewEvent as UiEvent;
use watchparty_core::room_view::{Output, RoomView};

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
    /// What the page shows of the room (see [`RoomView`]).
    view: RefCell<RoomView>,
    wake: RefCell<Option<Timeout>>,
    /// Fires for a scheduled start's call (see [`Action::StartAt`]).
    start_wake: RefCell<Option<Timeout>>,
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
            view: RefCell::new(RoomView::new()),
            wake: RefCell::new(None),
            start_wake: RefCell::new(None),
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
        let msg = self.inner.view.borrow_mut().set_name(name);
        self.inner.send(&msg);
    }

    /// Sends a room request (queue edit, play now); `build` gets the sequence number and the
    /// newest revision seen.
    pub fn room(&self, build: impl FnOnce(u32, u64) -> ClientMsg) {
        let seq = self.inner.view.borrow_mut().next_room_seq();
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
        let msg = self.inner.view.borrow_mut().host(cmd);
        self.inner.send(&msg);
    }

    /// Sends another host request (keep, release or end the room) built with a host sequence
    /// number, so a refusal reaches the host panel.
    pub fn host_msg(&self, build: impl FnOnce(u32) -> ClientMsg) {
        let seq = self.inner.view.borrow_mut().next_host_seq();
        self.inner.send(&build(seq));
    }

    /// Sends a playlist import (see `watchparty_core::playlist`); its echo tells the page the
    /// counts (`UiEvent::Imported`).
    pub fn import(&self, video_ids: Vec<crate::ids::VideoId>, cut: u32) {
        let msg = self.inner.view.borrow_mut().import(video_ids, cut);
        self.inner.send(&msg);
    }

    /// Sends a chat line.
    pub fn chat(&self, text: String) {
        let msg = self.inner.view.borrow_mut().chat_line(text);
        self.inner.send(&msg);
    }

    /// Asks to delete a chat line (hosts only).
    pub fn delete_chat(&self, id: u64) {
        let msg = self.inner.view.borrow_mut().delete_chat(id);
        self.inner.send(&msg);
    }

    /// Sends a reaction stamped with this viewer's player position (the frame it shows now).
    pub fn react(&self, emoji: &str) {
        let inner = &self.inner;
        let at = inner
            .reading(now_ms())
            .map(|r| r.position)
            .unwrap_or_else(|| inner.engine.borrow().stats().target_position);
        let msg = inner.view.borrow_mut().react(emoji, at);
        if let Some(msg) = msg {
            inner.send(&msg);
        }
    }
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
        self.start_wake.borrow_mut().take();
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
                let may = self.view.borrow().may_control(engine.state());
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

    /// Floats the reactions whose moment this viewer's video just passed in play, and arms a
    /// timer for the next one ahead, so it floats on its moment (within a few ms) rather than
    /// at the next sync step.
    fn reactions_due(self: &Rc<Self>, r: Reading) {
        let (due, wake) = {
            let engine = self.engine.borrow();
            self.view.borrow_mut().reactions_due(engine.state(), &r)
        };
        if let Some(ev) = due {
            (self.ui)(ev);
        }
        let wake = wake.map(|delay| {
            let weak = Rc::downgrade(self);
            Timeout::new(delay, move || {
                if let Some(inner) = weak.upgrade() {
                    if let Some(r) = inner.reading(now_ms()) {
                        inner.reactions_due(r);
                    }
                }
            })
        });
        *self.reaction_wake.borrow_mut() = wake;
    }

    /// Carries out what the room view decided: sends, then tells the page.
    fn carry_out(&self, out: Output) {
        for msg in &out.send {
            self.send(msg);
        }
        for ev in out.events {
            (self.ui)(ev);
        }
    }

    fn execute(self: &Rc<Self>, actions: Vec<Action>, now: f64) {
        for a in actions {
            match a {
                Action::Send(msg) => self.send(&msg),
                Action::ShowJoin(b) => {
                    let ev = self.view.borrow_mut().show_join(b);
                    (self.ui)(ev);
                }
                Action::WakeAt(t) => {
                    let delay = (t - now).clamp(0.0, 60_000.0).round() as u32;
                    *self.wake.borrow_mut() = Some(Timeout::new(delay, self.tick_later()));
                }
                Action::StartAt(t) => {
                    *self.start_wake.borrow_mut() = Some(start_timer(t, now, self.tick_later()));
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

    /// A sync step for a timer to run (nothing once the client is gone).
    fn tick_later(self: &Rc<Self>) -> impl FnOnce() + 'static {
        let weak = Rc::downgrade(self);
        move || {
            if let Some(inner) = weak.upgrade() {
                inner.dispatch(Box::new(|e, now, r| e.on_tick(now, r)));
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
        // A figure not measured yet is `null`.
        let opt = |v: Option<f64>| v.map(JsValue::from_f64).unwrap_or(JsValue::NULL);
        set("errorMs", opt(stats.error_ms));
        set("correctiveSeeks", stats.corrective_seeks.into());
        set("rateNudges", stats.rate_nudges.into());
        set("playerState", stats.player_state.into());
        set("targetPosition", stats.target_position.into());
        set("roomRate", stats.room_rate.into());
        set("lastAction", stats.last_action.as_str().into());
        set("seekLatencyMs", stats.seek_latency_ms.into());
        set("viewers", stats.viewers.into());
        set("rateControl", stats.rate_control.as_str().into());
        set("readingNoiseMs", stats.reading_noise_ms.into());
        set("inAd", stats.in_ad.into());
        set("pulseLagMs", stats.pulse_lag_ms.into());
        set("pulseLagSlowMs", stats.pulse_lag_slow_ms.into());
        set("startLatencyMs", stats.start_latency_ms.into());
        set("startErrorMs", opt(stats.start_error_ms));
        set("starts", stats.starts.into());
        set("startNeedMs", stats.start_need_ms.into());
        set("recent", stats.recent.join(" | ").as_str().into());
        let player_video = self.player.borrow().as_ref().and_then(|p| p.video_data());
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        let out = {
            let engine = self.engine.borrow();
            self.view
                .borrow_mut()
                .observe(&engine, player_video, hidden, now_ms())
        };
        self.carry_out(out);
    }
}

/// How early a scheduled start's timer fires (ms): the rest is waited out on the clock, so the
/// call lands on its millisecond instead of a timer's 1–4 ms late (a browser's timers are late
/// by that even on an idle page, and every viewer's by a different amount).
const START_SPIN_MS: f64 = 3.0;

/// A timer for client time `t` (ms; `now` is the time now) that runs `f` on `t`'s millisecond:
/// it fires [`START_SPIN_MS`] early and waits the rest out (at most that long; a timer that is
/// late already runs `f` at once).
fn start_timer(t: f64, now: f64, f: impl FnOnce() + 'static) -> Timeout {
    let delay = (t - now - START_SPIN_MS).clamp(0.0, 60_000.0).floor() as u32;
    Timeout::new(delay, move || {
        let give_up = now_ms() + START_SPIN_MS + 1.0;
        loop {
            let n = now_ms();
            if n >= t || n >= give_up {
                break;
            }
            std::hint::spin_loop();
        }
        f();
    })
}
