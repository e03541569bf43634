//! Drift correction while playing: measure this viewer's error against the session, decide
//! between doing nothing, a playback-rate pulse and a compensated seek.
//!
//! * Error samples (`player position - target`, seconds, + = ahead) are collected once per poll
//!   (at a varying phase of it) while the player plays undisturbed; the robust trend over the
//!   last [`MAX_SAMPLES`] ([`super::fit`]) gives the error *now* (late readings and reading
//!   steps filtered out) and its slope (the player's media clock running fast or slow).
//! * Inside the dead band nothing happens: ±[`DEADBAND`], widened to
//!   [`super::fit::NOISE_FACTOR`] times the reading noise when the player's readings are noisy
//!   (at most [`super::fit::MAX_DEADBAND`]). Beyond it a **rate pulse** runs the
//!   player at the nearest supported rate above/below the session rate for exactly as long as it
//!   takes to cancel the error (`|error| / |rate - base|`), then restores the base rate. A pulse
//!   is aimed at zero, so there is nothing to overshoot: no oscillation. After a pulse the
//!   samples are discarded and the player must settle ([`SETTLE_MS`]) and be measured again
//!   ([`MIN_PULSE_SAMPLES`]) before the next decision (hysteresis in time).
//! * A player whose media clock is skewed drifts steadily; then the pulse is triggered at half
//!   the dead band in the drift's direction and aimed half a band past zero, so the error swings
//!   symmetrically within half a band either side instead of a `0..band` sawtooth.
//! * Errors beyond [`SEEK_THRESHOLD`] (a stall, a tab that slept) are fixed by a seek to
//!   `target + L`, where `L` is this player's seek-to-playing latency, learned from the error
//!   that remains after each of its own seeks while playing: the median of the last
//!   [`LATENCY_WINDOW`] measurements (the first replaces the guess; one odd landing does not
//!   move it). How widely they vary is the player's *landing spread*
//!   ([`Drift::landing_spread`]): no seek can land closer than that.
//! * Rates are only used when the player confirmed them (`onPlaybackRateChange`); if a pulse is
//!   not confirmed within [`RATE_CONFIRM_MS`], or the player offers no rate near the session's
//!   (`getAvailablePlaybackRates()` = `[1]`), the player is **rate-locked** ([`RateControl`]).
//! * A rate-locked player is corrected by seeks only, aimed ahead by the learned seek latency:
//!   errors beyond [`SEEK_ONLY_THRESHOLD`] at once (two agreeing readings, a stall), smaller ones
//!   only on the estimate from at least [`LOCKED_MIN_SAMPLES`] readings and never sooner than
//!   [`LOCKED_GAP_MS`] after the previous one. In steady play the trigger is [`LOCKED_BAND`], the
//!   noise band or the landing spread, whichever is widest (a landing inside it is kept: no
//!   seek chases the seek's own imprecision), with a back-off doubled after each seek that did
//!   not land inside it. A skewed clock (this window's slope, or the drift learned over many
//!   windows, [`Drift::learned_drift`]: a noisy player's drift shows only over several) is let
//!   drift to [`LOCKED_SKEW_BAND`], judged one poll ahead, then sent to the far side of zero by
//!   that band less the landing spread: the saw-tooth is centred, as long as the band allows, and
//!   no landing falls outside it.
//! * The reading noise is remembered across resets (it is the player's, not the moment's), so
//!   the first readings after a correction are judged with the noise the player is known to have.
//!
//! * A real decoder's pulses land within a few ms of their aim, by chance: a landing outside the
//!   dead band is retried, at once twice, then after a doubling back-off ([`retry`]); an error
//!   ahead smaller than the least slow-down pulse's move takes a *blip*, a short speed-up pulse
//!   whose jump moves such a decoder back ([`super::pulse_lag::BLIP_MS`]).
//! * The widget's reports reach the page every 250 ms (later on a busy page), so a pulse's
//!   last jump can show in the readings after its settle: a step within
//!   [`LATE_JUMP_WATCH_MS`] of a pulse, on a quiet player, drops the readings before it (read as
//!   the error, they made a player look ahead and a lag measure tens of ms off).
//! * A fast clock on such a decoder is held by blips too: the least slow-down pulse moves it
//!   ~24 ms, so a saw-tooth of those was ±12 ms wide; a blip moves it ~5 ms. The next blip is
//!   decided on [`SKEW_BLIP_SAMPLES`] readings, after [`BLIP_SETTLE_MS`], along the drift learned
//!   over many windows (a quiet player's long windows weigh no more than short ones:
//!   [`QUIET_SPREAD_CAP`]), so that blips keep up with ~10 ms a second; when they fall behind,
//!   the least slow-down pulse takes it back. A drift under [`SKEW_BLIP_MIN`] is left to the
//!   pulses (a few windows' false drift must not start a train of blips).
//!
//! Here: the controller's state, its samples, fit and learning; the decision of a player that
//! honours rates in [`decide`], a rate-locked player's in [`locked`], a pulse's life in
//! [`pulses`], what it learns from its own seeks and pulses in [`learning`], the clock's drift
//! rate in [`drift_rate`], the retry of a missed landing in [`retry`].

