//! A pulse's life: started (what it was decided on, for measuring its lag), ended (the base
//! rate back, a settle), and the player's confirmation of the rates it was asked for.

use super::*;

impl Drift {
    /// Records that a pulse started at `now`.
    pub fn start_pulse(&mut self, now: f64, rate: f64, duration_ms: f64) {
        // What the pulse was decided on: measured against what it did once it is over.
        match self.fit(now) {
            // Only a pulse that works against the error (or a blip, which works by its jump),
            // decided on a quiet window, teaches the lag (a noisy window's error is off by more
            // than the lag is worth).
            Some(f)
                if !self.blurred()
                    && f.noise <= NOISY
                    && (f.error * (rate - self.base_rate) <= 0.0
                        || is_blip(f.error, rate - self.base_rate, duration_ms)) =>
            {
                let (e0, drift) = self.measure_error(now, &f);
                self.pulse_lag
                    .started(now, e0, drift, rate - self.base_rate, duration_ms);
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
            self.landing_due = true;
            // A player whose pulses act late (a real decoder) settles longer; a modelled one,
            // whose pulses act at once, is measured again as soon as after anything else.
            let fast_blip = self.fast_clock_blip();
            let lagged = self.pulse_lag.value() != 0.0 || self.pulse_lag.slow_value() != 0.0;
            let settle = if fast_blip {
                // A fast clock's blip: its jump comes ~100 ms after each rate change.
                BLIP_SETTLE_MS
            } else if lagged {
                PULSE_SETTLE_MS
            } else {
                SETTLE_MS
            };
            if lagged && !fast_blip {
                // Its last jump may still reach the readings late (a slipping widget report).
                self.late_jump_until = now + LATE_JUMP_WATCH_MS;
            }
            self.reset(now, settle);
            true
        } else {
            false
        }
    }

    /// Whether the pulse waiting to be measured is a fast clock's blip: a blip on a player
    /// whose learned drift is one blips hold ([`SKEW_BLIP_MIN`], as [`Drift::decide`] judges
    /// it). It settles for [`BLIP_SETTLE_MS`] and is measured on [`SKEW_BLIP_SAMPLES`]
    /// readings, so that the next one can keep up with the drift.
    pub(super) fn fast_clock_blip(&self) -> bool {
        self.pulse_lag.pending_blip() && self.learned_drift().is_some_and(|r| r >= SKEW_BLIP_MIN)
    }

    /// Drops the readings before a step in a quiet player's readings soon after a pulse on a
    /// real decoder ([`LATE_JUMP_WATCH_MS`]): they are the extrapolation of a report from
    /// before the pulse's jump reached the clock. Once: the next step is the readings' own.
    /// Only once the readings are known to be quiet (a late-reading player's are steps), and
    /// on a steady clock (a drifting one's readings step by its drift at each report).
    pub(super) fn drop_stale_before_jump(&mut self, now: f64, error: f64) {
        let quiet = if self.noise_measured {
            self.noise_level <= NOISY
        } else {
            self.short_quiet
        };
        // A drifting clock's readings step by its drift at every report: not a jump.
        if now >= self.late_jump_until || !quiet || self.learned_drift().is_some() {
            return;
        }
        let Some(&(_, last)) = self.samples.back() else {
            return;
        };
        if (error - last).abs() > LATE_JUMP_MIN.max(4.0 * self.noise_level) {
            self.samples.clear();
            self.late_jump_until = f64::NEG_INFINITY;
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
}
