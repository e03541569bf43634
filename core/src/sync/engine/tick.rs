//! The poll: every [`super::super::TICK_MS`] the engine looks at the player. In order: pulses
//! that are due end; nothing happens without a state, before the player is ready or during an
//! ad; the end, a pending re-apply, the duration and an unanswered command are handled; our own
//! expectations (play/pause reached, autoplay, a seek landing) are settled; a seek the viewer
//! made without an event becomes a command; and only in steady play is the error sampled and
//! corrected (a rate pulse, or a seek for a rate-locked player).

use super::{
    Autoplay, Engine, AUTOPLAY_TIMEOUT_MS, END_EPSILON, EXPECT_GRACE_MS, PENDING_TIMEOUT_MS,
    SEEK_JUMP_PAUSED, SEEK_JUMP_PLAYING, START_SETTLE_MS,
};
use crate::playback::{clamp_position, PlaybackState};
use crate::sync::drift::{Correction, SETTLE_MS};
use crate::sync::{Action, PlayerState, RateControl, Reading, TICK_MS};

impl Engine {
    pub(super) fn tick_player(&mut self, now: f64, r: Reading, out: &mut Vec<Action>) {
        self.end_due_pulse(now, out);
        let Some(s) = self.state.clone() else {
            return;
        };
        if !self.ready || self.watch_ads(now, None, r, out) {
            return;
        }
        self.report_end(r, out);
        if self
            .user_start
            .is_some_and(|t| now - t > EXPECT_GRACE_MS || r.state != PlayerState::Buffering)
        {
            self.user_start = None;
        }
        if self.needs_apply {
            self.needs_apply = false;
            self.apply_state(now, Some(r), out);
            return;
        }
        if self.scheduled_start(now, r, &s, out) {
            return;
        }
        self.report_duration(r, out);
        if self
            .pending
            .is_some_and(|p| now - p.sent_at > PENDING_TIMEOUT_MS)
        {
            self.pending = None;
            self.queued = None;
            self.stats.last_action = "no answer: resync".to_owned();
            self.apply_state(now, Some(r), out);
            return;
        }
        self.settle_expectations(now, r, &s, out);
        if self.seek_landing(now, r) {
            return;
        }
        if let Some(cmd) = self.unseen_seek(Some(r)) {
            self.drift.reset(now, SETTLE_MS);
            self.command(now, cmd, out);
            if s.playing {
                self.hold_own_start(now, r, out);
            }
            return;
        }
        self.baseline = Some(r);
        self.measure_start(r);
        let steady = self.pending.is_none()
            && self.expect.is_none()
            && !self.autoplay.blocked
            && s.playing
            && r.state == PlayerState::Playing;
        let target = s.position_at(self.clock.server_time(r.at));
        let ended = s.duration.is_some_and(|d| target >= d - END_EPSILON);
        if self.unstick(now, r, &s, ended, out) {
            return;
        }
        if !steady || ended {
            self.hold_corrections(now, out);
            return;
        }
        self.sample_error(now, r, target, out);
        self.drift.learn(now);
        self.correct(now, &s, out);
    }

    /// A pulse whose time is up ends precisely; a probe that found rates unavailable ends its
    /// pulse and leaves seeks only.
    fn end_due_pulse(&mut self, now: f64, out: &mut Vec<Action>) {
        if self.drift.pulse_due(now) && self.drift.end_pulse(now) {
            out.push(Action::SetRate(self.drift.base_rate()));
        }
        if self.drift.check_probe(now) {
            if self.drift.end_pulse(now) {
                out.push(Action::SetRate(self.drift.base_rate()));
            }
            self.stats.last_action = "rate pulses unavailable: seeks only".to_owned();
        }
    }

