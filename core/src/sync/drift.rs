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

use std::collections::VecDeque;

use super::fit::{
    band_for, error_with_slope, fit_error_with, ErrorFit, DEADBAND, NOISY, SLOPE_SIGMAS,
};
use super::pulse_lag::PulseLag;

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
/// The learned drift rate counts when it is this many standard errors from zero (windows are
/// independent, unlike the samples of one window, so fewer than [`super::fit::NOISY_SLOPE_SIGMAS`]).
pub const DRIFT_SIGMAS: f64 = 4.0;
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
        if self.samples.len() == MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((now, error));
        if self.samples.len() >= MAX_SAMPLES / 2 {
            if let Some(f) = self.fit(now) {
                let decayed = (1.0 - NOISE_DECAY) * self.noise_level + NOISE_DECAY * f.noise;
                self.noise_level = decayed.max(f.noise);
            }
        }
    }

    /// Folds the slope of the samples collected since the last reset into the learned drift
    /// rate, weighted by its precision (many, quiet, long-spanning samples weigh most).
    fn harvest_drift(&mut self) {
        // A quiet pulsed player's short windows (the few readings between two pulses) show its
        // drift too; a noisy one's, or a rate-locked one's (its seeks' landings), need half a
        // window and a second.
        let quiet = self.noise_level <= NOISY && self.rate_control() != RateControl::Locked;
        let (least, span) = if quiet {
            (MIN_PULSE_SAMPLES, 300.0)
        } else {
            (MAX_SAMPLES / 2, 900.0)
        };
        if self.samples.len() < least {
            return;
        }
        let Some(&(last, _)) = self.samples.back() else {
            return;
        };
        let Some(fit) = self.fit(last) else {
            return;
        };
        if fit.span_ms < span || !fit.raw_slope.is_finite() {
            return;
        }
        let noise = fit.noise.max(self.noise_level).max(0.001);
        let weight = (fit.time_spread / noise).powi(2);
        self.drift_weight = DRIFT_MEMORY * self.drift_weight + weight;
        self.drift_sum = DRIFT_MEMORY * self.drift_sum + weight * fit.raw_slope;
    }

    /// The media clock's drift (s/s) learned over many windows of samples (between seeks, pulses
    /// and other resets), when it is beyond [`SKEW_SLOPE`] and significant: a noisy player's
    /// drift that no single window shows.
    pub fn learned_drift(&self) -> Option<f64> {
        if self.drift_weight <= 0.0 {
            return None;
        }
        let rate = self.drift_sum / self.drift_weight;
        let se = self.drift_weight.sqrt().recip();
        let sigmas = if self.noise_level > NOISY {
            DRIFT_SIGMAS
        } else {
            SLOPE_SIGMAS
        };
        (rate.abs() > SKEW_SLOPE && rate.abs() > sigmas * se).then_some(rate)
    }

    /// The clock's drift for measuring a pulse (s/s): this window's raw slope (a drift too small
    /// to count as significant in one window still biases the measurement 4x) when it is one a
    /// media clock can have; else (a real decoder's slow start or a jump inside the window,
    /// tens of ms/s) the drift learned over many windows, or none.
    fn plausible_drift(&self, fit: &ErrorFit) -> f64 {
        if fit.raw_slope.is_finite() && fit.raw_slope.abs() <= MAX_DRIFT {
            fit.raw_slope
        } else {
            self.learned_drift().unwrap_or(0.0)
        }
    }

    /// The current smoothed error, if there are samples.
    pub fn fit(&self, now: f64) -> Option<ErrorFit> {
        let v: Vec<(f64, f64)> = self.samples.iter().copied().collect();
        fit_error_with(&v, now, self.noise_level)
    }

    /// If a latency measurement is due (first settled fit after a corrective seek), folds it
    /// into the EWMA. Returns the new latency when it learned something.
    pub fn learn(&mut self, now: f64) -> Option<f64> {
        self.learn_pulse(now);
        let l = self.learn?;
        let fit = self.fit(now)?;
        let needed = if self.noise_level > NOISY {
            MAX_SAMPLES / 2
        } else {
            MIN_SEEK_SAMPLES
        };
        if fit.samples < needed {
            return None;
        }
        self.learn = None;
        if fit.error.abs() >= SEEK_THRESHOLD {
            // Something else happened (a stall during the seek); not a latency measurement.
            return None;
        }
        if let Some(beyond) = l.miss_beyond {
            if fit.error.abs() > beyond {
                self.misses = (self.misses + 1).min(5);
            } else {
                self.misses = 0;
            }
        }
        let measured = (l.used - fit.error) / self.base_rate.max(0.25);
        if l.bound_only {
            if self.latencies.is_empty() && measured < self.seek_latency {
                self.seek_latency = measured.max(0.0);
                return Some(self.seek_latency);
            }
            return None;
        }
        if self.latencies.len() == LATENCY_WINDOW {
            self.latencies.pop_front();
        }
        self.latencies
            .push_back(measured.clamp(0.0, MAX_SEEK_LATENCY));
        let mut v: Vec<f64> = self.latencies.iter().copied().collect();
        self.seek_latency = median(&mut v);
        Some(self.seek_latency)
    }

    /// The first settled estimate after a completed pulse measures what it did.
    fn learn_pulse(&mut self, now: f64) {
        if self.pulse.is_some() {
            return;
        }
        // As many readings as the next decision needs (it must not come first); an error off
        // by x reads as a lag off by 4x (x / 0.25), so noisy players are left out below.
        let Some(fit) = self.fit(now).filter(|f| f.samples >= MIN_PULSE_SAMPLES) else {
            return;
        };
        if self.blurred() {
            self.pulse_lag.cancel();
        } else {
            let drift = self.plausible_drift(&fit);
            self.pulse_lag.measured(now, fit.error, drift);
        }
    }

    /// Whether a pulse's effect cannot be measured precisely on this player: noisy readings
    /// (4x their imprecision would read as lag). A drifting clock is fine: its slope is taken
    /// out (see [`PulseLag::measured`]).
    fn blurred(&self) -> bool {
        self.noise_level > NOISY
    }

    /// Decides what to do at `now` (the player is playing undisturbed at the base rate).
    pub fn decide(&self, now: f64) -> Correction {
        if self.pulse.is_some() || now < self.settle_until {
            return Correction::None;
        }
        let Some(fit) = self.fit(now) else {
            return Correction::None;
        };
        let (slow, fast) = self.nudge_rates();
        let pulses = slow.is_some() || fast.is_some();
        let seek_at = if pulses {
            SEEK_THRESHOLD
        } else {
            SEEK_ONLY_THRESHOLD
        };
        let compensation = Correction::Seek {
            compensation: self.seek_latency * self.base_rate,
        };
        if fit.samples >= MIN_SEEK_SAMPLES {
            // The latest raw errors all agree: a big error is acted on quickly but never on a
            // single odd reading.
            if self
                .samples
                .iter()
                .rev()
                .take(MIN_SEEK_SAMPLES)
                .all(|s| s.1.abs() > seek_at)
            {
                return compensation;
            }
        }
        let band = band_for(fit.noise.max(self.noise_level));
        if !pulses {
            return self.decide_locked(now, fit, band);
        }
        // Two readings beyond the fast threshold (raised by the player's known noise) agree.
        let quick_at = FAST_PULSE_ERROR + 2.0 * (band - DEADBAND);
        let last2: Vec<f64> = self.samples.iter().rev().take(2).map(|s| s.1).collect();
        let quick = last2.len() == 2
            && last2.iter().all(|e| e.abs() > quick_at)
            && last2[0].signum() == last2[1].signum();
        // A noisy player's estimate needs more readings; so does one whose noise is not known
        // yet (it is measured from half a window on) when these few readings look noisy: on
        // five late readings the estimate can be off by tens of ms, a pulse on it makes the
        // error it then chases, and each pulse discards the samples the noise would have been
        // measured from (a player with 0–40 ms late readings was pulsed ±60 ms for 10 s).
        let min_pulse = if self.noise_level > NOISY || fit.noise > NOISY {
            MAX_SAMPLES / 2
        } else {
            MIN_PULSE_SAMPLES
        };
        if fit.samples < min_pulse && !quick {
            return Correction::None;
        }
        let fit = if fit.samples < min_pulse {
            ErrorFit {
                error: (last2[0] + last2[1]) / 2.0,
                slope: 0.0,
                ..fit
            }
        } else {
            fit
        };
        let (e, drift) = self.pulse_drift(now, &fit, min_pulse);
        let skewed = drift.is_some();
        let slope = drift.unwrap_or(fit.slope);
        let band = self.pulse_band(band, e, drift);
        let trigger = e.abs() > band || (skewed && e * slope > 0.0 && e.abs() > band / 2.0);
        if !trigger {
            return Correction::None;
        }
        // Past zero by half of what the drift adds before the next pulse can come: the
        // saw-tooth is centred on zero.
        let aim = if skewed {
            -slope.signum() * (slope.abs() * SKEW_AIM_S).min(band)
        } else {
            0.0
        };
        let delta = e - aim;
        let rate = if delta > 0.0 { slow } else { fast };
        let Some(rate) = rate else {
            return if e.abs() > SEEK_ONLY_THRESHOLD {
                compensation
            } else {
                Correction::None
            };
        };
        self.plan_pulse(rate, delta, e, slope, skewed)
    }

    /// The error now and the clock's drift for a pulse decision: this window's drift when it
    /// shows one, else the one learned over many windows (a window between two pulses is too
    /// short to show it on its own; the error now is then re-read along it), else none.
    fn pulse_drift(&self, now: f64, fit: &ErrorFit, min_pulse: usize) -> (f64, Option<f64>) {
        if is_skewed(fit, self.noise_level) {
            return (fit.error, Some(fit.slope));
        }
        match self
            .learned_drift()
            .filter(|_| fit.samples >= min_pulse && self.noise_level <= NOISY)
        {
            Some(rate) => {
                let v: Vec<(f64, f64)> = self.samples.iter().copied().collect();
                (
                    error_with_slope(&v, now, rate).unwrap_or(fit.error),
                    Some(rate),
                )
            }
            None => (fit.error, None),
        }
    }

    /// The dead band of a pulse decision on error `e` (s), from the noise band `band`. A
    /// drifting clock sweeps a wider window (every pulse is heard: fewer, longer ones), at least
    /// the saw-tooth the least pulse against the drift makes (a real decoder's slow-down pulse
    /// moves it 24 ms at least: landing on its far side is left alone). A steady one is left
    /// within the landing spread of the pulse that would correct it: no pulse lands closer (a
    /// real decoder's vary by several ms; a modelled player's by 0).
    fn pulse_band(&self, band: f64, e: f64, drift: Option<f64>) -> f64 {
        match drift {
            Some(slope) => {
                let least = self.least_shift(-slope.signum() * 0.25);
                band.max(SKEW_BAND).max(least * 0.6)
            }
            None => {
                let way = if e > 0.0 { -1.0 } else { 1.0 };
                band.max(self.pulse_lag.landing_spread(way * 0.25))
            }
        }
    }

    /// The least a pulse at `rate - base = delta` moves the player (s) when its direction's
    /// lag is negative (it moves further than its length says, so even [`MIN_PULSE_S`] of it
    /// moves it this far); 0 otherwise.
    fn least_shift(&self, delta: f64) -> f64 {
        let lag = self.pulse_lag.value_for(delta);
        if lag < 0.0 {
            delta.abs() * (MIN_PULSE_S - lag)
        } else {
            0.0
        }
    }

    /// The pulse at `rate` that removes `delta` (s, error less aim) from error `e`, on a clock
    /// whose error moves by `slope` (s/s; `skewed` when that is a drift to sweep).
    fn plan_pulse(&self, rate: f64, delta: f64, e: f64, slope: f64, skewed: bool) -> Correction {
        // While pulsing, the error changes by (rate - base) + slope per second.
        let speed = (rate - self.base_rate) + slope;
        let d0 = if speed * delta < 0.0 {
            (delta / speed).abs()
        } else {
            (delta / (rate - self.base_rate)).abs()
        };
        // A real decoder's pulse moves the player further or less far than its length says:
        // the learned lag of this direction (0 on a modelled player).
        let lag = self.pulse_lag.value_for(rate - self.base_rate);
        let duration_s = d0 + lag;
        if lag >= 0.0 || duration_s >= MIN_PULSE_S {
            return Correction::Pulse {
                rate,
                duration_ms: (duration_s * 1000.0).min(MAX_PULSE_MS),
            };
        }
        // Even the shortest pulse this way moves the player past zero (a slow-down pulse's own
        // jump on a real decoder is larger than this error). A steady clock takes it: the
        // pulse the other way that follows is long enough to be planned precisely, so two
        // pulses land it (a short pulse the other way, whose jump would be the correction, was
        // tried: on Chromium 1.25 pulses of 40-100 ms move the player −5 to +6 ms, not as
        // planned). A skewed clock would need that on every sweep: its saw-tooth is made as
        // wide as the least shift instead, centred on zero.
        let least_shift = self.least_shift(rate - self.base_rate);
        if !skewed || (e * delta > 0.0 && e.abs() > least_shift / 2.0) {
            Correction::Pulse {
                rate,
                duration_ms: MIN_PULSE_S * 1000.0,
            }
        } else {
            Correction::None
        }
    }

    /// A rate-locked player's decision for errors below [`SEEK_ONLY_THRESHOLD`]: a seek when
    /// the estimate from many readings is beyond the band and the back-off has passed.
    ///
    /// A steady player is left wherever it landed within ±[`LOCKED_BAND`] (a seek cannot land
    /// more precisely than its buffering varies). A skewed clock drifting away is let go to
    /// ±[`LOCKED_SKEW_BAND`] (judged one poll ahead), then sent to the far side of zero, by the
    /// band less the landing spread: the error sweeps the whole band between two seeks, as
    /// rarely as the band allows, and no landing falls outside it. Drifting back towards zero
    /// after such a landing is left alone.
    fn decide_locked(&self, now: f64, fit: ErrorFit, band: f64) -> Correction {
        if fit.samples < LOCKED_MIN_SAMPLES || now < self.last_locked_seek + LOCKED_GAP_MS {
            return Correction::None;
        }
        // The drift: this window's if it shows one, else the one learned over many windows
        // (with the error re-read along it).
        let (e, slope) = if is_skewed(&fit, self.noise_level) {
            (fit.error, fit.slope)
        } else if let Some(rate) = self.learned_drift() {
            let v: Vec<(f64, f64)> = self.samples.iter().copied().collect();
            (error_with_slope(&v, now, rate).unwrap_or(fit.error), rate)
        } else {
            (fit.error, 0.0)
        };
        let spread = self.landing_spread();
        let (aim, miss_beyond) = if slope != 0.0 {
            // The drift itself sets the pace (one seek per band swept); no back-off, which
            // would only let the error run past the band.
            if e * slope <= 0.0 {
                return Correction::None;
            }
            let reach = band.max(LOCKED_SKEW_BAND);
            if e.abs() + slope.abs() * LOCKED_LEAD_S <= reach {
                return Correction::None;
            }
            (-slope.signum() * (reach - spread).max(0.0), reach)
        } else {
            // A seek cannot land closer than its spread: below that it is pointless.
            let trigger = band.max(LOCKED_BAND).max(spread);
            let gap = LOCKED_GAP_MS * f64::from(1u32 << self.misses.min(5));
            if e.abs() <= trigger || now < self.last_locked_seek + gap.min(LOCKED_MAX_GAP_MS) {
                return Correction::None;
            }
            (0.0, trigger)
        };
        Correction::LockedSeek {
            compensation: self.seek_latency * self.base_rate + aim,
            aim,
            miss_beyond,
        }
    }

    /// Records a rate-locked small-error seek: counted, learned from, and backed off (a landing
    /// beyond ±`miss_beyond` lengthens the back-off of the next steady-play seek).
    pub fn record_locked_seek(&mut self, now: f64, compensation: f64, miss_beyond: f64) {
        self.corrective_seeks += 1;
        self.pulse_lag.cancel();
        self.learn = Some(Learn {
            used: compensation,
            miss_beyond: Some(miss_beyond),
            bound_only: false,
        });
        self.last_locked_seek = now;
        self.reset(now, SETTLE_MS);
    }

    /// Records that a pulse started at `now`.
    pub fn start_pulse(&mut self, now: f64, rate: f64, duration_ms: f64) {
        // What the pulse was decided on: measured against what it did once it is over.
        match self.fit(now) {
            // Only a pulse that works against the error, decided on a quiet window, teaches the
            // lag (a noisy window's error is off by more than the lag is worth).
            Some(f)
                if !self.blurred()
                    && f.noise <= NOISY
                    && f.error * (rate - self.base_rate) <= 0.0 =>
            {
                self.pulse_lag.started(
                    now,
                    f.error,
                    self.plausible_drift(&f),
                    rate - self.base_rate,
                );
            }
            _ => self.pulse_lag.cancel(),
        }
        self.pulse = Some(Pulse {
            rate,
            end: now + duration_ms,
        });
        // A latency measurement still waiting for samples would measure the pulse instead.
        self.learn = None;
        self.harvest_drift();
        self.samples.clear();
        self.rate_nudges += 1;
        if self.support == RateSupport::Unknown {
            self.support = RateSupport::Probing {
                rate,
                until: now + RATE_CONFIRM_MS,
            };
        }
    }

    /// Ends the pulse (if any); returns true when the base rate must be restored.
    pub fn end_pulse(&mut self, now: f64) -> bool {
        if self.pulse.take().is_some() {
            self.pulse_lag.ended(now);
            // A player whose pulses act late (a real decoder) settles longer; a modelled one,
            // whose pulses act at once, is measured again as soon as after anything else.
            let settle = if self.pulse_lag.value() != 0.0 || self.pulse_lag.slow_value() != 0.0 {
                PULSE_SETTLE_MS
            } else {
                SETTLE_MS
            };
            self.reset(now, settle);
            true
        } else {
            false
        }
    }

    /// True when the pulse in progress is due to end.
    pub fn pulse_due(&self, now: f64) -> bool {
        self.pulse.is_some_and(|p| now >= p.end - 1.0)
    }

    /// The player reported a rate change; returns true if it was one of ours (a pulse rate or
    /// the base rate), false for a change somebody made in the player.
    pub fn on_rate_event(&mut self, rate: f64) -> bool {
        let ours_pulse = self.pulse.is_some_and(|p| (p.rate - rate).abs() < 1e-6);
        if let RateSupport::Probing { rate: r, .. } = self.support {
            if (r - rate).abs() < 1e-6 {
                self.support = RateSupport::Confirmed;
                return true;
            }
        }
        if ours_pulse {
            self.support = RateSupport::Confirmed;
            return true;
        }
        let (slow, fast) = self.nudge_rates();
        (rate - self.base_rate).abs() < 1e-6
            // A late confirmation of a pulse that already ended.
            || slow.is_some_and(|s| (s - rate).abs() < 1e-6)
            || fast.is_some_and(|f| (f - rate).abs() < 1e-6)
    }

    /// Checks an outstanding rate probe; returns true when it just failed (rates unusable, the
    /// pulse in progress must be ended).
    pub fn check_probe(&mut self, now: f64) -> bool {
        if let RateSupport::Probing { until, .. } = self.support {
            if now > until {
                self.support = RateSupport::Unavailable;
                return true;
            }
        }
        false
    }

    /// Records a corrective seek with the compensation it used.
    pub fn record_seek(&mut self, now: f64, compensation: f64) {
        self.corrective_seeks += 1;
        self.pulse_lag.cancel();
        self.learn = Some(Learn {
            used: compensation,
            miss_beyond: None,
            bound_only: false,
        });
        self.reset(now, SETTLE_MS);
    }

    /// Records a seek made to apply a state while the player was playing, so its latency is
    /// learned too (without counting it as corrective).
    pub fn record_apply_seek(&mut self, now: f64, compensation: f64) {
        self.pulse_lag.cancel();
        self.learn = Some(Learn {
            used: compensation,
            miss_beyond: None,
            bound_only: false,
        });
        self.reset(now, SETTLE_MS);
    }

    /// Records the seek that starts a video (a first play, or a play after the end): slower
    /// than later seeks (it loads the video), so what it shows only lowers the first guess.
    pub fn record_first_start(&mut self, now: f64, compensation: f64) {
        self.pulse_lag.cancel();
        self.learn = Some(Learn {
            used: compensation,
            miss_beyond: None,
            bound_only: true,
        });
        self.reset(now, SETTLE_MS);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A drift that is the media clock's, not the noise's: steep, significant, long enough.
fn is_skewed(fit: &ErrorFit, noise: f64) -> bool {
    fit.slope.abs() > SKEW_SLOPE && fit.span_ms >= 400.0 && fit.slope_significant(noise)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut Drift, start: f64, n: usize, err: impl Fn(f64) -> f64) -> f64 {
        let mut t = start;
        for _ in 0..n {
            d.observe(t, err(t));
            t += 100.0;
        }
        t - 100.0
    }

    #[test]
    fn inside_the_dead_band_nothing_happens() {
        let mut d = Drift::new();
        let t = feed(&mut d, 0.0, 20, |_| 0.9 * DEADBAND);
        assert_eq!(d.decide(t), Correction::None);
        let mut d = Drift::new();
        let t = feed(&mut d, 0.0, 20, |_| -0.9 * DEADBAND);
        assert_eq!(d.decide(t), Correction::None);
    }

    #[test]
    fn the_band_widens_with_reading_noise() {
        // 15 ms off with ±8 ms reading noise: the band is 3 x 8 ms, nothing to chase.
        let noisy = |t: f64| {
            0.015
                + if (t / 100.0) as i64 % 2 == 0 {
                    0.008
                } else {
                    -0.008
                }
        };
        let mut d = Drift::new();
        let t = feed(&mut d, 0.0, 20, noisy);
        let fit = d.fit(t).unwrap();
        assert!((fit.noise - 0.008).abs() < 0.001, "{fit:?}");
        assert!((fit.band() - 0.024).abs() < 0.003);
        assert_eq!(d.decide(t), Correction::None);
        // The same 15 ms with clean readings is corrected.
        let mut d = Drift::new();
        let t = feed(&mut d, 0.0, 20, |_| 0.015);
        assert!(matches!(d.decide(t), Correction::Pulse { rate, .. } if rate == 0.75));
    }

    #[test]
    fn beyond_the_band_a_pulse_of_exact_length_cancels_the_error() {
        let mut d = Drift::new();
        let t = feed(&mut d, 0.0, 6, |_| 0.040); // 40 ms ahead
        match d.decide(t) {
            Correction::Pulse { rate, duration_ms } => {
                assert_eq!(rate, 0.75);
                assert!((duration_ms - 160.0).abs() < 1.0, "{duration_ms}");
            }
            c => panic!("{c:?}"),
        }
        let mut d = Drift::new();
        let t = feed(&mut d, 0.0, 6, |_| -0.5); // half a second behind
        match d.decide(t) {
            Correction::Pulse { rate, duration_ms } => {
                assert_eq!(rate, 1.25);
                assert!((duration_ms - 2_000.0).abs() < 1.0);
            }
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn large_errors_are_pulsed_after_two_agreeing_samples() {
        let mut d = Drift::new();
        let t = feed(&mut d, 0.0, 2, |_| -0.1);
        match d.decide(t) {
            Correction::Pulse { rate, duration_ms } => {
                assert_eq!(rate, 1.25);
                assert!((duration_ms - 400.0).abs() < 1.0, "{duration_ms}");
            }
            c => panic!("{c:?}"),
        }
        // Two samples that disagree in sign are not trusted.
        let mut d = Drift::new();
        d.observe(0.0, 0.1);
        d.observe(100.0, -0.1);
        assert_eq!(d.decide(100.0), Correction::None);
    }

    #[test]
    fn too_few_samples_wait_and_big_errors_seek_with_latency() {
        let mut d = Drift::new();
        let t = feed(&mut d, 0.0, 2, |_| 0.04);
        assert_eq!(d.decide(t), Correction::None);
        let mut d = Drift::new();
        let t = feed(&mut d, 0.0, 3, |_| -3.0);
        assert_eq!(
            d.decide(t),
            Correction::Seek {
                compensation: INITIAL_SEEK_LATENCY
            }
        );
    }

    #[test]
    fn pulses_need_a_confirmed_rate_else_seeks_take_over() {
        let mut d = Drift::new();
        d.start_pulse(0.0, 0.75, 100.0);
        assert!(matches!(d.support(), RateSupport::Probing { .. }));
        assert!(!d.check_probe(500.0));
        assert!(d.check_probe(1_001.0));
        assert_eq!(d.support(), RateSupport::Unavailable);
        assert_eq!(d.nudge_rates(), (None, None));
        d.end_pulse(1_001.0);
        let t = feed(&mut d, 2_000.0, 6, |_| 0.1);
        assert_eq!(
            d.decide(t),
            Correction::None,
            "100 ms is tolerated without rates"
        );
        let t = feed(&mut d, t + 100.0, 6, |_| 0.3);
        assert!(matches!(d.decide(t), Correction::Seek { .. }));

        let mut d = Drift::new();
        d.start_pulse(0.0, 1.25, 100.0);
        assert!(d.on_rate_event(1.25));
        assert_eq!(d.support(), RateSupport::Confirmed);
        assert!(!d.check_probe(5_000.0));
        assert!(
            !d.on_rate_event(2.0),
            "a rate nobody asked for is the viewer's"
        );
    }

    #[test]
    fn nudge_rates_follow_the_base_and_the_available_list() {
        let mut d = Drift::new();
        assert_eq!(d.nudge_rates(), (Some(0.75), Some(1.25)));
        d.set_base_rate(2.0);
        assert_eq!(d.nudge_rates(), (Some(1.75), None));
        d.set_base_rate(1.0);
        d.set_available(&[1.0]);
        assert_eq!(d.nudge_rates(), (None, None));
    }

    #[test]
    fn seek_latency_is_learned_from_the_residual_error() {
        let mut d = Drift::new();
        d.record_seek(0.0, 0.2);
        assert_eq!(d.corrective_seeks, 1);
        // The player came back 100 ms behind: the real latency was 0.3 s.
        feed(&mut d, 300.0, 3, |_| -0.1);
        let l = d.learn(500.0).unwrap();
        assert!(
            (l - 0.3).abs() < 1e-6,
            "the first measurement replaces the guess: {l}"
        );
        assert!(d.learn(600.0).is_none(), "one measurement per seek");
    }

    #[test]
    fn skewed_clock_triggers_early_and_aims_past_zero() {
        let mut d = Drift::new();
        // 1 % fast: +10 ms per second, now at +3 ms: past half the band in the drift's direction.
        let t = feed(&mut d, 0.0, 10, |t| -0.006 + 0.010 * t / 1000.0);
        match d.decide(t) {
            Correction::Pulse { rate, duration_ms } => {
                assert_eq!(rate, 0.75);
                // Aim past zero by the drift over SKEW_AIM_S (3.5 ms): 6.5 ms to remove at
                // (0.25 - 0.01)/s.
                assert!((duration_ms - 27.1).abs() < 1.5, "{duration_ms}");
            }
            c => panic!("{c:?}"),
        }
    }

    fn locked() -> Drift {
        let mut d = Drift::new();
        d.set_available(&[1.0]);
        d
    }

    #[test]
    fn a_rate_locked_player_keeps_a_landing_inside_the_band() {
        let mut d = locked();
        let t = feed(&mut d, 0.0, 20, |_| 0.015);
        assert_eq!(d.decide(t), Correction::None);
        let mut d = locked();
        let t = feed(&mut d, 0.0, 20, |_| -0.025);
        assert_eq!(
            d.decide(t),
            Correction::LockedSeek {
                compensation: INITIAL_SEEK_LATENCY,
                aim: 0.0,
                miss_beyond: LOCKED_BAND,
            }
        );
    }

    #[test]
    fn a_rate_locked_skewed_clock_is_sent_past_zero_before_it_leaves_the_band() {
        // 1 % fast: inside the skew band (even 30 ms ahead) nothing happens.
        let mut d = locked();
        let t = feed(&mut d, 0.0, 20, |t| 0.011 + 0.010 * t / 1000.0);
        assert_eq!(d.decide(t), Correction::None);
        // One poll from crossing 35 ms: a seek landing 35 ms less the landing spread (20 ms
        // until measured) behind.
        let mut d = locked();
        let t = feed(&mut d, 0.0, 20, |t| 0.0155 + 0.010 * t / 1000.0);
        match d.decide(t) {
            Correction::LockedSeek {
                compensation,
                aim,
                miss_beyond,
            } => {
                assert!((aim + 0.015).abs() < 1e-9, "{aim}");
                assert!((compensation - (INITIAL_SEEK_LATENCY - 0.015)).abs() < 1e-9);
                assert_eq!(miss_beyond, LOCKED_SKEW_BAND);
            }
            c => panic!("{c:?}"),
        }
        // Drifting back towards zero after such a landing is left alone.
        let mut d = locked();
        let t = feed(&mut d, 0.0, 20, |t| -0.045 + 0.010 * t / 1000.0);
        assert_eq!(d.decide(t), Correction::None);
    }

    #[test]
    fn a_drift_no_window_shows_is_learned_over_many() {
        // 1 % fast read with ±12 ms of noise: one 2 s window cannot tell the slope from noise.
        let noisy = |t: f64| {
            let k = (t / 100.0).round() as i64;
            0.010 * (t % 2_000.0) / 1000.0 + if k % 2 == 0 { 0.012 } else { -0.012 }
        };
        let mut d = locked();
        let mut t = 0.0;
        t = feed(&mut d, t, 20, noisy);
        assert_eq!(d.fit(t).map(|f| f.slope), Some(0.0));
        assert_eq!(d.learned_drift(), None);
        for _ in 0..10 {
            d.reset(t, 0.0);
            t = feed(&mut d, t + 100.0, 20, noisy);
        }
        let rate = d.learned_drift().expect("learned");
        assert!((rate - 0.010).abs() < 0.003, "{rate}");
        // A steady noisy player teaches no drift.
        let mut d = locked();
        let mut t = 0.0;
        for _ in 0..10 {
            t = feed(&mut d, t + 100.0, 20, |t| {
                noisy(t) - 0.010 * (t % 2_000.0) / 1000.0
            });
            d.reset(t, 0.0);
        }
        assert_eq!(d.learned_drift(), None);
    }

    #[test]
    fn the_first_start_only_lowers_the_latency_guess() {
        let mut d = Drift::new();
        d.record_first_start(0.0, 0.2);
        // Landed 60 ms ahead: the start took 140 ms, less than the 200 ms guess.
        feed(&mut d, 300.0, 3, |_| 0.06);
        let l = d.learn(500.0).unwrap();
        assert!((l - 0.14).abs() < 1e-9, "{l}");
        // A slow first start (it loads the video) does not raise it.
        let mut d = Drift::new();
        d.record_first_start(0.0, 0.2);
        feed(&mut d, 300.0, 3, |_| -0.5);
        assert_eq!(d.learn(500.0), None);
        assert_eq!(d.seek_latency(), INITIAL_SEEK_LATENCY);
    }
}
