//! The watch-party server library: everything but `main`.
//!
//! - [`settings`]: typed settings from `Leptos.toml` and the environment.
//! - [`startup`]: routes, listener, graceful shutdown, [`startup::TestServer`]; [`state`]: the
//!   handlers' shared state.
//! - [`http`]: health, security headers, fallback; [`assets`]: the embedded site;
//!   [`short_names`]: `/r/<name>` of permanent rooms.
//! - [`sessions`]: the session service (store + fan-out) behind the WebSocket handler [`ws`];
//!   [`wire`]: the WebSocket framing (prepared server frames, the client-frame decoder).

pub mod assets;
pub mod clock;
pub mod http;
pub mod hub;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod serve;
pub mod sessions;
pub mod settings;
pub mod short_names;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod store;
pub mod sync_util;
pub mod telemetry;
pub mod wire;
pub mod ws;
