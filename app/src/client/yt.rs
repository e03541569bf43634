//! Typed bindings to the YouTube IFrame Player API (`YT.Player`) and its loader.
//!
//! The API script is inserted as a `<script src="https://www.youtube.com/iframe_api">` (allowed by
//! the page's CSP; no inline script, no eval). [`load_api`] resolves once `window.YT.Player`
//! exists, whether the script was already there, is still loading (an earlier
//! `onYouTubeIframeAPIReady` is chained, not replaced) or is inserted now.
//!
//! [`YtPlayer`] owns the `YT.Player` and the Rust closures it calls; dropping it destroys the
//! player first and then frees the closures, so no callback can outlive its closure. On a
//! session page loaded from the server, the page itself may have created the player before the
//! wasm arrived (the nonce'd `EARLY_PLAYER` script of `ssr.rs`); [`YtPlayer::create`] then
//! adopts it instead of making a second one.

use futures::channel::oneshot;
use js_sys::{Function, Object, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::i18n::td_string;
use crate::lang::fill;
use crate::video::IFRAME_API_SCRIPT_ID as SCRIPT_ID;
pub use crate::video::IFRAME_API_URL as API_URL;

#[wasm_bindgen]
extern "C" {
    /// A `YT.Player` instance.
    #[wasm_bindgen(js_namespace = YT, js_name = Player)]
    pub type Player;

    #[wasm_bindgen(constructor, js_namespace = YT, js_class = "Player", catch)]
    fn new(element: &web_sys::Element, options: &Object) -> Result<Player, JsValue>;

    #[wasm_bindgen(method, catch, js_name = playVideo)]
    fn play_video(this: &Player) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = pauseVideo)]
    fn pause_video(this: &Player) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = seekTo)]
    fn seek_to(this: &Player, seconds: f64, allow_seek_ahead: bool) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = getCurrentTime)]
    fn get_current_time(this: &Player) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getPlayerState)]
    fn get_player_state(this: &Player) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getDuration)]
    fn get_duration(this: &Player) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getPlaybackRate)]
    fn get_playback_rate(this: &Player) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = setPlaybackRate)]
    fn set_playback_rate(this: &Player, rate: f64) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = getAvailablePlaybackRates)]
    fn get_available_playback_rates(this: &Player) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = loadVideoById)]
    fn load_video_by_id(this: &Player, video_id: &str, start_seconds: f64) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = cueVideoById)]
    fn cue_video_by_id(this: &Player, video_id: &str, start_seconds: f64) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = getVideoData)]
    fn get_video_data(this: &Player) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn destroy(this: &Player) -> Result<(), JsValue>;
}

/// Why the player could not be set up (its `Display` is the sentence the page shows, in the
/// page's language).
#[derive(Debug)]
pub enum YtError {
    /// No `window`/`document` (not in a browser).
    NoWindow,
    /// The API script did not load (blocked or offline).
    ApiUnavailable,
    /// `new YT.Player` threw.
    Create,
}

impl std::fmt::Display for YtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let locale = crate::i18n::document_locale();
        f.write_str(match self {
            YtError::NoWindow => td_string!(locale, people.player_error.no_window),
            YtError::ApiUnavailable => td_string!(locale, people.player_error.api_unavailable),
            YtError::Create => td_string!(locale, people.player_error.create),
        })
    }
}

impl std::error::Error for YtError {}

/// What the player reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlayerEvent {
    /// `onReady`.
    Ready,
    /// `onStateChange` with the `YT.PlayerState` number.
    StateChange(i32),
    /// `onPlaybackRateChange` with the new rate.
    RateChange(f64),
    /// `onError` with YouTube's error code.
    Error(i32),
}

/// A human explanation of a YouTube player error code, in the page's language.
pub fn error_message(code: i32) -> String {
    let locale = crate::i18n::document_locale();
    match code {
        2 => td_string!(locale, people.player_error.bad_id).to_owned(),
        5 => td_string!(locale, people.player_error.no_html5).to_owned(),
        100 => td_string!(locale, people.player_error.not_found).to_owned(),
        101 | 150 => td_string!(locale, people.player_error.not_embeddable).to_owned(),
        other => fill(
            td_string!(locale, people.player_error.other),
            &[("code", &other.to_string())],
        ),
    }
}

fn api_ready(window: &web_sys::Window) -> bool {
    Reflect::get(window, &"YT".into())
        .ok()
        .filter(|yt| yt.is_object())
        .and_then(|yt| Reflect::get(&yt, &"Player".into()).ok())
        .is_some_and(|p| p.is_function())
}

