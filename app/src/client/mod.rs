//! Browser-only: YouTube IFrame API bindings ([`yt`]) and the WebSocket sync runtime
//! ([`runtime`]) that drives the pure [`crate::sync::Engine`].

pub mod playlist;
pub mod runtime;
pub mod yt;

pub use runtime::{SyncClient, UiEvent};

use crate::early::{HOST_FRAGMENT, HOST_STORAGE_PREFIX, KEY_BYTES, KEY_STORAGE as KEY_KEY};
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

/// The client clock (ms since the Unix epoch): `performance.timeOrigin + performance.now()`,
/// fixed anchor plus a monotonic clock, so it never jumps when the wall clock is adjusted.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.time_origin() + p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// Marks the document as hydrated (`html[data-hydrated="true"]`, see docs/test-hooks.md).
pub fn mark_hydrated() {
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = el.set_attribute("data-hydrated", "true");
    }
}

/// Posts the home page's form to `create_session` (`/api/create`) as the plain form would,
/// asking for the script's answer (`Accept: application/json`): the new session's address
/// (`/s/{id}#host=<secret>`, from `Location`), or why it failed. Written out instead of
/// Leptos' `ActionForm` client, whose server-function machinery (serde_qs and the generic
/// client) was 6 % of the wasm for this one form (docs/benchmarks.md, "Bundle").
pub async fn post_create(video: &str) -> Result<String, crate::api::CreateFailure> {
    use crate::api::CreateFailure;
    use wasm_bindgen_futures::JsFuture;
    let generic = || CreateFailure::Generic;
    let Some(window) = web_sys::window() else {
        return Err(generic());
    };
    let body = format!(
        "video={}",
        String::from(js_sys::encode_uri_component(video))
    );
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    let Ok(request) = web_sys::Request::new_with_str_and_init("/api/create", &init) else {
        return Err(generic());
    };
    let headers = request.headers();
    let _ = headers.set("Content-Type", "application/x-www-form-urlencoded");
    let _ = headers.set("Accept", "application/json");
    let Ok(answer) = JsFuture::from(window.fetch_with_request(&request)).await else {
        return Err(CreateFailure::Unreachable);
    };
    let Ok(response) = answer.dyn_into::<web_sys::Response>() else {
        return Err(generic());
    };
    if response.ok() {
        return match response.headers().get("Location") {
            Ok(Some(location)) if location.starts_with("/s/") => Ok(location),
            _ => Err(generic()),
        };
    }
    if response.status() == 429 {
        let wait = response
            .headers()
            .get("Retry-After")
            .ok()
            .flatten()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(60);
        return Err(CreateFailure::TooMany { secs: wait });
    }
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Err(text
        .strip_prefix("ServerError|")
        .and_then(CreateFailure::from_sentence)
        .unwrap_or_else(generic))
}

/// Copies `text` to the clipboard; false when the browser refused.
pub async fn copy_text(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}

/// `navigator.share` when this browser has one (the system share sheet: phones, some desktops).
fn share_fn() -> Option<(web_sys::Navigator, js_sys::Function)> {
    let navigator = web_sys::window()?.navigator();
    let f = Reflect::get(&navigator, &"share".into()).ok()?;
    let f = f.dyn_into::<js_sys::Function>().ok()?;
    Some((navigator, f))
}

/// Whether this browser has a system share sheet (`navigator.share`).
pub fn can_share() -> bool {
    share_fn().is_some()
}

/// What became of a [`share`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shared {
    /// The share sheet took it (or the person closed it: `AbortError`).
    Done,
    /// No share sheet, or the browser refused: copy instead.
    Unavailable,
}

/// Opens the system share sheet with `url` and `title` (`navigator.share({title, url})`).
pub async fn share(url: &str, title: &str) -> Shared {
    let Some((navigator, f)) = share_fn() else {
        return Shared::Unavailable;
    };
    let data = js_sys::Object::new();
    let _ = Reflect::set(&data, &"title".into(), &title.into());
    let _ = Reflect::set(&data, &"url".into(), &url.into());
    let Some(promise) = f
        .call1(&navigator, &data)
        .ok()
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
    else {
        return Shared::Unavailable;
    };
    let error = match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(_) => return Shared::Done,
        Err(e) => Reflect::get(&e, &"name".into())
            .ok()
            .and_then(|n| n.as_string()),
    };
    // The person closed the sheet: nothing to do.
    if error.as_deref() == Some("AbortError") {
        Shared::Done
    } else {
        Shared::Unavailable
    }
}

