//! Client sync logic as pure functions: clock estimation and the decision of what the player
//! should do. No browser types here, so all of it is unit-tested natively.
//!
//! The browser runtime (`crate::client`) feeds an [`Engine`] with everything it observes (server
//! messages, YouTube player events, a poll of the player every [`TICK_MS`]) together with a fresh
//! [`Reading`] of the player, and executes the [`Action`]s it returns. All decisions are made in
//! server time, estimated by [`ClockEstimator`] from NTP-style ping/pong samples.

pub mod ads;
mod backoff;
mod clock;
mod drift;
mod engine;
mod fit;
pub mod pulse_lag;
pub mod start_latency;
mod stats;

#[cfg(any(test, feature = "sim"))]
pub mod sim;
#[cfg(test)]
mod sim_ads;
#[cfg(test)]
mod sim_concurrent;
#[cfg(test)]
mod sim_hard;
#[cfg(test)]
mod sim_real;
#[cfg(test)]
mod sim_start;
#[cfg(any(test, feature = "sim"))]
pub mod sim_variants;

pub use backoff::Backoff;
pub use clock::{ClockEstimate, ClockEstimator, ClockSample};
pub use drift::{Drift, RateControl};
pub use engine::{Action, ConnStatus, Engine};
pub use fit::{fit_error, ErrorFit};
pub use stats::SyncStats;

// What the page's early script (`app/src/early.js`) shares with the engine: rendered into the
// page from here (`app/src/early.rs`).
pub use clock::{BEST as CLOCK_BEST, RTT_ROUNDING_MS, WINDOW as CLOCK_WINDOW};
pub use drift::INITIAL_SEEK_LATENCY;
pub use engine::{END_EPSILON, PING_BURST, PING_BURST_GAP_MS};

/// How often the runtime polls the player (ms). YouTube has no seek event, so the poll is also
/// how seeks while paused are noticed.
pub const TICK_MS: f64 = 100.0;

/// The YouTube player's state (`YT.PlayerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerState {
    /// -1: nothing loaded yet, or autoplay fell back.
    Unstarted,
    /// 0: reached the end.
    Ended,
    /// 1: playing.
    Playing,
    /// 2: paused.
    Paused,
    /// 3: waiting for data (after a seek, or a stall).
    Buffering,
    /// 5: video cued, not started.
    Cued,
}

impl PlayerState {
    /// Maps a `YT.PlayerState` number; unknown numbers count as unstarted.
    pub fn from_code(code: i32) -> Self {
        match code {
            0 => Self::Ended,
            1 => Self::Playing,
            2 => Self::Paused,
            3 => Self::Buffering,
            5 => Self::Cued,
            _ => Self::Unstarted,
        }
    }

    /// The `YT.PlayerState` number.
    pub fn code(self) -> i32 {
        match self {
            Self::Unstarted => -1,
            Self::Ended => 0,
            Self::Playing => 1,
            Self::Paused => 2,
            Self::Buffering => 3,
            Self::Cued => 5,
        }
    }

    /// Playing or about to play (buffering).
    pub fn is_playing_ish(self) -> bool {
        matches!(self, Self::Playing | Self::Buffering)
    }

    /// Not started yet: position is not meaningful and `seekTo` would start playback.
    pub fn is_fresh(self) -> bool {
        matches!(self, Self::Unstarted | Self::Cued)
    }
}

/// One look at the player, taken by the runtime right before it calls the engine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    /// Client clock (ms) when the reading was taken.
    pub at: f64,
    /// `getPlayerState()`.
    pub state: PlayerState,
    /// `getCurrentTime()`, seconds.
    pub position: f64,
    /// `getPlaybackRate()`.
    pub rate: f64,
    /// `getDuration()`, seconds (0 until known).
    pub duration: f64,
}