use std::collections::VecDeque;

use super::fit::{
    band_for, error_with_slope, fit_error_with, level_shift, median, ErrorFit, DEADBAND, NOISY,
    SLOPE_SIGMAS,
};
use super::pulse_lag::{is_blip, PulseLag, BLIP_MS, SPREAD_MIN};

/// A slope beyond this (s/s, i.e. 3 ms per second) counts as a skewed media clock.
pub const SKEW_SLOPE: f64 = 0.003;
/// A skewed clock's pulse aims past zero by its drift over this long (s; at most the band):
/// half the time from one pulse decision to the next (settling and fresh samples), so the
/// error sweeps evenly either side of zero.
pub const SKEW_AIM_S: f64 = 0.35;
/// Smallest dead band of a skewed clock (s): it sweeps ± half of it between pulses, so that a
/// 1 % fast clock is pulsed about once a second, not on every poll.
pub const SKEW_BAND: f64 = 0.004;
/// Errors beyond this are corrected by a seek when rate pulses are available (s). Smaller ones
/// take a pulse of at most 4 s at ±0.25.
pub const SEEK_THRESHOLD: f64 = 1.0;
/// Errors beyond this are corrected by a seek when no rate pulse is possible (s), after two
/// agreeing readings (a stall, a tab that slept).
pub const SEEK_ONLY_THRESHOLD: f64 = 0.25;
/// A rate-locked player in steady play is corrected by a seek when its estimated error exceeds
/// this (or the noise band, or its landing spread, if wider), s.
pub const LOCKED_BAND: f64 = 0.020;
/// A rate-locked player with a skewed media clock is let drift up to this (or the noise band,
/// if wider) before a seek, s; the seek lands on the far side of zero by this band less the
/// learned landing spread, so the saw-tooth is centred and no landing passes the band.
pub const LOCKED_SKEW_BAND: f64 = 0.035;
/// Largest drift (s/s) a window's slope is believed as when a pulse is measured: 2 %, twice
/// the skew the suite gives a clock.
pub const MAX_DRIFT: f64 = 0.02;
/// Weight kept of the drift rate learned so far when another window of samples is folded in
/// (about the last ten windows count).
pub const DRIFT_MEMORY: f64 = 0.9;
/// Largest time spread (s, see [`super::fit::ErrorFit::time_spread`]) a quiet player's window
/// weighs in the learned drift with: a window of [`MIN_PULSE_SAMPLES`] at the 100 ms poll.
pub const QUIET_SPREAD_CAP: f64 = 0.32;
/// The learned drift rate counts when it is this many standard errors from zero (windows are
/// independent, unlike the samples of one window, so fewer than [`super::fit::NOISY_SLOPE_SIGMAS`]).
pub const DRIFT_SIGMAS: f64 = 4.0;
/// How many of a long quiet window's standard errors its slope must be from the learned drift
/// for that drift to be forgotten ([`Drift::observe`]).
pub const STALE_DRIFT_SIGMAS: f64 = 4.0;
/// How far ahead (s) a drifting rate-locked player's error is judged: one poll, so the seek
/// comes before the band is crossed, not after.
pub const LOCKED_LEAD_S: f64 = 0.1;
/// Readings (after settling) that a rate-locked player's small-error seek is decided on.
pub const LOCKED_MIN_SAMPLES: usize = 15;
/// Least time between two small-error corrective seeks of a rate-locked player (ms); doubled
/// for every consecutive seek that did not land within the band (up to [`LOCKED_MAX_GAP_MS`]).
pub const LOCKED_GAP_MS: f64 = 1_000.0;
/// Longest back-off between small-error corrective seeks (ms).
pub const LOCKED_MAX_GAP_MS: f64 = 32_000.0;
/// Weight of a new full-window noise measurement in the remembered reading noise (it rises at
/// once, falls slowly).
pub const NOISE_DECAY: f64 = 0.02;
/// Samples needed before a pulse decision.
pub const MIN_PULSE_SAMPLES: usize = 5;
/// Errors beyond this (s) are pulsed after two agreeing samples already (a joiner or a stalled
/// viewer converges sooner; the fine-tuning pulse after it uses the full fit).
pub const FAST_PULSE_ERROR: f64 = 0.05;
/// Samples needed before a seek decision (a stalled viewer catches up quickly).
pub const MIN_SEEK_SAMPLES: usize = 2;
/// Samples kept for the line fit (two seconds at the 100 ms poll).
pub const MAX_SAMPLES: usize = 20;
/// Samples are ignored for this long after a pulse, a seek or a resume (ms).
pub const SETTLE_MS: f64 = 200.0;
/// Samples are ignored for this long after a pulse ends on a player with a pulse lag (ms): on a
/// real decoder the way back to the base rate reaches the clock ~100 ms later and the clock
/// jumps then (up to ~130 ms after a short slow-down pulse, `end2end/media/decoder.mjs`); a
/// window that straddles the jump measures the pulse wrong (a 24 ms pulse read as a +119 ms
/// lag).
pub const PULSE_SETTLE_MS: f64 = 300.0;
/// For this long after a pulse ends on a real decoder (ms), a step in a quiet player's readings
/// is the pulse's jump reported late, and the readings before it are dropped: the widget's
/// reports come every 250 ms (later on a busy page) and the way back's jump reaches the clock
/// up to ~130 ms after the pulse, so the first readings after [`PULSE_SETTLE_MS`] can still be
/// the extrapolation of a report from before it. Read as the error, they made a player look
/// several ms ahead (the window's upper envelope) and a lag measured tens of ms off.
pub const LATE_JUMP_WATCH_MS: f64 = 600.0;
/// Least step (s) between two readings that counts as a late-reported jump (or 4x the known
/// reading noise, if larger).
pub const LATE_JUMP_MIN: f64 = 0.002;
/// Before its noise is measured, a player whose last [`MIN_PULSE_SAMPLES`] readings after a
/// reset were within this (s RMS) counts as quiet for [`LATE_JUMP_WATCH_MS`] (a late-reading
/// player's are not: its steps are its readings' own).
pub const QUIET_SHORT: f64 = 0.001;
/// Samples are ignored for this long after a fast clock's blip ends (ms): its two rate
/// changes reach a real decoder's clock ~100 ms after each (Chromium, `decoder.mjs`), the last
/// one ~140 ms after the blip ends; the next blip can then come [`SKEW_BLIP_SAMPLES`] polls on.
pub const BLIP_SETTLE_MS: f64 = 180.0;
/// A pulse's rate must be confirmed by the player within this time (ms).
pub const RATE_CONFIRM_MS: f64 = 1_000.0;
/// First guess of the seek-to-playing latency (s).
pub const INITIAL_SEEK_LATENCY: f64 = 0.2;
/// Longest seek latency believed (s).
pub const MAX_SEEK_LATENCY: f64 = 2.5;
/// Latency measurements kept: the learned latency is their median (the first measurement
/// replaces the guess; one odd landing does not move it).
pub const LATENCY_WINDOW: usize = 7;
/// Assumed half-width of a seek's landing (s) until [`LATENCY_WINDOW`] / 2 measurements tell.
pub const LANDING_SPREAD_GUESS: f64 = 0.020;
/// Longest single pulse (ms).
pub const MAX_PULSE_MS: f64 = 5_000.0;
/// Shortest pulse when its direction's learned lag is negative (s), a frame: a pulse planned
/// shorter (an error smaller than the pulse's own jump) is made this long, see
/// [`Drift::decide`]. On Chromium a 0.75 pulse of 16 ms moved the clock −21 ms in some runs and
/// not at all in others (`end2end/media/decoder.mjs`): one that did nothing is simply decided
/// again. (40 ms, which always moved it −30 ms, made the modelled players with late readings
/// and a real decoder's 1 % fast clock worse in the simulation: a wider saw-tooth.)
pub const MIN_PULSE_S: f64 = 0.016;
/// An error a pulse cannot fix alone (the least pulse moves the player past zero, then a
/// pulse the other way brings it back) is left when within this share of the least pulse's
/// move: the two pulses land no closer (a real decoder's pulses land within ±25 % of their
/// plan).
pub const COMBO_REACH: f64 = 0.25;
/// A blip ([`BLIP_MS`]) is considered for an error ahead only where the least slow-down pulse
/// moves the player this far (s): a real decoder's jump (Chromium's ~24 ms), not a lag learned
/// from a noisy player's readings.
pub const BLIP_WORTH: f64 = 0.012;
/// Least error ahead (s) a blip is first tried on, to learn what it does: one it could help
/// (Chromium's moves it 5 ms back).
pub const BLIP_TRY: f64 = 0.003;
/// How far ahead (s) a fast clock's error is judged for a blip ([`Drift::decide`]): a blip
/// reaches a real decoder's clock ~100 ms after it starts and lasts [`BLIP_MS`].
pub const BLIP_LEAD_S: f64 = 0.15;
/// Least drift (s/s) a clock is held by blips at: half the 1 % the suite gives a clock. A
/// slower one is pulsed every few seconds as before.
pub const SKEW_BLIP_MIN: f64 = 0.005;
/// Readings (after settling) a fast clock's next blip is decided on, along its learned drift
/// ([`Drift::decide`]): the cycle from blip to blip is then ~0.6 s, not ~0.8.
pub const SKEW_BLIP_SAMPLES: usize = 3;
/// A player's first slow-down pulse at least this long (s), planned before any of its lags is
/// known, is shortened to [`FIRST_SLOW_SHARE`] of it: it falls short on a modelled player and
/// lands near zero on a real decoder (whose slow-down pulses move ~25 ms further), where the
/// full one overshot and the pulse back, planned on a guess, overshot again.
pub const FIRST_SLOW_MIN_S: f64 = 0.25;
/// See [`FIRST_SLOW_MIN_S`].
pub const FIRST_SLOW_SHARE: f64 = 0.8;
/// Landings outside the dead band (but within the pulses' landing spread) retried at once:
/// a real decoder's pulse lands by chance within a few ms of its aim, so a second try usually
/// lands where the first did not.
pub const FREE_RETRIES: u32 = 2;
/// Wait before the next retry after [`FREE_RETRIES`] missed landings (ms), doubled for every
/// further miss up to [`LOCKED_MAX_GAP_MS`]: a player whose pulses cannot land within the band
/// makes a few corrections a minute at first, then one every half minute.
pub const RETRY_GAP_MS: f64 = 2_000.0;

