//! Server-only: the backend the server functions use, provided by the server binary as context.

use crate::i18n::I18nLocaleTrait as _;
use crate::ids::{SessionId, VideoId};
use crate::playback::PlaybackState;
use leptos::prelude::*;
use leptos_meta::MetaTags;
use std::sync::Arc;

/// What went wrong in the backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The store could not be reached or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A session as the page sees it on first paint.
#[derive(Clone, Debug)]
pub struct SessionSnapshot {
    /// The authoritative state.
    pub state: PlaybackState,
    /// Server time (ms) when `state` was read.
    pub server_time: f64,
    /// Viewers connected now.
    pub viewers: u32,
}

/// Session operations the server functions need; implemented by the server crate.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Creates a session for `video`, paused at `start` seconds; returns its id and the host
    /// secret (the creator's key for it, see [`crate::rights`]).
    async fn create_session(
        &self,
        video: VideoId,
        start: f64,
    ) -> Result<(SessionId, String), BackendError>;
    /// Loads a session; `None` when it does not exist.
    async fn load_session(&self, id: &SessionId) -> Result<Option<SessionSnapshot>, BackendError>;
}

/// The backend as stored in Leptos context.
pub type SharedBackend = Arc<dyn Backend>;

/// URLs of the built site's script, wasm and stylesheet, with content hashes for caching.
#[derive(Clone, Debug, Default)]
pub struct AssetLinks {
    /// The wasm-bindgen JS module.
    pub js: String,
    /// The wasm module.
    pub wasm: String,
    /// The stylesheet.
    pub css: String,
}

/// The HTML document around the app (server side). Boots the wasm with a CSP nonce.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let links = use_context::<AssetLinks>().unwrap_or_default();
    let nonce = leptos::nonce::use_nonce();
    if let (Some(resp), Some(n)) = (use_context::<leptos_axum::ResponseOptions>(), &nonce) {
        let csp = content_security_policy(&n.to_string(), &options);
        if let Ok(value) = http::HeaderValue::from_str(&csp) {
            resp.insert_header(CSP, value);
        }
    }
    // A session page starts the YouTube IFrame API download, the embed and the session's socket
    // at once, beside the wasm's download, instead of after hydration (`EARLY_PLAYER` below).
    let session = use_context::<http::request::Parts>().and_then(|parts| {
        parts
            .uri
            .path()
            .strip_prefix("/s/")
            .and_then(|id| SessionId::parse(id).ok())
    });
    let session_page = session.is_some();
    let youtube = session.map(|id| {
        view! {
            <link rel="preconnect" href="https://www.youtube.com"/>
            <link rel="preconnect" href="https://i.ytimg.com"/>
            // Data, not code (never run, so no nonce): the values the script shares with Rust.
            <script type="application/json" id=crate::early::CONFIG_ID>{crate::early::config(&id)}</script>
            <script nonce=nonce.clone()>{EARLY_PLAYER}</script>
            <script
                id=crate::video::IFRAME_API_SCRIPT_ID
                src=crate::video::IFRAME_API_URL
                async=""
                nonce=nonce.clone()
            ></script>
        }
    });
    // Elsewhere the wasm is fetched at once. On a session page the boot script fetches it: by
    // then the IFrame API script, which the player waits for, has had the link to itself
    // (docs/benchmarks.md, first load).
    let preload_wasm = (!session_page).then(|| {
        view! {
            <link rel="preload" href=links.wasm.clone() r#as="fetch" r#type="application/wasm" crossorigin=""/>
        }
    });
    let boot = format!(
        "import init, {{ hydrate }} from '{}'; init({{ module_or_path: '{}' }}).then(() => hydrate());",
        links.js, links.wasm
    );
    view! {
        <!DOCTYPE html>
        // The request's language (see `crate::lang`); the browser's hydration reads it back.
        <html lang=crate::lang::request_locale().as_str()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="dark light"/>
                <link rel="icon" href="/favicon.svg" r#type="image/svg+xml"/>
                // Before the stylesheet: an inline script after it would wait for it (and the
                // parser with it), so the embed would start only once the CSS has arrived.
                {youtube}
                <link rel="stylesheet" href=links.css.clone()/>
                <link rel="modulepreload" href=links.js.clone()/>
                {preload_wasm}
                <AutoReload options=options.clone()/>
                <script type="module" nonce=nonce>{boot}</script>
                <MetaTags/>
            </head>
            <body>
                <crate::App/>
            </body>
        </html>
    }
}

