//! The numbers the sync client exposes (badge, `window.__watchparty`; see docs/test-hooks.md).

use super::RateControl;

/// A snapshot of the sync client, refreshed on every tick.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncStats {
    /// `connecting` / `live` / `reconnecting` / `offline`.
    pub status: &'static str,
    /// This connection's id (0 before the first `Hello`).
    pub conn_id: u64,
    /// The authoritative revision last seen.
    pub revision: u64,
    /// Estimated server minus client clock (ms).
    pub offset_ms: f64,
    /// Lowest round trip in the clock window (ms).
    pub rtt_ms: f64,
    /// This viewer's distance from the session (ms, + = ahead), once measurable.
    pub error_ms: Option<f64>,
    /// Seeks made on our own to fix drift or a stall.
    pub corrective_seeks: u32,
    /// Rate pulses started.
    pub rate_nudges: u32,
    /// `YT.PlayerState` number of the last reading (-1 before the player is ready).
    pub player_state: i32,
    /// Where the session is now (s).
    pub target_position: f64,
    /// The room's playback rate (1 before the first state).
    pub room_rate: f64,
    /// The last thing the client did (for humans and tests).
    pub last_action: String,
    /// Learned seek-to-playing latency (ms).
    pub seek_latency_ms: f64,
    /// Viewers in the session.
    pub viewers: u32,
    /// How drift is corrected on this player: `Locked` = seeks only (a rate-locked player, up
    /// to about a frame from the others). For the badge and the viewer list.
    pub rate_control: RateControl,
    /// The player's reading noise as measured (ms, RMS).
    pub reading_noise_ms: f64,
    /// The player is showing an ad (see [`super::ads`]).
    pub in_ad: bool,
    /// The learned pulse lag (ms; see [`super::pulse_lag`]).
    pub pulse_lag_ms: f64,
    /// The learned slow-down pulse lag (ms; negative on a real decoder, see
    /// [`super::pulse_lag`]).
    pub pulse_lag_slow_ms: f64,
    /// The learned start latency (ms; see [`super::start_latency`]).
    pub start_latency_ms: f64,
    /// The last scheduled start's error at its first settled reading (ms, + = ahead).
    pub start_error_ms: Option<f64>,
    /// Scheduled starts measured.
    pub starts: u32,
    /// The start need last computed (ms; see `crate::start`).
    pub start_need_ms: f64,
    /// The last [`RECENT_CAP`] things this client saw and did, oldest first: the player's
    /// state events (and whether they were expected), the commands it sent, and each new
    /// `last_action`; each stamped with client ms. For failure messages: a test that fails
    /// once shows what led up to it.
    pub recent: Vec<String>,
}

/// How many entries [`SyncStats::recent`] keeps.
pub const RECENT_CAP: usize = 16;

impl SyncStats {
    /// Adds `what` (at client ms `now`) to [`SyncStats::recent`], dropping the oldest.
    pub fn note(&mut self, now: f64, what: impl std::fmt::Display) {
        if self.recent.len() >= RECENT_CAP {
            self.recent.remove(0);
        }
        self.recent.push(format!("{now:.0} {what}"));
    }
}

impl Default for SyncStats {
    fn default() -> Self {
        Self {
            status: "connecting",
            conn_id: 0,
            revision: 0,
            offset_ms: 0.0,
            rtt_ms: 0.0,
            error_ms: None,
            corrective_seeks: 0,
            rate_nudges: 0,
            player_state: -1,
            target_position: 0.0,
            room_rate: 1.0,
            last_action: "none".to_owned(),
            seek_latency_ms: 0.0,
            viewers: 0,
            rate_control: RateControl::Unknown,
            reading_noise_ms: 0.0,
            in_ad: false,
            pulse_lag_ms: 0.0,
            pulse_lag_slow_ms: 0.0,
            start_latency_ms: super::start_latency::GUESS_MS,
            start_error_ms: None,
            starts: 0,
            start_need_ms: 0.0,
            recent: Vec::new(),
        }
    }
}