/// Whether this player honours the rates used for pulses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateSupport {
    /// Not tried yet.
    Unknown,
    /// A pulse at `rate` was started; confirmation due by `until` (client ms).
    Probing {
        /// The rate asked for.
        rate: f64,
        /// Deadline.
        until: f64,
    },
    /// The player applied a pulse rate.
    Confirmed,
    /// The player ignored or rounded away the pulse rate.
    Unavailable,
}

/// How this player's drift is corrected: the status the badge and the viewer list show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateControl {
    /// No pulse needed or tried yet.
    Unknown,
    /// The player applied a pulse rate: sub-frame corrections by rate pulses.
    Pulses,
    /// The player offers or honours no rate near the session's: corrections are seeks only,
    /// so it may stay up to [`LOCKED_BAND`] (about a frame) from the others.
    Locked,
}

impl RateControl {
    /// The `data-rate-control` value (`unknown` / `pulses` / `locked`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Pulses => "pulses",
            Self::Locked => "locked",
        }
    }
}

/// A pending latency measurement after one of our seeks.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Learn {
    /// Seconds added to the target.
    used: f64,
    /// A rate-locked small-error seek: a landing beyond ± this (s) counts as a miss and
    /// lengthens the back-off.
    miss_beyond: Option<f64>,
    /// The first start of a video (it loads the video, so it is slower than later seeks):
    /// only an upper bound, lowering the first guess, never a measurement.
    bound_only: bool,
}

