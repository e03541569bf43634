//! What a rate pulse really does on a real decoder, learned per player (issue 25).
//!
//! On a modelled player a pulse at `base ± 0.25` for `d` seconds moves the position by exactly
//! `± 0.25 d`. On a real `<video>` it does not: the new rate reaches the audio renderer late and
//! the way back to the base rate sooner, so a pulse moves the position by `0.25 (d - lag)`,
//! where the *pulse lag* was 60–90 ms in Chromium (measured with the real-media stand-in: pulses
//! of 100, 200 and 400 ms at 1.25 moved it by 2–6, 31–36 and 76–79 ms instead of 25, 50 and
//! 100; one of 40 ms moved it *back* by 5 ms). A controller that plans pulses as if the lag were
//! 0 never lands: it under-corrects, measures the rest, pulses again — the constant warble the
//! issue heard (about three rate changes a second).
//!
//! So each completed pulse is a measurement: the error before it (`e0`, with the slope of a
//! skewed clock), the error measured once settled after it (`e1`), and the planned change give
//! `lag = d - (e1 - e0 - slope·t) / (rate - base)`. The lag used for the next pulses is the
//! median of the last [`LAG_WINDOW`] measurements (one odd landing does not move it), clamped to
//! [`MIN_LAG`, `MAX_LAG`] and taken as 0 below [`NEGLIGIBLE`]; pulses are then planned `|error| / 0.25 + lag` long. A modelled
//! player measures 0 and is planned exactly as before.

use std::collections::VecDeque;

/// Measurements kept (their median is the lag).
pub const LAG_WINDOW: usize = 5;
/// Smallest lag believed (s): a pulse that moved the player more than planned measured noise.
pub const MIN_LAG: f64 = 0.0;
/// Largest lag believed (s): Chromium's is 60-90 ms.
pub const MAX_LAG: f64 = 0.15;
/// A learned lag below this (s) is measurement noise (a modelled player's lag is 0; a real
/// decoder's tens of ms): it is not applied.
pub const NEGLIGIBLE: f64 = 0.010;
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
}

/// The learned pulse lag of one player.
#[derive(Clone, Debug, Default)]
pub struct PulseLag {
    lags: VecDeque<f64>,
    value: f64,
    pending: Option<Pending>,
}

impl PulseLag {
    /// A player with no measurement yet (lag 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// The lag to add to a pulse's planned length (s); 0 while it is [`NEGLIGIBLE`].
    pub fn value(&self) -> f64 {
        if self.value.abs() < NEGLIGIBLE {
            0.0
        } else {
            self.value
        }
    }

    /// Measurements so far (at most [`LAG_WINDOW`]).
    pub fn measurements(&self) -> usize {
        self.lags.len()
    }

    /// A pulse at `rate - base = delta` started at `now`, decided on error `e0` with `slope`.
    pub fn started(&mut self, now: f64, e0: f64, slope: f64, delta: f64) {
        self.pending = (delta.abs() > 1e-9 && e0.is_finite()).then_some(Pending {
            e0,
            slope: if slope.is_finite() { slope } else { 0.0 },
            delta,
            t0: now,
            ran: None,
        });
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

    /// The first settled error estimate `e1` at `now` after the pulse ended, with the slope
    /// measured then (`slope1`, the raw one: a drift too small to count as significant in one
    /// window still biases the measurement 4x): learns from it. The clock's own drift over the
    /// measurement is taken as the mean of the slopes before and after. Returns the new lag when
    /// it learned something.
    pub fn measured(&mut self, now: f64, e1: f64, slope1: f64) -> Option<f64> {
        let p = self.pending?;
        let ran = p.ran?;
        self.pending = None;
        let elapsed = ((now - p.t0) / 1000.0).max(0.0);
        let slope1 = if slope1.is_finite() { slope1 } else { 0.0 };
        let slope = (slope1 + p.slope) / 2.0;
        let moved = e1 - p.e0 - slope * elapsed;
        let lag = ran - moved / p.delta;
        if !lag.is_finite() || (moved - p.delta * ran).abs() > IMPLAUSIBLE {
            return None;
        }
        if self.lags.len() == LAG_WINDOW {
            self.lags.pop_front();
        }
        self.lags.push_back(lag.clamp(MIN_LAG, MAX_LAG));
        let mut v: Vec<f64> = self.lags.iter().copied().collect();
        v.sort_unstable_by(f64::total_cmp);
        let n = v.len();
        self.value = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pulse of `ran` s at +0.25 on a player with lag `true_lag`: the error after it.
    fn pulse(l: &mut PulseLag, t0: f64, e0: f64, ran: f64, true_lag: f64) -> Option<f64> {
        l.started(t0, e0, 0.0, 0.25);
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
        // A slow-down pulse measures the same lag.
        l.started(30_000.0, 0.03, 0.0, -0.25);
        l.ended(30_200.0);
        let v = l
            .measured(30_900.0, 0.03 - 0.25 * (0.2 - 0.08), 0.0)
            .unwrap();
        assert!((v - 0.08).abs() < 1e-9, "{v}");
    }

    #[test]
    fn a_skewed_clocks_own_drift_is_taken_out() {
        let mut l = PulseLag::new();
        // 10 ms/s fast: over the 900 ms from start to measurement the clock itself added 9 ms.
        l.started(0.0, 0.02, 0.01, -0.25);
        l.ended(200.0);
        let e1 = 0.02 + 0.01 * 0.9 - 0.25 * (0.2 - 0.06);
        let v = l.measured(900.0, e1, 0.01).unwrap();
        assert!((v - 0.06).abs() < 1e-9, "{v}");
        // The slope measured after the pulse counts as much as the one before.
        l.started(2_000.0, 0.02, 0.005, -0.25);
        l.ended(2_200.0);
        let v = l.measured(2_900.0, e1, 0.015).unwrap();
        assert!((v - 0.06).abs() < 1e-9, "{v}");
    }

    #[test]
    fn disturbed_or_cancelled_pulses_teach_nothing() {
        let mut l = PulseLag::new();
        l.started(0.0, 0.02, 0.0, -0.25);
        l.ended(100.0);
        assert_eq!(l.measured(800.0, 2.0, 0.0), None, "a stall in between");
        l.started(0.0, 0.02, 0.0, -0.25);
        l.ended(100.0);
        l.cancel();
        assert_eq!(l.measured(800.0, 0.0, 0.0), None);
        l.started(0.0, 0.02, 0.0, -0.25);
        assert_eq!(l.measured(800.0, 0.0, 0.0), None, "not ended yet");
        // Out-of-range measurements are clamped.
        l.started(0.0, -0.02, 0.0, 0.25);
        l.ended(200.0);
        assert_eq!(l.measured(900.0, -0.02, 0.0), Some(MAX_LAG));
        l.started(0.0, 0.02, 0.0, 0.25);
        l.ended(100.0);
        // Moved 30 ms where 25 were planned: a lag below 0 is noise.
        assert_eq!(l.measured(800.0, 0.05, 0.0), Some(MAX_LAG / 2.0));
    }
}
