//! Scheduled starts, the players' half (the rule: [`crate::playback::apply_scheduled`]; the
//! lead: [`crate::start`]). A state that plays from a moment still ahead is applied by holding
//! the player paused exactly at its position and calling `playVideo()` the learned start
//! latency before that moment ([`crate::sync::start_latency`]), so every player, the sender's
//! included, starts on the same frame instead of starting early and being pulled in. The
//! viewer's own play, or seek while the room plays, is held the same way: the player pauses
//! where the viewer acted and starts with everyone when the room's answer comes. When the
//! moment is too close for this player (its latency is longer than what is left), the state
//! is applied as before, as a late joiner's is.

use super::{Engine, PING_INTERVAL_MS, START_SETTLE_MS};
use crate::playback::PlaybackState;
use crate::protocol::ClientMsg;
use crate::sync::drift::SETTLE_MS;
use crate::sync::start_latency::StartProbe;
use crate::sync::{Action, PlayerState, Reading};

/// A player held for a scheduled start is moved to its position when further than this (s):
/// within a frame's fraction, so the start is on the same frame.
pub const SCHEDULED_SNAP: f64 = 0.001;
/// A call to start later than this after its plan (ms) seeks ahead by the delay first.
pub const LATE_SEEK_MS: f64 = 20.0;
/// A probe not measured this long after its moment is dropped (ms).
const PROBE_TIMEOUT_MS: f64 = 3_000.0;
/// Added to the need a client reports (ms): a paused seek and timer jitter.
const NEED_SLACK_MS: f64 = 20.0;

/// A start this player is waiting for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Scheduled {
    /// Client time to call `playVideo()` (ms).
    pub play_at: f64,
    /// Client time of the room's moment (ms).
    pub start_at: f64,
    /// The position held (s).
    pub position: f64,
    /// The room's rate.
    pub rate: f64,
    /// The room's moment (server ms): the start stands while the state still says it (a
    /// later revision that is no new start, e.g. a duration report, keeps it).
    pub server_start: f64,
}

impl Engine {
    /// Client time (ms) of server time `server_ms`.
    fn client_time(&self, now: f64, server_ms: f64) -> f64 {
        server_ms - (self.clock.server_time(now) - now)
    }

    /// Applies a playing state whose start is still ahead, if this player can make it: holds
    /// the player at the position and plans the call. False when the moment is too close
    /// (then the state is applied as a late joiner's).
    pub(super) fn apply_scheduled(
        &mut self,
        now: f64,
        r: Reading,
        s: &PlaybackState,
        out: &mut Vec<Action>,
    ) -> bool {
        let start_at = self.client_time(now, s.updated_at);
        let play_at = start_at - self.start_latency.ms();
        if play_at <= now {
            self.scheduled = None;
            return false;
        }
        self.autoplay.play_at = None;
        let mut paused = false;
        if r.state.is_playing_ish() {
            out.push(Action::Pause);
            paused = true;
        }
        let fresh = r.state.is_fresh() || r.state == PlayerState::Ended;
        if fresh || (r.position - s.position).abs() > SCHEDULED_SNAP {
            // A fresh or ended player is primed too: seekTo starts it loading (and playing),
            // the pause right after leaves it paused with its position buffered, so the call
            // at the moment is a quick resume, not a load.
            self.seek(now, s.position, out);
            if fresh {
                out.push(Action::Pause);
                paused = true;
            }
        }
        if paused {
            self.expect_state(now, false);
        }
        if self.drift.end_pulse(now) {
            out.push(Action::SetRate(s.rate));
        }
        self.scheduled = Some(Scheduled {
            play_at,
            start_at,
            position: s.position,
            rate: s.rate,
            server_start: s.updated_at,
        });
        out.push(Action::StartAt(play_at));
        self.stats.last_action = format!("start at {:.3} in {:.0} ms", s.position, start_at - now);
        true
    }

