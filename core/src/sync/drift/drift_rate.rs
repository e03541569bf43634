//! The media clock's drift rate, learned over many windows of readings (between seeks, pulses
//! and other resets): folded in window by window, weighted by precision ([`Drift::harvest_drift`];
//! a quiet player's long window weighs no more than a short one, [`QUIET_SPREAD_CAP`]), believed
//! when significant ([`Drift::learned_drift`]), forgotten when a long quiet window rules it out
//! ([`Drift::forget_stale_drift`]), and used to read a short window's error
//! ([`Drift::measure_error`]).

use super::*;

impl Drift {
    /// Forgets the learned drift when a long, quiet window of this player's readings rules it
    /// out ([`STALE_DRIFT_SIGMAS`] of that window's standard errors away, and beyond
    /// [`SKEW_SLOPE`]): the clock stopped drifting. Read along the old drift, flat readings look
    /// ahead by the drift times their age, and a player left behind by blips against a drift
    /// that stopped was held there for good (12 ms for 30 s in a real-media run): it is only
    /// folded in again when a correction ends the window.
    pub(super) fn forget_stale_drift(&mut self, fit: &ErrorFit) {
        let Some(rate) = self.learned_drift() else {
            return;
        };
        if self.noise_level > NOISY || fit.noise > NOISY || fit.span_ms < 900.0 {
            return;
        }
        let se = fit.noise.max(0.0005) / fit.time_spread.max(1e-9);
        let off = (fit.raw_slope - rate).abs();
        if fit.raw_slope.is_finite() && off > SKEW_SLOPE && off > STALE_DRIFT_SIGMAS * se {
            self.drift_weight = 0.0;
            self.drift_sum = 0.0;
        }
    }

    /// Folds the slope of the samples collected since the last reset into the learned drift
    /// rate, weighted by its precision (many, quiet, long-spanning samples weigh most).
    pub(super) fn harvest_drift(&mut self) {
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
        // A quiet player's long window (steady play) weighs no more than a short one: else
        // the minutes of steady play before a clock starts to drift outweigh the short
        // windows between its pulses for tens of seconds, and the drift goes unseen.
        let spread = if quiet {
            fit.time_spread.min(QUIET_SPREAD_CAP)
        } else {
            fit.time_spread
        };
        let weight = (spread / noise).powi(2);
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
    pub(super) fn plausible_drift(&self, fit: &ErrorFit) -> f64 {
        if fit.raw_slope.is_finite() && fit.raw_slope.abs() <= MAX_DRIFT {
            fit.raw_slope
        } else {
            self.learned_drift().unwrap_or(0.0)
        }
    }

    /// The error at `now` and the clock's drift for measuring a pulse, from `fit`: a window
    /// shorter than [`MIN_PULSE_SAMPLES`] (a fast clock's blips, [`SKEW_BLIP_SAMPLES`]) is read
    /// along the drift learned over many windows, when there is one (its own slope tells
    /// nothing); a longer one as fitted, with [`Drift::plausible_drift`].
    pub(super) fn measure_error(&self, now: f64, fit: &ErrorFit) -> (f64, f64) {
        if fit.samples < MIN_PULSE_SAMPLES {
            if let Some(rate) = self.learned_drift() {
                if let Some(e) = self.error_along(now, rate) {
                    return (e, rate);
                }
            }
        }
        (fit.error, self.plausible_drift(fit))
    }

    /// The error at `now` (s) read from the samples along a drift of `rate` (s/s) instead of
    /// their own slope; `None` without samples.
    pub(super) fn error_along(&self, now: f64, rate: f64) -> Option<f64> {
        let v: Vec<(f64, f64)> = self.samples.iter().copied().collect();
        error_with_slope(&v, now, rate)
    }
}