/// What the drift controller wants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Correction {
    /// Within tolerance (or still measuring).
    None,
    /// Run at `rate` for `duration_ms`, then restore the base rate.
    Pulse {
        /// Rate for the pulse.
        rate: f64,
        /// How long (ms).
        duration_ms: f64,
    },
    /// Seek to the target plus the returned compensation (s).
    Seek {
        /// Seconds to add to the target (the learned seek latency times the rate, plus the
        /// error aimed at).
        compensation: f64,
    },
    /// A rate-locked player's small-error seek: to the target plus `compensation`, aiming at
    /// an error of `aim` (s).
    LockedSeek {
        /// Seconds to add to the target.
        compensation: f64,
        /// The error the seek aims at (past zero against a skewed clock's drift, else 0).
        aim: f64,
        /// A landing beyond ± this (s) is a miss (the band this decision keeps to).
        miss_beyond: f64,
    },
}

/// A pulse in progress.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pulse {
    /// Rate being played.
    pub rate: f64,
    /// Client ms at which the base rate must be restored.
    pub end: f64,
}

/// The drift controller's state.
#[derive(Clone, Debug)]
pub struct Drift {
    samples: VecDeque<(f64, f64)>,
    settle_until: f64,
    /// Until when (client ms) a step in the readings is taken as a pulse's late-reported jump
    /// ([`LATE_JUMP_WATCH_MS`]).
    late_jump_until: f64,
    /// Whether the reading noise was measured yet (a half window of readings), and before
    /// that, whether the last window's first [`MIN_PULSE_SAMPLES`] readings were quiet.
    noise_measured: bool,
    short_quiet: bool,
    pulse: Option<Pulse>,
    base_rate: f64,
    available: Vec<f64>,
    support: RateSupport,
    seek_latency: f64,
    latencies: VecDeque<f64>,
    learn: Option<Learn>,
    noise_level: f64,
    misses: u32,
    last_locked_seek: f64,
    drift_weight: f64,
    drift_sum: f64,
    /// What a pulse really does on this player ([`super::pulse_lag`]).
    pulse_lag: PulseLag,
    /// A pulse ended: its landing is checked against the dead band once settled.
    landing_due: bool,
    /// Consecutive landings outside the dead band, and when the next may be retried (client
    /// ms); see [`Drift::may_retry`].
    missed_landings: u32,
    retry_at: f64,
    /// Seeks made on our own to fix drift or a stall.
    pub corrective_seeks: u32,
    /// Rate pulses started.
    pub rate_nudges: u32,
}