    /// At the planned call: `playVideo()`, and the start is measured. True when it acted (or
    /// still waits: nothing else is done to a held player).
    pub(super) fn scheduled_start(
        &mut self,
        now: f64,
        r: Reading,
        s: &PlaybackState,
        out: &mut Vec<Action>,
    ) -> bool {
        let Some(sc) = self.scheduled else {
            return false;
        };
        if !s.playing || s.updated_at != sc.server_start || s.position != sc.position {
            self.scheduled = None;
            return false;
        }
        if now + 1.0 < sc.play_at {
            return false;
        }
        self.scheduled = None;
        // A call this late (a busy main thread, a throttled timer) starts from where the room
        // will be once the player runs, not from the held position: one paused seek ahead.
        let late = now - sc.play_at;
        let from = if late > LATE_SEEK_MS {
            let to = sc.position + late / 1000.0 * sc.rate;
            self.seek(now, to, out);
            to
        } else {
            sc.position
        };
        self.play_expected(now, out);
        self.start_probe = Some(StartProbe {
            called_at: now,
            start_at: sc.start_at,
            from,
            rate: sc.rate,
            warm: r.state == PlayerState::Paused && late <= LATE_SEEK_MS,
        });
        self.probe_counts = (self.drift.corrective_seeks, self.drift.rate_nudges);
        self.drift.reset(now, SETTLE_MS);
        self.stats.last_action = format!("scheduled start at {:.3} ({:+.0} ms)", from, late);
        true
    }

    /// Measures the last scheduled start on the first settled playing reading: the latency
    /// learned, the start's error shown (`start_error_ms`). Before any correction only.
    pub(super) fn measure_start(&mut self, r: Reading) {
        let Some(p) = self.start_probe else {
            return;
        };
        if r.at > p.start_at + PROBE_TIMEOUT_MS
            || self.guard.is_some()
            || self.probe_counts != (self.drift.corrective_seeks, self.drift.rate_nudges)
        {
            self.start_probe = None;
            return;
        }
        // Settled (a real decoder's start transient and one widget report are over), and
        // before drift control can act (it waits as long after the player is seen playing).
        if r.state != PlayerState::Playing || r.at < (p.called_at + START_SETTLE_MS).max(p.start_at)
        {
            return;
        }
        self.start_probe = None;
        let (latency, error) = p.measure(r.position, r.at);
        if p.warm {
            // A start from a fresh player is a load, not the resume the plan is for.
            self.start_latency.record(latency);
        }
        self.stats.start_error_ms = Some((error * 10.0).round() / 10.0);
        self.stats.starts = self.stats.starts.wrapping_add(1);
        self.stats.start_latency_ms = self.start_latency.ms();
    }

    /// The viewer's own play (or seek while the room plays) is held where it was made, to
    /// start with everyone at the room's moment.
    pub(super) fn hold_own_start(&mut self, now: f64, r: Reading, out: &mut Vec<Action>) {
        // Only a change that was sent: a refused one is put back by the room's state.
        if !r.state.is_playing_ish() || !self.may_control || self.status != super::ConnStatus::Live
        {
            return;
        }
        out.push(Action::Pause);
        self.expect_state(now, false);
    }

    /// What this player needs to make a scheduled start (ms): half the round trip plus its
    /// start latency; reported when it moved by a step, at most once per ping interval.
    pub(super) fn report_need(&mut self, now: f64, out: &mut Vec<Action>) {
        if !self.clock.is_known() || self.clock.rtt() <= 0.0 || self.burst_left > 0 {
            return;
        }
        let need = (self.clock.rtt() / 2.0 + self.start_latency.ms() + NEED_SLACK_MS).round();
        self.stats.start_need_ms = need;
        let moved = self
            .need_sent
            .is_none_or(|(sent, _)| (sent - need).abs() >= crate::start::NEED_STEP_MS);
        let due = self
            .need_sent
            .is_none_or(|(_, at)| now - at >= PING_INTERVAL_MS);
        if moved && due && crate::start::valid_need(need) {
            out.push(Action::Send(ClientMsg::StartNeed { ms: need }));
            self.need_sent = Some((need, now));
        }
    }
}
