//! The watch party's rules, with no UI, no I/O and no Leptos: what the server decides and what the
//! browser predicts are the same code, unit- and property-tested natively.
//!
//! - [`protocol`]: every message on the WebSocket, one set of types for server, browser and the
//!   load generator; [`ids`]: session, video and connection ids.
//! - The room's state and its rules, one module each: [`playback`] (the authoritative clock and
//!   the commands that move it), [`queue`], [`rights`] (hosts and co-hosts), [`room`] (the room's
//!   settings), [`together`] and [`ready_skip`] (the room's settings for moving as one, the ready
//!   check and vote to skip), [`roster`] (who is here), [`chat`] (lines and reactions),
//!   [`names`], [`health`] (a viewer's sync state), [`notices`] (what the page tells a viewer),
//!   [`permanent`] (permanent rooms and their short names).
//! - [`video`]: the YouTube link parser and the embed's player variables.
//! - [`sync`]: the browser's sync engine (clock estimate, drift control, ads, pulse lag) and its
//!   closed-loop simulations.
//! - [`room_view`]: the browser's view of its room (roster, rights, queue, chat, reactions,
//!   notices, this viewer's health), a pure state machine beside the sync engine.
//!
//! Imports only go down this list's dependency order (protocol names the others' types; none of
//! them imports protocol back).

pub mod chat;
pub mod health;
pub mod hold;
pub mod ids;
pub mod names;
pub mod notices;
pub mod permanent;
pub mod playback;
pub mod playlist;
pub mod protocol;
pub mod queue;
pub mod ready_skip;
pub mod rights;
pub mod room;
pub mod room_view;
pub mod roster;
pub mod start;
pub mod sync;
pub mod together;
pub mod video;