impl Default for Drift {
    fn default() -> Self {
        Self::new()
    }
}

impl Drift {
    /// A controller for a player at rate 1 that supports YouTube's usual rates.
    pub fn new() -> Self {
        Self {
            samples: VecDeque::with_capacity(MAX_SAMPLES),
            settle_until: f64::NEG_INFINITY,
            late_jump_until: f64::NEG_INFINITY,
            noise_measured: false,
            short_quiet: false,
            pulse: None,
            base_rate: 1.0,
            available: vec![0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0],
            support: RateSupport::Unknown,
            seek_latency: INITIAL_SEEK_LATENCY,
            latencies: VecDeque::with_capacity(LATENCY_WINDOW),
            learn: None,
            noise_level: 0.0,
            misses: 0,
            last_locked_seek: f64::NEG_INFINITY,
            drift_weight: 0.0,
            drift_sum: 0.0,
            pulse_lag: PulseLag::new(),
            landing_due: false,
            missed_landings: 0,
            retry_at: f64::NEG_INFINITY,
            corrective_seeks: 0,
            rate_nudges: 0,
        }
    }

    /// Discards the samples and ignores new ones until `now + settle_ms` (after anything that
    /// moves the player or the target).
    pub fn reset(&mut self, now: f64, settle_ms: f64) {
        self.harvest_drift();
        self.samples.clear();
        self.settle_until = self.settle_until.max(now + settle_ms);
    }

    /// The session's rate (pulses are relative to it).
    pub fn set_base_rate(&mut self, rate: f64) {
        if rate.is_finite() && rate > 0.0 {
            self.base_rate = rate;
        }
    }

    /// The session's rate as last set.
    pub fn base_rate(&self) -> f64 {
        self.base_rate
    }

    /// `getAvailablePlaybackRates()`; an empty list keeps the default.
    pub fn set_available(&mut self, rates: &[f64]) {
        let mut r: Vec<f64> = rates
            .iter()
            .copied()
            .filter(|r| r.is_finite() && *r > 0.0)
            .collect();
        if r.is_empty() {
            return;
        }
        r.sort_unstable_by(f64::total_cmp);
        self.available = r;
    }

    /// Whether pulses are believed to work.
    pub fn support(&self) -> RateSupport {
        self.support
    }

