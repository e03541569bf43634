//! What the page's early script (`early.js`, see `ssr::shell`) shares with the app and the sync
//! engine. The script has no copy of these values: a session page carries them as JSON in
//! `<script type="application/json" id="wp-early">` ([`CONFIG_ID`]), rendered just before the
//! script from the Rust constants ([`config`]); the script reads that element and does nothing
//! without it. `early_js_tests.rs` checks the rendered config, that the script holds none of
//! the values itself, and runs the script's join math in Node against the engine's.
//!
//! The browser storage names are defined here because both the early script (through the
//! config) and the app's own key handling (`client::session_key`) use them.

/// `id` of the JSON element that carries the early script's config.
pub const CONFIG_ID: &str = "wp-early";
/// `localStorage` key of this browser's own private key (see [`crate::rights`]).
pub const KEY_STORAGE: &str = "wp.key";
/// `localStorage` key prefix of a session's host secret (`wp.host.<session id>`).
pub const HOST_STORAGE_PREFIX: &str = "wp.host.";
/// The address fragment that carries a host secret (`/s/<id>#host=<secret>`).
pub const HOST_FRAGMENT: &str = "#host=";
/// Random bytes in a generated private key (written as twice as many hex digits).
pub const KEY_BYTES: usize = 16;

/// The early script's config for the page of session `session`, as JSON text. Holds nothing
/// that could close the `<script>` element it is rendered into (no `<`).
#[cfg(any(feature = "ssr", test))]
pub fn config(session: &crate::ids::SessionId) -> String {
    use crate::rights::{KEY_MAX_LEN, KEY_MIN_LEN};
    use crate::sync as engine;
    let config = serde_json::json!({
        // The page's session (the server renders the script on `/s/<valid id>` only).
        "session": session.as_str(),
        // `[name, value]` pairs in `video::PLAYER_VARS`' order (the embed's URL keeps it).
        "playerVars": crate::video::PLAYER_VARS,
        "wsPath": crate::protocol::WS_PATH,
        "subprotocol": crate::protocol::SUBPROTOCOL,
        "keyProtocolPrefix": crate::protocol::KEY_PROTOCOL_PREFIX,
        // `rights::is_valid_key` as a JavaScript pattern (the Node test checks the two agree).
        "keyPattern": format!("^[A-Za-z0-9_-]{{{KEY_MIN_LEN},{KEY_MAX_LEN}}}$"),
        "keyBytes": KEY_BYTES,
        "keyStorage": KEY_STORAGE,
        "hostStoragePrefix": HOST_STORAGE_PREFIX,
        "hostFragment": HOST_FRAGMENT,
        "pingBurst": engine::PING_BURST,
        "pingGapMs": engine::PING_BURST_GAP_MS,
        "clockWindow": engine::CLOCK_WINDOW,
        "clockBest": engine::CLOCK_BEST,
        "rttRoundingMs": engine::RTT_ROUNDING_MS,
        "seekLead": engine::INITIAL_SEEK_LATENCY,
        "endMargin": engine::END_EPSILON,
        "maxPosition": crate::video::MAX_POSITION,
    });
    config.to_string()
}
