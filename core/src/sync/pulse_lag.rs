//! What a rate pulse really does on a real decoder, learned per player and per direction
//! (issue 25).
//!
//! On a modelled player a pulse at `base ± 0.25` for `d` seconds moves the position by exactly
//! `± 0.25 d`. On a real `<video>` it does not. Measured in Chromium with the real-media clip
//! (`end2end/media/decoder.mjs`), a rate change reaches the media clock about 100 ms late, and
//! the clock jumps back when it does, so every pulse, whichever its direction, also moves the
//! position by about −20 ms (±5):
//! - pulses of 100, 200 and 300 ms at 1.25 moved it by +2..+6, +33..+37 and +49..+51 ms instead
//!   of 25, 50 and 75 (one of 40 ms moved it *back* by 5 ms);
//! - pulses of 16, 40, 100, 200 and 300 ms at 0.75 moved it by −21, −30, −43..−49, −67..−73 and
//!   −99..−105 ms instead of −4, −10, −25, −50 and −75.
//!
//! In the terms of a pulse's length, `moved = (rate - base) (d - lag)`: a speed-up pulse acts
//! as if `lag` ≈ +80 ms shorter, a slow-down pulse as if ≈ 80 ms *longer* (lag ≈ −80 ms). One
//! lag for both directions (the first model) made every slow-down pulse overshoot by ~40 ms:
//! the −40 ms jumps and the pulse back that the real-media runs showed. So each direction keeps
//! its own lag.
//!
//! Each completed pulse is a measurement: the error before it (`e0`, with the slope of a
//! skewed clock), the error measured once settled after it (`e1`), and the planned change give
//! `lag = d - (e1 - e0 - slope·t) / (rate - base)`. The lag used for the next pulses of that
//! direction is the median of its last [`LAG_WINDOW`] measurements (one odd landing does not
//! move it), taken as 0 below [`NEGLIGIBLE`]; a measurement beyond ±[`MAX_LAG`] is rejected,
//! and a speed-up one below 0 counts as 0. A direction not measured yet plans with the other's,
//! negated (0 before any). A pulse is then planned `|error| / 0.25 + lag` long
//! ([`super::drift`]); when that is shorter than a frame (a slow-down pulse for an error smaller
//! than its own jump), a frame-long pulse is used and the pulse back lands it, or, for an error
//! a blip can fix, a blip ([`BLIP_MS`]): a speed-up pulse too short for its rate to count,
//! whose move (back, on a real decoder) is learned on its own. How widely a
//! direction's measurements vary is its *landing spread* ([`PulseLag::landing_spread`]): no
//! pulse can land closer, so no smaller error is pulsed again before its retry is due
//! (`drift/retry.rs`). A modelled player measures 0 both ways
//! and is planned exactly as before.

use std::collections::VecDeque;

use super::fit::median;

/// Measurements kept (their median is the lag).
pub const LAG_WINDOW: usize = 5;
/// Measurements of a direction before its landing spread counts.
pub const SPREAD_MIN: usize = 3;
/// Largest lag believed either way (s): Chromium's is about ±80 ms.
pub const MAX_LAG: f64 = 0.15;
/// A learned lag below this (s) is measurement noise (a modelled player's lag is 0; a real
/// decoder's tens of ms): it is not applied.
pub const NEGLIGIBLE: f64 = 0.010;
/// A speed-up pulse this short (ms) is a *blip*: on a real decoder its rate changes' jump
/// outweighs it, so it moves the player back (Chromium: −5.1 ms in 9 of 12, −8.8 in the rest,
/// `end2end/media/decoder.mjs`), on a modelled player forward by a quarter of it. Its move is
/// learned apart from the lags ([`PulseLag::blip_move`]): a fine step back where the least
/// slow-down pulse moves a real decoder ~24 ms.
pub const BLIP_MS: f64 = 40.0;
/// A pulse whose measured effect is this far (s) from any plausible one was disturbed by
/// something else (a stall, a remote change): not a measurement.
const IMPLAUSIBLE: f64 = 0.5;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Pending {
    /// Error (s) and its slope (s/s) when the pulse was decided.
    e0: f64,
    slope: f64,
    /// `rate - base` of the pulse.
    delta: f64,
    /// Client ms when it started, and how long it ran (s), once ended.
    t0: f64,
    ran: Option<f64>,
    /// A blip ([`BLIP_MS`]): its move is kept, not a lag.
    blip: bool,
}

/// The measurements of one direction and their median.
#[derive(Clone, Debug, Default)]
struct Lags {
    lags: VecDeque<f64>,
    value: f64,
}