    /// How drift is corrected on this player (for the badge and the viewer list).
    pub fn rate_control(&self) -> RateControl {
        match self.support {
            RateSupport::Unavailable => RateControl::Locked,
            _ if self.nudge_rates() == (None, None) => RateControl::Locked,
            RateSupport::Confirmed => RateControl::Pulses,
            _ => RateControl::Unknown,
        }
    }

    /// The reading noise remembered for this player (s, RMS).
    pub fn noise_level(&self) -> f64 {
        self.noise_level
    }

    /// The learned seek-to-playing latency (s).
    pub fn seek_latency(&self) -> f64 {
        self.seek_latency
    }

    /// The learned speed-up pulse lag (s): how much of such a pulse a real decoder loses (see
    /// [`super::pulse_lag`]).
    pub fn pulse_lag(&self) -> f64 {
        self.pulse_lag.value()
    }

    /// The learned slow-down pulse lag (s; negative where such a pulse moves the player
    /// further than its length says).
    pub fn pulse_lag_slow(&self) -> f64 {
        self.pulse_lag.slow_value()
    }

    /// How far (s) a seek aimed with the learned latency may land from its aim: the widest
    /// distance of a kept latency measurement from their median, plus a quarter (a few draws
    /// rarely reach the edge of their range), [`LANDING_SPREAD_GUESS`] until there are
    /// [`LATENCY_WINDOW`] / 2 measurements.
    pub fn landing_spread(&self) -> f64 {
        if self.latencies.len() < LATENCY_WINDOW / 2 {
            return LANDING_SPREAD_GUESS;
        }
        let widest = self
            .latencies
            .iter()
            .map(|l| (l - self.seek_latency).abs())
            .fold(0.0, f64::max);
        (1.25 * widest * self.base_rate).clamp(0.005, 0.150)
    }

    /// The pulse in progress.
    pub fn pulse(&self) -> Option<Pulse> {
        self.pulse
    }

    /// The nearest usable rates below and above the base rate (within 0.5 of it).
    pub fn nudge_rates(&self) -> (Option<f64>, Option<f64>) {
        if self.support == RateSupport::Unavailable {
            return (None, None);
        }
        let b = self.base_rate;
        let slow = self
            .available
            .iter()
            .copied()
            .filter(|r| *r < b - 1e-6 && b - *r <= 0.5 + 1e-9)
            .max_by(f64::total_cmp);
        let fast = self
            .available
            .iter()
            .copied()
            .filter(|r| *r > b + 1e-6 && *r - b <= 0.5 + 1e-9)
            .min_by(f64::total_cmp);
        (slow, fast)
    }

    /// Records one error sample (ignored while settling or pulsing).
    pub fn observe(&mut self, now: f64, error: f64) {
        if now < self.settle_until || self.pulse.is_some() || !error.is_finite() {
            return;
        }
        self.drop_stale_before_jump(now, error);
        if self.samples.len() == MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((now, error));
        // The readings before a level shift are the past (see `level_shift`); a noisy player's
        // readings come in runs of lateness, which are no shift.
        if !self.noise_measured || self.noise_level <= NOISY {
            if let Some(k) = level_shift(self.samples.make_contiguous()) {
                self.samples.drain(..k);
            }
        }
        if !self.noise_measured && self.samples.len() == MIN_PULSE_SAMPLES {
            self.short_quiet = self.fit(now).is_some_and(|f| f.noise <= QUIET_SHORT);
        }
        if self.samples.len() >= MAX_SAMPLES / 2 {
            if let Some(f) = self.fit(now) {
                let decayed = (1.0 - NOISE_DECAY) * self.noise_level + NOISE_DECAY * f.noise;
                self.noise_level = decayed.max(f.noise);
                self.noise_measured = true;
                self.forget_stale_drift(&f);
            }
        }
    }

    /// The current smoothed error, if there are samples.
    pub fn fit(&self, now: f64) -> Option<ErrorFit> {
        let v: Vec<(f64, f64)> = self.samples.iter().copied().collect();
        fit_error_with(&v, now, self.noise_level)
    }
}

/// A drift that is the media clock's, not the noise's: steep, significant, long enough.
fn is_skewed(fit: &ErrorFit, noise: f64) -> bool {
    fit.slope.abs() > SKEW_SLOPE && fit.span_ms >= 400.0 && fit.slope_significant(noise)
}

mod decide;
mod drift_rate;
mod learning;
mod locked;
mod pulses;
mod retry;

#[cfg(test)]
mod tests;
