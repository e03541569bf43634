//! Browser-only: YouTube IFrame API bindings ([`yt`]) and the WebSocket sync runtime
//! ([`runtime`]) that drives the pure [`crate::sync::Engine`].

pub mod runtime;
pub mod yt;

pub use runtime::{SyncClient, UiEvent};

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

/// Copies `text` to the clipboard; false when the browser refused.
pub async fn copy_text(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}

/// Selects the text of the input with id `id` (fallback when copying is refused).
pub fn select_input(id: &str) {
    use wasm_bindgen::JsCast;
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