/// Loads the IFrame API (once per page) and waits until `YT.Player` can be used.
pub async fn load_api() -> Result<(), YtError> {
    let window = web_sys::window().ok_or(YtError::NoWindow)?;
    if api_ready(&window) {
        return Ok(());
    }
    let document = window.document().ok_or(YtError::NoWindow)?;
    let (tx, rx) = oneshot::channel::<()>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let previous = Reflect::get(&window, &"onYouTubeIframeAPIReady".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    let on_ready = Closure::once_into_js(move || {
        if let Some(prev) = previous {
            let _ = prev.call0(&JsValue::NULL);
        }
        if let Some(tx) = tx.borrow_mut().take() {
            let _ = tx.send(());
        }
    });
    Reflect::set(&window, &"onYouTubeIframeAPIReady".into(), &on_ready)
        .map_err(|_| YtError::ApiUnavailable)?;
    if document.get_element_by_id(SCRIPT_ID).is_none() {
        let script = document
            .create_element("script")
            .map_err(|_| YtError::ApiUnavailable)?;
        script.set_id(SCRIPT_ID);
        let _ = script.set_attribute("src", API_URL);
        let _ = script.set_attribute("async", "");
        let parent = document
            .head()
            .map(|h| h.unchecked_into::<web_sys::Element>())
            .or_else(|| document.document_element())
            .ok_or(YtError::NoWindow)?;
        parent
            .append_child(&script)
            .map_err(|_| YtError::ApiUnavailable)?;
    }
    // The callback may have been taken over by another script: also poll for `YT.Player`.
    let polled = window.clone();
    let poll = async move {
        loop {
            gloo_timers::future::TimeoutFuture::new(250).await;
            if api_ready(&polled) {
                // Give the API's own ready callback the chance to run first.
                gloo_timers::future::TimeoutFuture::new(50).await;
                return;
            }
        }
    };
    let timeout = gloo_timers::future::TimeoutFuture::new(20_000);
    use futures::future::{select, Either};
    let ready = select(Box::pin(async { rx.await.is_ok() }), Box::pin(poll));
    let outcome = select(ready, timeout).await;
    match outcome {
        Either::Left(_) if api_ready(&window) => Ok(()),
        _ => Err(YtError::ApiUnavailable),
    }
}

/// A `YT.Player` with the closures it calls. Dropping it destroys the player.
pub struct YtPlayer {
    player: Player,
    _closures: Vec<Closure<dyn FnMut(JsValue)>>,
    /// An adopted early player's queue (`window.__wpEarlyPlayer`) and the listener it calls.
    early: Option<Early>,
}

/// What an adopted early player needs: its queue object, the Rust listener the queue calls
/// (`listener(kind, data)`), and whether this player still lives (the replay is deferred).
struct Early {
    queue: Object,
    _listener: Closure<dyn FnMut(JsValue, JsValue)>,
    alive: Rc<std::cell::Cell<bool>>,
}

/// The page's own player (ssr.rs `EARLY_PLAYER`), when it was created in `container` for
/// `video_id`. The queue is taken from `window` either way, and marked taken so that the page
/// never creates one after the app has made its own; a player for another box or video (a
/// client-side navigation) is destroyed.
fn take_early(
    window: &web_sys::Window,
    container: &web_sys::Element,
    video_id: &str,
) -> Option<(Player, Object)> {
    let queue = take_queue(window)?;
    let Some(player) = early_player(&queue) else {
        // No API for the page (it came after the app asked): the app makes its own player.
        discard(&queue);
        return None;
    };
    let same_box = Reflect::get(&queue, &"box".into())
        .is_ok_and(|b| &b == AsRef::<JsValue>::as_ref(container));
    let same_video = Reflect::get(&queue, &"video".into())
        .ok()
        .and_then(|v| v.as_string())
        .is_some_and(|v| v == video_id);
    if same_box && same_video {
        Some((player, queue))
    } else {
        discard(&queue);
        None
    }
}

/// The early player's queue (`window.__wpEarlyPlayer`), taken from `window` and marked taken, so
/// that the page never creates a player after this.
fn take_queue(window: &web_sys::Window) -> Option<Object> {
    let key = JsValue::from_str("__wpEarlyPlayer");
    let queue = Reflect::get(window, &key).ok().filter(|q| q.is_object())?;
    let _ = Reflect::delete_property(window.unchecked_ref::<Object>(), &key);
    let queue: Object = queue.unchecked_into();
    set(&queue, "taken", &true.into());
    // The page's first-frame pulse, if one runs, ends now (`early.js`, `q.handover`): the
    // engine starts from the room's rate.
    if let Ok(handover) = Reflect::get(&queue, &"handover".into()) {
        if let Some(f) = handover.dyn_ref::<Function>() {
            let _ = f.call0(&queue);
        }
    }
    Some(queue)
}

/// The page's player, if the API came before the app took the queue.
fn early_player(queue: &Object) -> Option<Player> {
    Reflect::get(queue, &"player".into())
        .ok()
        .filter(|p| p.is_object())
        .map(|p| p.unchecked_into::<Player>())
}

/// Destroys the page's player (if any) and removes the embed's iframe the page put in the box
/// before the API came: it goes with its player.
fn discard(queue: &Object) {
    if let Some(player) = early_player(queue) {
        let _ = player.destroy();
    }
    if let Some(frame) = Reflect::get(queue, &"frame".into())
        .ok()
        .and_then(|f| f.dyn_into::<web_sys::Element>().ok())
    {
        frame.remove();
    }
}

/// Removes what the page made of the player (the embed's iframe, and the player if any) when
/// the app cannot make one (the IFrame API never came): no embed stays that nothing syncs.
pub fn discard_early() {
    if let Some(queue) = web_sys::window().and_then(|w| take_queue(&w)) {
        discard(&queue);
    }
}

/// An event of the early player's queue (`[kind, data]`).
fn early_event(kind: &JsValue, data: &JsValue) -> Option<PlayerEvent> {
    match kind.as_string()?.as_str() {
        "ready" => Some(PlayerEvent::Ready),
        "state" => data.as_f64().map(|d| PlayerEvent::StateChange(d as i32)),
        "rate" => data.as_f64().map(PlayerEvent::RateChange),
        "error" => data.as_f64().map(|d| PlayerEvent::Error(d as i32)),
        _ => None,
    }
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn event_data(e: &JsValue) -> JsValue {
    Reflect::get(e, &"data".into()).unwrap_or(JsValue::UNDEFINED)
}

fn number(v: Result<JsValue, JsValue>) -> Option<f64> {
    v.ok().and_then(|v| v.as_f64()).filter(|f| f.is_finite())
}

impl YtPlayer {
    /// The player in the element with id `element_id` (the API puts its iframe in place of a
    /// child it is given): the page's early player when it made one there for this video
    /// (adopted: its queued events are replayed in order, after this returns), else a new one.
    /// `on_event` receives every player event. The container's `data-player` says which
    /// (`early` / `app`; docs/test-hooks.md).
    pub fn create(
        element_id: &str,
        video_id: &str,
        start: f64,
        on_event: Rc<dyn Fn(PlayerEvent)>,
    ) -> Result<Self, YtError> {
        let window = web_sys::window().ok_or(YtError::NoWindow)?;
        let document = window.document().ok_or(YtError::NoWindow)?;
        let container = document
            .get_element_by_id(element_id)
            .ok_or(YtError::Create)?;
        if let Some((player, queue)) = take_early(&window, &container, video_id) {
            return Ok(Self::adopt(player, queue, on_event));
        }
        let element = document
            .create_element("div")
            .map_err(|_| YtError::Create)?;
        container
            .append_child(&element)
            .map_err(|_| YtError::Create)?;
        let _ = container.set_attribute("data-player", "app");
        let origin = window.location().origin().unwrap_or_default();

        let vars = Object::new();
        for (name, value) in crate::video::PLAYER_VARS {
            set(&vars, name, &value.into());
        }
        set(&vars, "origin", &origin.into());
        let start = if start.is_finite() {
            start.max(0.0).floor()
        } else {
            0.0
        };
        if start > 0.0 {
            set(&vars, "start", &start.into());
        }

        let mut closures: Vec<Closure<dyn FnMut(JsValue)>> = Vec::with_capacity(4);
        let events = Object::new();
        let mut handler = |name: &str, map: fn(&JsValue) -> Option<PlayerEvent>| {
            let cb = on_event.clone();
            let c = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                if let Some(ev) = map(&e) {
                    cb(ev);
                }
            });
            set(&events, name, c.as_ref());
            closures.push(c);
        };
        handler("onReady", |_| Some(PlayerEvent::Ready));
        handler("onStateChange", |e| {
            event_data(e)
                .as_f64()
                .map(|d| PlayerEvent::StateChange(d as i32))
        });
        handler("onPlaybackRateChange", |e| {
            event_data(e).as_f64().map(PlayerEvent::RateChange)
        });
        handler("onError", |e| {
            event_data(e).as_f64().map(|d| PlayerEvent::Error(d as i32))
        });

        let options = Object::new();
        set(&options, "videoId", &video_id.into());
        set(&options, "width", &"100%".into());
        set(&options, "height", &"100%".into());
        set(&options, "playerVars", &vars);
        set(&options, "events", &events);
        let player = Player::new(&element, &options).map_err(|_| {
            let _ = container.remove_child(&element);
            YtError::Create
        })?;
        Ok(Self {
            player,
            _closures: closures,
            early: None,
        })
    }

    /// Takes over the page's early player: its queued events go to `on_event` in order, in a
    /// task after this returns (the caller stores the player first, as with a new one), and
    /// the later ones as they come.
    fn adopt(player: Player, queue: Object, on_event: Rc<dyn Fn(PlayerEvent)>) -> Self {
        let listener = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |kind, data| {
            if let Some(ev) = early_event(&kind, &data) {
                on_event(ev);
            }
        });
        let alive = Rc::new(std::cell::Cell::new(true));
        let call: Function = listener.as_ref().clone().unchecked_into();
        let (q, live) = (queue.clone(), alive.clone());
        wasm_bindgen_futures::spawn_local(async move {
            if !live.get() {
                return;
            }
            let queued = Reflect::get(&q, &"events".into())
                .ok()
                .and_then(|e| e.dyn_into::<js_sys::Array>().ok());
            set(&q, "events", &js_sys::Array::new());
            for e in queued.iter().flat_map(|a| a.iter()) {
                let Ok(e) = e.dyn_into::<js_sys::Array>() else {
                    continue;
                };
                // A replayed event may drop this player (the page closed): stop there.
                if !live.get() {
                    return;
                }
                let _ = call.call2(&JsValue::NULL, &e.get(0), &e.get(1));
            }
            if live.get() {
                set(&q, "listener", &call);
            }
        });
        Self {
            player,
            _closures: Vec::new(),
            early: Some(Early {
                queue,
                _listener: listener,
                alive,
            }),
        }
    }

    /// `playVideo()`.
    pub fn play(&self) {
        let _ = self.player.play_video();
    }

    /// `pauseVideo()`.
    pub fn pause(&self) {
        let _ = self.player.pause_video();
    }

    /// `seekTo(seconds, true)`.
    pub fn seek(&self, seconds: f64) {
        if seconds.is_finite() {
            let _ = self.player.seek_to(seconds.max(0.0), true);
        }
    }

    /// `setPlaybackRate(rate)` (the player may round it; see `onPlaybackRateChange`).
    pub fn set_rate(&self, rate: f64) {
        let _ = self.player.set_playback_rate(rate);
    }

    /// `cueVideoById(id, start)`.
    pub fn cue(&self, video_id: &str, start: f64) {
        let _ = self.player.cue_video_by_id(video_id, start.max(0.0));
    }

    /// `loadVideoById(id, start)` (starts playing).
    pub fn load(&self, video_id: &str, start: f64) {
        let _ = self.player.load_video_by_id(video_id, start.max(0.0));
    }

    /// `getVideoData()`: the id of the video loaded and its title (empty until known).
    pub fn video_data(&self) -> Option<(String, String)> {
        let data = self
            .player
            .get_video_data()
            .ok()
            .filter(|d| d.is_object())?;
        let text = |k: &str| {
            Reflect::get(&data, &k.into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        };
        Some((text("video_id"), text("title")))
    }

    /// `getCurrentTime()` (s), when available.
    pub fn current_time(&self) -> Option<f64> {
        number(self.player.get_current_time())
    }

    /// `getPlayerState()`, when available.
    pub fn state(&self) -> Option<i32> {
        number(self.player.get_player_state()).map(|s| s as i32)
    }

    /// `getDuration()` (s; 0 until known).
    pub fn duration(&self) -> f64 {
        number(self.player.get_duration()).unwrap_or(0.0)
    }

    /// `getPlaybackRate()`, when available.
    pub fn rate(&self) -> Option<f64> {
        number(self.player.get_playback_rate())
    }

    /// `getAvailablePlaybackRates()` (empty when unknown).
    pub fn available_rates(&self) -> Vec<f64> {
        self.player
            .get_available_playback_rates()
            .ok()
            .and_then(|v| v.dyn_into::<js_sys::Array>().ok())
            .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
            .unwrap_or_default()
    }
}

impl Drop for YtPlayer {
    fn drop(&mut self) {
        // Destroy first (no more callbacks), then the closures are freed with `self`.
        let _ = self.player.destroy();
        if let Some(early) = &self.early {
            early.alive.set(false);
            set(&early.queue, "listener", &JsValue::NULL);
        }
    }
}
