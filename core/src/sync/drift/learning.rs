//! What the controller learns from its own corrections: the seek-to-playing latency from the
//! landing of each seek of ours (the median of the last [`LATENCY_WINDOW`]), and what each
//! completed pulse did ([`super::super::pulse_lag`], and its landing for [`super::retry`]).

use super::*;

impl Drift {
    /// If a latency measurement is due (first settled fit after one of our seeks), adds it to
    /// the last [`LATENCY_WINDOW`], whose median is the latency. Returns the new latency when it
    /// learned something.
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
    pub(super) fn learn_pulse(&mut self, now: f64) {
        if self.pulse.is_some() {
            return;
        }
        // As many readings as the next decision needs (it must not come first); an error off
        // by x reads as a lag off by 4x (x / 0.25), so noisy players are left out below.
        // A fast clock's blip, whose next one comes sooner ([`SKEW_BLIP_SAMPLES`]), is
        // measured as soon, along the learned drift.
        let least = if self.fast_clock_blip() && !self.blurred() {
            SKEW_BLIP_SAMPLES
        } else {
            MIN_PULSE_SAMPLES
        };
        let Some(fit) = self.fit(now).filter(|f| f.samples >= least) else {
            return;
        };
        if self.blurred() {
            self.pulse_lag.cancel();
        } else {
            let (e1, drift) = self.measure_error(now, &fit);
            self.pulse_lag.measured(now, e1, drift);
        }
        if std::mem::take(&mut self.landing_due) {
            self.check_landing(now, &fit);
        }
    }

    /// Whether a pulse's effect cannot be measured precisely on this player: noisy readings
    /// (4x their imprecision would read as lag). A drifting clock is fine: its slope is taken
    /// out (see [`PulseLag::measured`]).
    pub(super) fn blurred(&self) -> bool {
        self.noise_level > NOISY
    }

    /// Records a corrective seek with the compensation it used.
    pub fn record_seek(&mut self, now: f64, compensation: f64) {
        self.corrective_seeks += 1;
        self.expect_landing(now, compensation, None, false);
    }

    /// Records a seek made to apply a state while the player was playing, so its latency is
    /// learned too (without counting it as corrective).
    pub fn record_apply_seek(&mut self, now: f64, compensation: f64) {
        self.expect_landing(now, compensation, None, false);
    }

    /// Records the seek that starts a video (a first play, or a play after the end): slower
    /// than later seeks (it loads the video), so what it shows only lowers the first guess.
    pub fn record_first_start(&mut self, now: f64, compensation: f64) {
        self.expect_landing(now, compensation, None, true);
    }

    /// A seek of ours was made with `compensation`: no pulse's effect can be told apart any
    /// more, its landing is measured once settled ([`Learn`]), and the samples start over.
    pub(super) fn expect_landing(
        &mut self,
        now: f64,
        compensation: f64,
        miss_beyond: Option<f64>,
        bound_only: bool,
    ) {
        self.pulse_lag.cancel();
        self.landing_due = false;
        self.missed_landings = 0;
        self.retry_at = f64::NEG_INFINITY;
        self.learn = Some(Learn {
            used: compensation,
            miss_beyond,
            bound_only,
        });
        self.reset(now, SETTLE_MS);
    }
}