impl Lags {
    fn record(&mut self, lag: f64) -> f64 {
        if self.lags.len() == LAG_WINDOW {
            self.lags.pop_front();
        }
        self.lags.push_back(lag);
        let mut v: Vec<f64> = self.lags.iter().copied().collect();
        self.value = median(&mut v);
        self.value
    }

    fn value(&self) -> f64 {
        if self.value.abs() < NEGLIGIBLE {
            0.0
        } else {
            self.value
        }
    }
}

/// Whether a pulse at `rate - base = delta`, `duration_ms` long, decided on error `e0`, is a
/// blip ([`BLIP_MS`]): a speed-up pulse for an error ahead, which works by its jump, not its
/// length.
pub fn is_blip(e0: f64, delta: f64, duration_ms: f64) -> bool {
    delta > 0.0 && e0 > 0.0 && duration_ms <= BLIP_MS
}

/// The learned pulse lags of one player: speeding up and slowing down.
#[derive(Clone, Debug, Default)]
pub struct PulseLag {
    up: Lags,
    down: Lags,
    /// Moves (s) of the last blips.
    blips: VecDeque<f64>,
    pending: Option<Pending>,
}

impl PulseLag {
    /// A player with no measurement yet (lag 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// The lag to add to the planned length of a pulse at `rate - base = delta` (s); 0 while
    /// it is [`NEGLIGIBLE`]. A direction not measured yet takes the other's, negated (the jump
    /// that makes the lag is the same both ways: a joiner's first slow-down pulse teaches its
    /// first speed-up pulse), 0 before any measurement.
    pub fn value_for(&self, delta: f64) -> f64 {
        let own = self.lags(delta);
        if own.lags.is_empty() {
            -self.lags(-delta).value()
        } else {
            own.value()
        }
    }

    /// The speed-up lag (s), the one the status shows.
    pub fn value(&self) -> f64 {
        self.value_for(1.0)
    }

    /// The slow-down lag (s).
    pub fn slow_value(&self) -> f64 {
        self.value_for(-1.0)
    }

