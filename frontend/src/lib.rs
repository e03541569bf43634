//! The wasm entry point: hydrates the server-rendered page. All UI code lives in `app`.

/// Called by the boot script once the wasm module is instantiated.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