/// Selects the text of the input with id `id` (fallback when copying is refused).
pub fn select_input(id: &str) {
    if let Some(input) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        input.select();
    }
}

/// `window.location.origin`.
pub fn origin() -> Option<String> {
    web_sys::window().and_then(|w| w.location().origin().ok())
}

const NAME_KEY: &str = "watchparty.name";

/// This browser's display name: the one remembered in `localStorage`, or a new generated one
/// (remembered at once).
pub fn stored_name() -> String {
    let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    let saved = storage
        .as_ref()
        .and_then(|s| s.get_item(NAME_KEY).ok().flatten())
        .and_then(|n| crate::names::validate_name(&n, crate::names::MAX_NAME_CHARS).ok());
    match saved {
        Some(n) => n,
        None => {
            let r = (js_sys::Math::random() * 2f64.powi(52)) as u64;
            let n = crate::names::generate_name(r);
            remember_name(&n);
            n
        }
    }
}

/// Remembers `name` in `localStorage` (ignored when storage is unavailable).
pub fn remember_name(name: &str) {
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item(NAME_KEY, name);
    }
}

/// `localStorage` key of the host secret of session `id`.
fn host_key(id: &str) -> String {
    format!("{HOST_STORAGE_PREFIX}{id}")
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// 32 random hex digits (`crypto.getRandomValues`, else `Math.random`).
fn random_hex() -> String {
    let bytes = js_sys::Uint8Array::new_with_length(KEY_BYTES as u32);
    let filled = web_sys::window()
        .and_then(|w| Reflect::get(&w, &"crypto".into()).ok())
        .filter(|c| c.is_object())
        .and_then(|c| {
            let f = Reflect::get(&c, &"getRandomValues".into()).ok()?;
            let f: &js_sys::Function = f.dyn_ref()?;
            f.call1(&c, &bytes).ok()
        })
        .is_some();
    if !filled {
        for i in 0..KEY_BYTES as u32 {
            bytes.set_index(i, (js_sys::Math::random() * 256.0) as u8);
        }
    }
    bytes.to_vec().iter().map(|b| format!("{b:02x}")).collect()
}

/// The host secret this browser keeps for session `id`, if any.
pub fn host_secret(id: &str) -> Option<String> {
    storage()
        .and_then(|s| s.get_item(&host_key(id)).ok().flatten())
        .filter(|k| crate::rights::is_valid_key(k))
}

/// The private key this browser presents for session `id`: the session's host secret when it
/// has one, else this browser's own key (generated once and remembered). Without storage a key
/// for this page only.
pub fn session_key(id: &str) -> String {
    if let Some(secret) = host_secret(id) {
        return secret;
    }
    let storage = storage();
    let saved = storage
        .as_ref()
        .and_then(|s| s.get_item(KEY_KEY).ok().flatten())
        .filter(|k| crate::rights::is_valid_key(k));
    saved.unwrap_or_else(|| {
        let key = random_hex();
        if let Some(s) = storage {
            let _ = s.set_item(KEY_KEY, &key);
        }
        key
    })
}

/// Takes a host secret from the address (`/s/<id>#host=<secret>`, the redirect after creating
/// a session or a saved host link): keeps it for session `id` and removes the fragment from
/// the address (`history.replaceState`), so the share link and the history never carry it.
pub fn take_host_fragment(id: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let hash = location.hash().unwrap_or_default();
    let Some(secret) = hash.strip_prefix(HOST_FRAGMENT) else {
        return;
    };
    if crate::rights::is_valid_key(secret) {
        if let Some(s) = storage() {
            let _ = s.set_item(&host_key(id), secret);
        }
    }
    // `history.replaceState(null, "", path + query)` without the fragment.
    let url = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    if let Ok(history) = Reflect::get(&window, &"history".into()) {
        if let Some(f) = Reflect::get(&history, &"replaceState".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        {
            let _ = f.call3(&history, &JsValue::NULL, &"".into(), &url.into());
        }
    }
}