    /// How far (s of position) a pulse at `rate - base = delta` may land from its aim: half
    /// the range of that direction's kept lag measurements, times `|delta|`; 0 before
    /// [`SPREAD_MIN`] measurements (and on a modelled player, where every one is 0).
    pub fn landing_spread(&self, delta: f64) -> f64 {
        let l = &self.lags(delta).lags;
        if l.len() < SPREAD_MIN {
            return 0.0;
        }
        let (lo, hi) = l
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(*x), hi.max(*x))
            });
        (hi - lo) / 2.0 * delta.abs()
    }

    /// Measurements so far (at most [`LAG_WINDOW`] per direction).
    pub fn measurements(&self) -> usize {
        self.up.lags.len() + self.down.lags.len()
    }

    fn lags(&self, delta: f64) -> &Lags {
        if delta < 0.0 {
            &self.down
        } else {
            &self.up
        }
    }

    /// A pulse at `rate - base = delta` planned `duration_ms` long started at `now`, decided on
    /// error `e0` with `slope`.
    pub fn started(&mut self, now: f64, e0: f64, slope: f64, delta: f64, duration_ms: f64) {
        self.pending = (delta.abs() > 1e-9 && e0.is_finite()).then_some(Pending {
            e0,
            slope: if slope.is_finite() { slope } else { 0.0 },
            delta,
            t0: now,
            ran: None,
            blip: is_blip(e0, delta, duration_ms),
        });
    }

    /// Whether the pulse waiting to be measured is a blip.
    pub fn pending_blip(&self) -> bool {
        self.pending.is_some_and(|p| p.blip)
    }

    /// What a blip ([`BLIP_MS`]) moves this player (s): the median of the last ones measured;
    /// `None` before any.
    pub fn blip_move(&self) -> Option<f64> {
        let mut v: Vec<f64> = self.blips.iter().copied().collect();
        (!v.is_empty()).then(|| median(&mut v))
    }

    /// Blips measured (at most [`LAG_WINDOW`] kept).
    pub fn blips_measured(&self) -> usize {
        self.blips.len()
    }

    /// How far (s) a blip may land from [`PulseLag::blip_move`]: half the range of the moves
    /// measured, 0 before [`SPREAD_MIN`] of them.
    pub fn blip_spread(&self) -> f64 {
        if self.blips.len() < SPREAD_MIN {
            return 0.0;
        }
        let lo = self.blips.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.blips.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (hi - lo) / 2.0
    }

    /// The pulse ended at `now` (the base rate was restored).
    pub fn ended(&mut self, now: f64) {
        if let Some(p) = self.pending.as_mut() {
            if p.ran.is_none() {
                p.ran = Some(((now - p.t0) / 1000.0).max(0.0));
            }
        }
    }

    /// Something else moved the player or the target (a seek): the pulse's effect can no
    /// longer be told apart.
    pub fn cancel(&mut self) {
        self.pending = None;
    }

    /// The first settled error estimate `e1` at `now` after the pulse ended, with the clock's
    /// drift then (`slope1`; the engine passes the window's slope only when a media clock could
    /// drift that fast, else the drift learned over many windows: a real decoder's start or
    /// jump can make one window's slope tens of ms/s): learns from it. The clock's own drift over the measurement is taken as the mean of the
    /// drifts before and after. Returns the new lag when it learned something.
    pub fn measured(&mut self, now: f64, e1: f64, slope1: f64) -> Option<f64> {
        let p = self.pending?;
        let ran = p.ran?;
        self.pending = None;
        let elapsed = ((now - p.t0) / 1000.0).max(0.0);
        let slope1 = if slope1.is_finite() { slope1 } else { 0.0 };
        let slope = (slope1 + p.slope) / 2.0;
        let moved = e1 - p.e0 - slope * elapsed;
        if p.blip {
            if moved.is_finite() && moved.abs() <= IMPLAUSIBLE / 10.0 {
                if self.blips.len() == LAG_WINDOW {
                    self.blips.pop_front();
                }
                self.blips.push_back(moved);
            }
            return None;
        }
        let lag = ran - moved / p.delta;
        // Beyond ±MAX_LAG is no decoder's: something else moved the player (a start's slow
        // first 100 ms, a jump inside the window the error was read from).
        if !lag.is_finite() || lag.abs() > MAX_LAG || (moved - p.delta * ran).abs() > IMPLAUSIBLE {
            return None;
        }
        // A speed-up pulse that moved the player further than planned measured noise (no
        // decoder speeds up early): 0, as before the slow-down lag was told apart. A slow-down
        // pulse's may be either sign.
        if p.delta < 0.0 {
            Some(self.down.record(lag))
        } else {
            Some(self.up.record(lag.max(0.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pulse of `ran` s at +0.25 on a player with lag `true_lag`: the error after it.
    fn pulse(l: &mut PulseLag, t0: f64, e0: f64, ran: f64, true_lag: f64) -> Option<f64> {
        l.started(t0, e0, 0.0, 0.25, ran * 1000.0);
        l.ended(t0 + ran * 1000.0);
        l.measured(t0 + ran * 1000.0 + 700.0, e0 + 0.25 * (ran - true_lag), 0.0)
    }

    #[test]
    fn a_modelled_player_measures_no_lag() {
        let mut l = PulseLag::new();
        assert_eq!(l.value(), 0.0);
        let got = pulse(&mut l, 0.0, -0.02, 0.08, 0.0).unwrap();
        assert!(got.abs() < 1e-9, "{got}");
        // Measurement noise of a few ms is not applied.
        pulse(&mut l, 5_000.0, -0.02, 0.08, 0.006);
        pulse(&mut l, 9_000.0, -0.02, 0.08, 0.008);
        assert_eq!(l.value(), 0.0);
    }

    #[test]
    fn the_median_of_the_last_measurements_is_used() {
        let mut l = PulseLag::new();
        for (i, lag) in [0.08, 0.085, 0.14, 0.075, 0.08].into_iter().enumerate() {
            pulse(&mut l, i as f64 * 5_000.0, -0.03, 0.2, lag);
        }
        assert!((l.value() - 0.08).abs() < 1e-9, "{}", l.value());
        assert_eq!(l.measurements(), LAG_WINDOW);
        // Not measured yet: the speed-up lag, negated.
        assert!((l.slow_value() + 0.08).abs() < 1e-9);
        // A slow-down pulse on Chromium moves the player *further* than planned: its own lag,
        // negative, and the speed-up lag is left as it was.
        l.started(30_000.0, 0.03, 0.0, -0.25, 100.0);
        l.ended(30_200.0);
        let v = l
            .measured(30_900.0, 0.03 - 0.25 * (0.2 + 0.08), 0.0)
            .unwrap();
        assert!((v + 0.08).abs() < 1e-9, "{v}");
        assert!((l.value_for(-0.25) + 0.08).abs() < 1e-9);
        assert!((l.value_for(0.25) - 0.08).abs() < 1e-9);
        assert_eq!(l.measurements(), LAG_WINDOW + 1);
        // Up lags 0.075..0.14: a 1.25 pulse lands within ±0.25 × 0.0325 s; one slow-down
        // measurement is too few to tell.
        assert!((l.landing_spread(0.25) - 0.25 * 0.0325).abs() < 1e-9);
        assert_eq!(l.landing_spread(-0.25), 0.0);
    }

    #[test]
    fn a_skewed_clocks_own_drift_is_taken_out() {
        let mut l = PulseLag::new();
        // 10 ms/s fast: over the 900 ms from start to measurement the clock itself added 9 ms.
        l.started(0.0, 0.02, 0.01, -0.25, 100.0);
        l.ended(200.0);
        let e1 = 0.02 + 0.01 * 0.9 - 0.25 * (0.2 - 0.06);
        let v = l.measured(900.0, e1, 0.01).unwrap();
        assert!((v - 0.06).abs() < 1e-9, "{v}");
        // The slope measured after the pulse counts as much as the one before.
        l.started(2_000.0, 0.02, 0.005, -0.25, 100.0);
        l.ended(2_200.0);
        let v = l.measured(2_900.0, e1, 0.015).unwrap();
        assert!((v - 0.06).abs() < 1e-9, "{v}");
    }

    #[test]
    fn disturbed_or_cancelled_pulses_teach_nothing() {
        let mut l = PulseLag::new();
        l.started(0.0, 0.02, 0.0, -0.25, 100.0);
        l.ended(100.0);
        assert_eq!(l.measured(800.0, 2.0, 0.0), None, "a stall in between");
        l.started(0.0, 0.02, 0.0, -0.25, 100.0);
        l.ended(100.0);
        l.cancel();
        assert_eq!(l.measured(800.0, 0.0, 0.0), None);
        l.started(0.0, 0.02, 0.0, -0.25, 100.0);
        assert_eq!(l.measured(800.0, 0.0, 0.0), None, "not ended yet");
        // Beyond ±MAX_LAG is no decoder's (a pulse of 200 ms that did nothing, one of 100 ms
        // that moved the player the other way): rejected, not clamped.
        l.started(0.0, -0.02, 0.0, 0.25, 100.0);
        l.ended(200.0);
        assert_eq!(l.measured(900.0, -0.02, 0.0), None);
        l.started(0.0, 0.02, 0.0, -0.25, 100.0);
        l.ended(100.0);
        assert_eq!(l.measured(800.0, 0.04, 0.0), None);
        assert_eq!(l.measurements(), 0);
        l.started(0.0, 0.02, 0.0, 0.25, 100.0);
        l.ended(100.0);
        // A speed-up pulse that moved 30 ms where 25 were planned: noise, a lag of 0.
        let v = l.measured(800.0, 0.05, 0.0).unwrap();
        assert_eq!(v, 0.0);
        // A slow-down pulse's may be negative (Chromium's jump).
        l.started(0.0, 0.02, 0.0, -0.25, 100.0);
        l.ended(100.0);
        let v = l.measured(800.0, -0.01, 0.0).unwrap();
        assert!((v + 0.02).abs() < 1e-9, "{v}");
        assert_eq!(l.measured(900.0, 0.0, 0.0), None, "measured once");
    }

    #[test]
    fn a_blips_move_is_kept_apart_from_the_lags() {
        let mut l = PulseLag::new();
        assert_eq!(l.blip_move(), None);
        // 4 ms ahead, a 40 ms speed-up pulse: Chromium's moves the player 5 ms back.
        for (i, moved) in [-0.005, -0.0051, -0.0088].into_iter().enumerate() {
            let t0 = i as f64 * 5_000.0;
            l.started(t0, 0.004, 0.0, 0.25, BLIP_MS);
            l.ended(t0 + BLIP_MS);
            assert_eq!(l.measured(t0 + 700.0, 0.004 + moved, 0.0), None);
        }
        assert!((l.blip_move().unwrap() + 0.0051).abs() < 1e-9);
        assert!((l.blip_spread() - 0.0019).abs() < 1e-9);
        assert_eq!(l.measurements(), 0, "no lag learned from a blip");
        // A pulse of the same length *against* an error behind is an ordinary one.
        l.started(20_000.0, -0.004, 0.0, 0.25, BLIP_MS);
        l.ended(20_000.0 + BLIP_MS);
        assert!(l.measured(20_700.0, -0.004 - 0.005, 0.0).is_some());
        assert_eq!(l.measurements(), 1);
    }
}
