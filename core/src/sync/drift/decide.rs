//! The decision of a player that honours rates: nothing, a rate pulse (its drift, dead band
//! and length, with a real decoder's learned lags), or a compensated seek for a big error; a
//! rate-locked player's is [`super::locked`].

use super::*;

impl Drift {
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
            return self.quick_skew_blip(now, &fit).unwrap_or(Correction::None);
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
        if let Some(c) = self.skew_blip(e, slope, skewed) {
            return c;
        }
        let band = self.pulse_band(now, band, e, drift);
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
            Some(rate) => (self.error_along(now, rate).unwrap_or(fit.error), Some(rate)),
            None => (fit.error, None),
        }
    }

    /// A fast clock's correction by blips, where a blip moves a real decoder back by much less
    /// than the least slow-down pulse (Chromium: ~5 ms against ~24 ms): the error, judged
    /// [`BLIP_LEAD_S`] ahead, sweeps a saw-tooth as wide as a blip's move, centred on zero,
    /// instead of one as wide as the least slow-down pulse's. `None` leaves the decision to the
    /// pulses: no fast clock, no such decoder, or blips that fell behind (ahead by half the least
    /// slow-down move: that pulse then takes it back).
    fn skew_blip(&self, e: f64, slope: f64, skewed: bool) -> Option<Correction> {
        let (_, Some(fast)) = self.nudge_rates() else {
            return None;
        };
        let least = self.least_shift(-0.25);
        if !skewed || slope < SKEW_BLIP_MIN || least < BLIP_WORTH {
            return None;
        }
        let ahead = e + slope * BLIP_LEAD_S;
        if ahead > least / 2.0 {
            return None;
        }
        let blip = Correction::Pulse {
            rate: fast,
            duration_ms: BLIP_MS,
        };
        match self.pulse_lag.blip_move() {
            // Between zero and the trigger the drift is left to sweep; behind zero (the drift
            // stopped) it is an ordinary error.
            Some(m) if m < 0.0 && -m < least / 2.0 => {
                if ahead >= -m / 2.0 {
                    Some(blip)
                } else {
                    (ahead >= 0.0).then_some(Correction::None)
                }
            }
            // Not measured yet, or not shown to move it back in fewer than SPREAD_MIN tries
            // (one blip read on a stale reading can measure nothing): tried to learn.
            _ => (self.pulse_lag.blips_measured() < SPREAD_MIN
                && !self.blurred()
                && ahead >= BLIP_TRY)
                .then_some(blip),
        }
    }

    /// A fast clock's blip decided on fewer readings ([`SKEW_BLIP_SAMPLES`]), along the drift
    /// learned over many windows: between blips the clock gains ~10 ms a second and a blip
    /// takes back ~5, so the full [`MIN_PULSE_SAMPLES`] would let it fall behind. Only for a
    /// quiet player whose blips are known; `None` when that is not the case or no blip is due.
    fn quick_skew_blip(&self, now: f64, fit: &ErrorFit) -> Option<Correction> {
        if fit.samples < SKEW_BLIP_SAMPLES || fit.noise > NOISY || self.blurred() {
            return None;
        }
        self.pulse_lag.blip_move()?;
        let rate = self.learned_drift().filter(|r| *r >= SKEW_BLIP_MIN)?;
        let e = self.error_along(now, rate)?;
        match self.skew_blip(e, rate, true)? {
            c @ Correction::Pulse { .. } => Some(c),
            _ => None,
        }
    }

    /// The dead band of a pulse decision on error `e` (s), from the noise band `band`. A
    /// drifting clock sweeps a wider window (every pulse is heard: fewer, longer ones), at least
    /// the saw-tooth the least pulse against the drift makes (a real decoder's slow-down pulse
    /// moves it 24 ms at least: landing on its far side is left alone). A steady one is left
    /// within the landing spread of the pulse that would correct it (no pulse lands closer: a
    /// real decoder's vary by several ms, a modelled player's by 0) while a missed landing
    /// waits for its retry ([`Drift::may_retry`]), else within the noise band.
    fn pulse_band(&self, now: f64, band: f64, e: f64, drift: Option<f64>) -> f64 {
        match drift {
            Some(slope) => {
                let least = self.least_shift(-slope.signum() * 0.25);
                band.max(SKEW_BAND).max(least * 0.6)
            }
            None if self.may_retry(now) => band,
            None => {
                let way = if e > 0.0 { -1.0 } else { 1.0 };
                band.max(self.pulse_lag.landing_spread(way * 0.25))
            }
        }
    }

    /// The least a pulse at `rate - base = delta` moves the player (s) when its direction's
    /// lag is negative (it moves further than its length says, so even [`MIN_PULSE_S`] of it
    /// moves it this far); 0 otherwise.
    pub(super) fn least_shift(&self, delta: f64) -> f64 {
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
        // A player's first long slow-down pulse, before anything is known of its lags, is
        // planned short of zero: on a real decoder it moves further than its length says (a
        // joiner 113 ms ahead landed 26 ms behind, and the pulse back, planned with that lag
        // negated, 7 ms ahead), on a modelled player the rest is one more pulse the same way.
        let d0 = if rate < self.base_rate
            && self.pulse_lag.measurements() == 0
            && d0 >= FIRST_SLOW_MIN_S
        {
            d0 * FIRST_SLOW_SHARE
        } else {
            d0
        };
        let duration_s = d0 + lag;
        if lag >= 0.0 || duration_s >= MIN_PULSE_S {
            return Correction::Pulse {
                rate,
                duration_ms: (duration_s * 1000.0).min(MAX_PULSE_MS),
            };
        }
        // Even the shortest pulse this way moves the player past zero (a slow-down pulse's own
        // jump on a real decoder is larger than this error). A steady clock takes it when the
        // error is beyond what the two pulses can reach: the pulse the other way that follows
        // lands within that direction's landing spread, and within a quarter of the least
        // shift it undoes (Chromium's 1.25 pulses of 100-200 ms land within ±7 ms of their
        // plan: a +5 ms error taken this way went to −18, then −6, then +3 ms). Before that, a
        // blip may do it in one: a speed-up pulse of a fixed 40 ms, whose jump outweighs it
        // (Chromium's moves the player −5.1 ms in 9 of 12, −8.8 in the rest), its move learned
        // apart (planning such short pulses by the lag was tried: 1.25 pulses of 40-100 ms move
        // the player in ~3.6 ms steps, −5 to +6 ms, not as planned). A skewed clock would need
        // the two pulses on every sweep: its saw-tooth is made as wide as the least shift
        // instead, centred on zero.
        let least_shift = self.least_shift(rate - self.base_rate);
        if !skewed && least_shift >= BLIP_WORTH {
            if let Some(blip) = self.blip_for(delta, least_shift) {
                return blip;
            }
        }
        let reach = self
            .pulse_lag
            .landing_spread(-(rate - self.base_rate))
            .max(least_shift * COMBO_REACH);
        if (!skewed && e.abs() > reach) || (e * delta > 0.0 && e.abs() > least_shift / 2.0) {
            Correction::Pulse {
                rate,
                duration_ms: MIN_PULSE_S * 1000.0,
            }
        } else {
            Correction::None
        }
    }

    /// A blip ([`BLIP_MS`] at the speed-up rate) for an error `delta` ahead that even the
    /// shortest slow-down pulse would overshoot by [`BLIP_WORTH`] or more: when blips are known
    /// to move this player back and one lands closer to zero than `delta` even at the edge of
    /// their spread, and no farther than the least slow-down pulse (`least_shift`) would; or,
    /// while none was measured, to learn what one does, for an error of
    /// [`BLIP_TRY`] or more on a player with quiet readings (a noisy one's is not measured).
    fn blip_for(&self, delta: f64, least_shift: f64) -> Option<Correction> {
        let (_, Some(fast)) = self.nudge_rates() else {
            return None;
        };
        if delta <= 0.0 {
            return None;
        }
        let use_it = match self.pulse_lag.blip_move() {
            // ... and closer than the least slow-down pulse would (an error ahead of 20 ms
            // took three blips, and a clock that drifts ahead outran them).
            Some(m) => {
                m < 0.0
                    && (delta + m).abs() + self.pulse_lag.blip_spread() < delta
                    && (delta + m).abs() <= (delta - least_shift).abs()
            }
            None => !self.blurred() && delta >= BLIP_TRY,
        };
        use_it.then_some(Correction::Pulse {
            rate: fast,
            duration_ms: BLIP_MS,
        })
    }
}
