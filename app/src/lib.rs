//! The watch party's shared crate: UI components and routes ([`pages`]), server functions
//! ([`api`]), the wire protocol ([`protocol`]), the authoritative playback rules
//! ([`playback`]), the YouTube link parser ([`video`]) and the client sync logic ([`sync`]).
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
pub mod chat;
pub mod health;
pub mod ids;
pub mod names;
pub mod notices;
pub mod pages;
pub mod playback;
pub mod protocol;
pub mod queue;
pub mod rights;
pub mod room;
pub mod roster;
pub mod sync;
pub mod video;

#[cfg(feature = "ssr")]
pub mod ssr;

#[cfg(feature = "hydrate")]
pub mod client;

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
    view! {
        <Title text="Watch party"/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">"▶ Watch party"</a>
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
