//! The retry of a pulse's landing outside the dead band (issue 25). On a real decoder a pulse
//! lands within a few ms of its aim by chance (Chromium moves the clock in ~3.6 ms steps at
//! 1.25 and irregular ones at 0.75, `end2end/media/decoder.mjs`). Leaving every landing inside
//! the pulses' landing spread left viewers 5–8 ms apart for good; retrying every miss made a
//! ping-pong. So the first [`FREE_RETRIES`] misses are retried at once, later ones after a
//! back-off that doubles from [`RETRY_GAP_MS`] up to [`LOCKED_MAX_GAP_MS`], and a landing inside
//! the band ends it. A landing far off (a joiner's first pulse, the first of the two pulses an
//! error ahead can need) is no miss: the next pulse is an ordinary one.

use super::*;

impl Drift {
    /// A pulse's landing `fit` at `now`, on a steady clock: inside the dead band it resets the
    /// retries; outside it counts a miss and sets when it may be retried ([`Drift::may_retry`]).
    pub(super) fn check_landing(&mut self, now: f64, fit: &ErrorFit) {
        if is_skewed(fit, self.noise_level) || self.learned_drift().is_some() {
            return;
        }
        let e = fit.error.abs();
        if e <= band_for(fit.noise.max(self.noise_level)) {
            self.missed_landings = 0;
            self.retry_at = f64::NEG_INFINITY;
            return;
        }
        if e > self.fine_reach(fit.error) {
            // Far off (a joiner's first pulse, the first of the two an error ahead needs): the
            // next pulse is an ordinary one, not a retry.
            return;
        }
        self.missed_landings = (self.missed_landings + 1).min(16);
        let n = self.missed_landings;
        self.retry_at = if n <= FREE_RETRIES {
            f64::NEG_INFINITY
        } else {
            now + (RETRY_GAP_MS * 2f64.powi((n - FREE_RETRIES - 1) as i32)).min(LOCKED_MAX_GAP_MS)
        };
    }

    /// How far from zero (s) a steady player at error `e` may be left by the pulses that would
    /// correct it: their direction's landing spread, and for an error ahead smaller than the
    /// least slow-down move (two pulses), also [`COMBO_REACH`] of that move and the landing
    /// spread of the speed-up pulse that ends it.
    pub(super) fn fine_reach(&self, e: f64) -> f64 {
        let up = self.pulse_lag.landing_spread(0.25);
        if e < 0.0 {
            return up;
        }
        let least = self.least_shift(-0.25);
        if e < least {
            up.max(self.pulse_lag.landing_spread(-0.25))
                .max(least * COMBO_REACH)
        } else {
            self.pulse_lag.landing_spread(-0.25)
        }
    }

    /// Whether a steady player outside its dead band but within its pulses' landing spread is
    /// pulsed again now. A real decoder's pulse lands within a few ms of its aim, by chance
    /// (Chromium's move in ~3.5 ms and ~6.3 ms steps): leaving every landing inside that
    /// spread left viewers 5-8 ms apart for good; pulsing on every miss made a ping-pong. So
    /// a miss is retried, at once for the first [`FREE_RETRIES`], then after a back-off that
    /// doubles from [`RETRY_GAP_MS`]; a landing inside the band ends it.
    pub(super) fn may_retry(&self, now: f64) -> bool {
        now >= self.retry_at
    }
}
