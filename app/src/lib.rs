//! The watch party's Leptos crate: UI components and routes ([`pages`]), server functions
//! ([`api`]), the browser runtime ([`client`]) and the server side of the server functions
//! ([`ssr`]). The rules it shows and drives (protocol, playback, queue, sync engine, ...) live in
//! the Leptos-free `watchparty_core` crate and are re-exported here under their own names.
//!
//! Crate features do the gating: `ssr` (server) adds [`ssr`], the store-facing backend the server
//! functions use; `hydrate` (browser) adds [`client`], the YouTube and WebSocket bindings.

// Server and browser must render the same view structure: see .cargo/config.toml.
#[cfg(not(erase_components))]
compile_error!(
    "build with `--cfg erase_components` (set in .cargo/config.toml; add it to RUSTFLAGS when \
     that is set): the server's HTML and the browser's hydration must agree on it"
);

pub mod api;
pub mod pages;
pub use watchparty_core::{
    chat, health, ids, names, notices, playback, protocol, queue, rights, room, roster, sync, video,
};

#[cfg(feature = "ssr")]
pub mod ssr;

#[cfg(feature = "hydrate")]
pub mod client;

pub mod early;
pub mod lang;
pub mod sentences;

// The translations of app/locales (see `i18n` and `lang`), as the module `i18n_gen::i18n`. The macro form is
// deprecated upstream in favour of a build script, whose build dependencies (ICU's data
// exporter with a wasm runtime and a network client) would cost minutes of every clean build;
// the macro reads the same files with the same checks.
#[allow(deprecated)]
mod i18n_gen {
    leptos_i18n::load_locales!();
}
pub mod i18n;

#[cfg(test)]
mod early_js_tests;
#[cfg(test)]
mod lang_check;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

/// The application: routes and shared chrome.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: the hook the browser tests wait for.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| client::mark_hydrated());
    i18n::provide_i18n();
    view! { <Shell/> }
}

/// The routes and the chrome around them, inside the language context.
#[component]
fn Shell() -> impl IntoView {
    let i18n = i18n::use_i18n();
    view! {
        <Title text="Watch party"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">{move || i18n::t_string!(i18n, common.brand)}</a>
                <lang::LanguageSwitch/>
            </header>
            <main>
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::HomePage/>
                    <Route path=path!("/s/:id") view=pages::SessionPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
