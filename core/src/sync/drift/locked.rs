//! A rate-locked player (no usable rate near the session's): corrected by seeks only, aimed
//! by its learned seek latency, with a back-off, and a skewed clock's saw-tooth centred.

use super::*;

impl Drift {
    /// A rate-locked player's decision for errors below [`SEEK_ONLY_THRESHOLD`]: a seek when
    /// the estimate from many readings is beyond the band and the back-off has passed.
    ///
    /// A steady player is left wherever it landed within ±[`LOCKED_BAND`] (a seek cannot land
    /// more precisely than its buffering varies). A skewed clock drifting away is let go to
    /// ±[`LOCKED_SKEW_BAND`] (judged one poll ahead), then sent to the far side of zero, by the
    /// band less the landing spread: the error sweeps the whole band between two seeks, as
    /// rarely as the band allows, and no landing falls outside it. Drifting back towards zero
    /// after such a landing is left alone.
    pub(super) fn decide_locked(&self, now: f64, fit: ErrorFit, band: f64) -> Correction {
        if fit.samples < LOCKED_MIN_SAMPLES || now < self.last_locked_seek + LOCKED_GAP_MS {
            return Correction::None;
        }
        // The drift: this window's if it shows one, else the one learned over many windows
        // (with the error re-read along it).
        let (e, slope) = if is_skewed(&fit, self.noise_level) {
            (fit.error, fit.slope)
        } else if let Some(rate) = self.learned_drift() {
            (self.error_along(now, rate).unwrap_or(fit.error), rate)
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
        self.last_locked_seek = now;
        self.expect_landing(now, compensation, Some(miss_beyond), false);
    }
}
