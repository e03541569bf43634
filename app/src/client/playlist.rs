//! Reading a playlist's video ids in the browser, without an API key: a second, hidden, muted
//! `YT.Player` made for the purpose (never the room's player: cueing must not disturb
//! playback) is given `cuePlaylist({list, listType: 'playlist'})`, and `getPlaylist()` is asked
//! until it returns the ids, for at most [`READ_TIMEOUT_MS`]. The helper player and its box
//! are removed whatever happens (see [`Helper`]'s `Drop`).
//!
//! Unreadable (the player's `onError`: private, deleted, missing), empty, or no answer in time:
//! a [`ReadError`], and nothing is sent.

use js_sys::{Array, Object, Reflect};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use watchparty_core::ids::VideoId;
use watchparty_core::playlist::{PlaylistId, ReadError, READ_TIMEOUT_MS};

#[wasm_bindgen]
extern "C" {
    /// A `YT.Player` used only to read a playlist.
    #[wasm_bindgen(js_namespace = YT, js_name = Player)]
    type Reader;

    #[wasm_bindgen(constructor, js_namespace = YT, js_class = "Player", catch)]
    fn new(element: &web_sys::Element, options: &Object) -> Result<Reader, JsValue>;
    #[wasm_bindgen(method, catch, js_name = cuePlaylist)]
    fn cue_playlist(this: &Reader, args: &Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = getPlaylist)]
    fn get_playlist(this: &Reader) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn destroy(this: &Reader) -> Result<(), JsValue>;
}

/// How often `getPlaylist()` is asked (ms).
const POLL_MS: u32 = 100;
/// `YT.PlayerState.CUED`.
const CUED: i32 = 5;

/// The helper player, its box and the closures it calls; dropping it destroys the player
/// first, then removes the box and frees the closures.
struct Helper {
    player: Reader,
    frame: web_sys::Element,
    _closures: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.player.destroy();
        self.frame.remove();
    }
}

/// What the helper player told so far.
#[derive(Default)]
struct Heard {
    ready: Cell<bool>,
    error: Cell<bool>,
    state: Cell<i32>,
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// Makes the hidden helper player in a box of its own, off screen.
fn helper(heard: &Rc<Heard>) -> Result<Helper, ReadError> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or(ReadError::NoPlayer)?;
    let body = document.body().ok_or(ReadError::NoPlayer)?;
    let frame = document
        .create_element("div")
        .map_err(|_| ReadError::NoPlayer)?;
    let _ = frame.set_attribute("data-testid", "playlist-reader");
    let _ = frame.set_attribute("aria-hidden", "true");
    // Off screen, at a size a player accepts. Through the CSS object model: the page's CSP
    // refuses `style` attributes.
    if let Ok(style) = Reflect::get(&frame, &"style".into()) {
        for (k, v) in [
            ("position", "fixed"),
            ("left", "-10000px"),
            ("top", "0"),
            ("width", "200px"),
            ("height", "120px"),
            ("overflow", "hidden"),
        ] {
            let _ = Reflect::set(&style, &k.into(), &v.into());
        }
    }
    let inner = document
        .create_element("div")
        .map_err(|_| ReadError::NoPlayer)?;
    let _ = frame.append_child(&inner);
    let _ = body.append_child(&frame);

    let vars = Object::new();
    for (k, v) in [("enablejsapi", 1), ("mute", 1), ("controls", 0)] {
        set(&vars, k, &v.into());
    }
    if let Some(origin) = super::origin() {
        set(&vars, "origin", &origin.into());
    }
    let events = Object::new();
    let mut closures = Vec::with_capacity(3);
    let mut on = |name: &str, f: fn(&Heard, JsValue)| {
        let h = heard.clone();
        let c = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let data = Reflect::get(&e, &"data".into()).unwrap_or(JsValue::UNDEFINED);
            f(&h, data);
        });
        set(&events, name, c.as_ref());
        closures.push(c);
    };
    on("onReady", |h, _| h.ready.set(true));
    on("onError", |h, _| h.error.set(true));
    on("onStateChange", |h, d| {
        h.state.set(d.as_f64().map_or(-1, |s| s as i32))
    });
    let options = Object::new();
    set(&options, "width", &"200".into());
    set(&options, "height", &"120".into());
    set(&options, "playerVars", &vars);
    set(&options, "events", &events);
    match Reader::new(&inner, &options) {
        Ok(player) => Ok(Helper {
            player,
            frame,
            _closures: closures,
        }),
        Err(_) => {
            frame.remove();
            Err(ReadError::NoPlayer)
        }
    }
}

/// The valid video ids of `getPlaylist()`, or `None` while it has no array.
fn playlist_ids(player: &Reader) -> Option<Vec<VideoId>> {
    let list = player.get_playlist().ok()?.dyn_into::<Array>().ok()?;
    Some(
        list.iter()
            .filter_map(|v| v.as_string())
            .filter_map(|s| VideoId::parse(&s).ok())
            .collect(),
    )
}

/// Reads the video ids of playlist `list`, in its order.
pub async fn read(list: &PlaylistId) -> Result<Vec<VideoId>, ReadError> {
    super::yt::load_api()
        .await
        .map_err(|_| ReadError::NoPlayer)?;
    let heard = Rc::new(Heard::default());
    heard.state.set(-1);
    let helper = helper(&heard)?;
    let mut cued = false;
    let mut waited = 0;
    while waited < READ_TIMEOUT_MS {
        gloo_timers::future::TimeoutFuture::new(POLL_MS).await;
        waited += POLL_MS;
        if heard.error.get() {
            return Err(ReadError::Unreadable);
        }
        if !heard.ready.get() {
            continue;
        }
        if !cued {
            // Only the list's errors count (a player made without a video reports none, but
            // be sure).
            heard.error.set(false);
            let args = Object::new();
            set(&args, "list", &list.as_str().into());
            set(&args, "listType", &"playlist".into());
            helper
                .player
                .cue_playlist(&args)
                .map_err(|_| ReadError::Unreadable)?;
            cued = true;
            continue;
        }
        match playlist_ids(&helper.player) {
            Some(ids) if !ids.is_empty() => return Ok(ids),
            Some(_) if heard.state.get() == CUED => return Err(ReadError::Empty),
            _ => {}
        }
    }
    Err(ReadError::Timeout)
}