/// A session page's head start (issue 15), served with the page's nonce (CSP unchanged): the
/// work a joiner waits for starts while the wasm still downloads, instead of after hydration.
///
/// * **The player**: the embed's iframe is put in the player's box as soon as the parser
///   reaches it, so the embed's own start (its page, its player code, `onReady`: ~0.65 s on a
///   phone) overlaps the IFrame API's download as well as the wasm's; when the API arrives it
///   takes the iframe over (`new YT.Player(iframe)`). The box (`#player`) carries the video and
///   the whole seconds to start at (`data-video`, `data-start`); the iframe is a child of the
///   box, so the box itself hydrates as rendered. The player variables are the app's own
///   ([`crate::video::PLAYER_VARS`]). Until the app adopts it ([`crate::client::yt::YtPlayer::create`] takes
///   `window.__wpEarlyPlayer`), its events are queued in order, and the app replays them.
/// * **The socket** to the session is opened at once with the key the app would present
///   (`client::session_key`, same storage), and its messages are kept with their receive times
///   until the app adopts it (`window.__wpEarlySocket`, taken by the runtime's first
///   connection): the handshake, `hello` and the clock burst are done by then.
/// * **The join** itself: once the player is ready and a pong has measured the clock, the
///   script does what the engine does when a viewer joins a playing room (`apply_state`): seek
///   to the room's position plus the engine's first guess of the start latency, and play; it
///   follows `state` messages (pause, play, seek) until the app takes over. The player's events
///   caused by it are not queued, so the app does not take them for the viewer's. It does
///   nothing else (no correction, no commands): the engine takes over at hydration, finds the
///   player in sync, and keeps it there.
///
/// Every value the script shares with Rust (player variables, key rules and storage names, the
/// subprotocol, the clock burst and estimate, the seek lead, the end margin, the position
/// clamp) comes from the JSON element rendered before it ([`crate::early::config`]); its join
/// math is run in Node against the engine's on the same inputs (`early_js_tests.rs`).
const EARLY_PLAYER: &str = include_str!("early.js");

const CSP: http::HeaderName = http::HeaderName::from_static("content-security-policy");

/// The page's Content-Security-Policy: this origin, the per-response nonce for the boot
/// script, the YouTube IFrame API script and the YouTube iframe only.
///
/// Styles come from this origin only (the hashed stylesheet): no view has a `style` attribute
/// or a `<style>` element, and the IFrame API script styles nothing in this document except
/// through the CSSOM (`element.style.x = ..`), which `style-src` does not govern. A `style`
/// attribute or `<style>` in a view would be refused (a console error fails the browser suite).
pub fn content_security_policy(nonce: &str, options: &LeptosOptions) -> String {
    let reload = if std::env::var("LEPTOS_WATCH").is_ok() {
        format!(" ws://{}:{}", options.site_addr.ip(), options.reload_port)
    } else {
        String::new()
    };
    format!(
        "default-src 'self'; \
         script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval' 'self' https://www.youtube.com https://s.ytimg.com; \
         frame-src https://www.youtube.com https://www.youtube-nocookie.com; \
         img-src 'self' data: https://i.ytimg.com; \
         style-src 'self'; \
         connect-src 'self'{reload}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sets the HTTP status of the response being rendered.
pub fn set_status(status: http::StatusCode) {
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(status);
    }
}