    /// The play or pause we asked for, reached as seen by the poll (some transitions fire no
    /// event) or given up; a play the browser did not allow shows "Join playback".
    fn settle_expectations(
        &mut self,
        now: f64,
        r: Reading,
        s: &PlaybackState,
        out: &mut Vec<Action>,
    ) {
        if let Some(e) = self.expect {
            let reached = if e.playing {
                r.state == PlayerState::Playing
            } else {
                r.state == PlayerState::Paused
            };
            if reached || now > e.until {
                self.expect = None;
            }
        }
        if let Some(t) = self.autoplay.play_at {
            if r.state == PlayerState::Playing {
                self.autoplay = Autoplay::default();
            } else if now - t > AUTOPLAY_TIMEOUT_MS && s.playing {
                self.blocked(out);
            }
        }
    }

    /// True while one of our seeks is landing (its readings are ours); when it has landed, or
    /// its time is up, the guard ends and drift settles afresh.
    fn seek_landing(&mut self, now: f64, r: Reading) -> bool {
        let Some(g) = self.guard else {
            return false;
        };
        let elapsed = ((now - g.at) / 1000.0).max(0.0);
        let landed = r.position >= g.to - SEEK_JUMP_PAUSED
            && r.position <= g.to + elapsed * 2.0 + SEEK_JUMP_PLAYING;
        if landed || now > g.until {
            self.guard = None;
            self.baseline = Some(r);
            self.drift.reset(now, SETTLE_MS);
        }
        true
    }

    /// Not in steady play: no pulse runs, and error samples wait for the player to settle.
    fn hold_corrections(&mut self, now: f64, out: &mut Vec<Action>) {
        if self.drift.end_pulse(now) {
            out.push(Action::SetRate(self.drift.base_rate()));
        }
        // Once it plays, a real decoder's clock starts slow (it lags ~60 ms over its first
        // 100 ms) and the page extrapolates the start report until the next one (250 ms): its
        // first readings are not the error, and a pulse on them goes the wrong way. (A
        // rate-locked player is held by seeks within a wider band: it keeps the short settle,
        // so that a drifting one is not let run longer.)
        let settle = if self.drift.rate_control() == RateControl::Locked {
            SETTLE_MS
        } else {
            START_SETTLE_MS
        };
        self.drift.reset(now, settle);
    }

    /// One error sample when it is due, the next at a varying phase of the poll.
    fn sample_error(&mut self, now: f64, r: Reading, target: f64, out: &mut Vec<Action>) {
        if now < self.sample_at - 0.5 {
            return;
        }
        self.drift.observe(r.at, r.position - target);
        // The next sample at a varying phase of the poll (50–150 ms on), so a `getCurrentTime()`
        // that moves in steps is not always read at the same point of a step (which would turn
        // the step into a steady, chased bias).
        self.sample_k = self.sample_k.wrapping_add(1);
        let frac = (f64::from(self.sample_k) * 0.618_033_988_75).fract();
        self.sample_at = now + TICK_MS * (0.5 + frac);
        if self.drift.pulse().is_none() {
            out.push(Action::WakeAt(self.sample_at));
        }
    }

    /// What drift control decides, executed: a rate pulse, or a compensated seek.
    fn correct(&mut self, now: f64, s: &PlaybackState, out: &mut Vec<Action>) {
        match self.drift.decide(now) {
            Correction::None => {}
            Correction::Pulse { rate, duration_ms } => {
                out.push(Action::SetRate(rate));
                out.push(Action::WakeAt(now + duration_ms));
                self.drift.start_pulse(now, rate, duration_ms);
                self.stats.last_action = format!("pulse {rate}x {duration_ms:.0} ms");
            }
            Correction::Seek { compensation } => {
                let to = clamp_position(
                    s.position_at(self.clock.server_time(now)) + compensation,
                    s.duration,
                );
                self.seek(now, to, out);
                self.drift.record_seek(now, compensation);
                self.stats.last_action = format!("corrective seek to {to:.3}");
            }
            Correction::LockedSeek {
                compensation,
                miss_beyond,
                ..
            } => {
                let to = clamp_position(
                    s.position_at(self.clock.server_time(now)) + compensation,
                    s.duration,
                );
                self.seek(now, to, out);
                self.drift
                    .record_locked_seek(now, compensation, miss_beyond);
                self.stats.last_action = format!("rate-locked: seek to {to:.3}");
            }
        }
    }
}
