//! Applying the room's state to the player: touching only what differs. A new video is loaded
//! (a late join into it); the rate is set; a playing room seeks a player that is off by more
//! than [`SEEK_THRESHOLD`] to the target plus the learned seek latency and starts it; a paused
//! room pauses the player and snaps it to the paused position. Every move is recorded as an
//! expectation or a seek guard, so its echo is not taken for the viewer's own action.

use super::{Engine, CUE_GRACE_MS, END_EPSILON, PAUSED_SNAP};
use crate::playback::{clamp_position, PlaybackState};
use crate::sync::drift::{SEEK_THRESHOLD, SETTLE_MS};
use crate::sync::{Action, PlayerState, Reading};

impl Engine {
    /// Makes the player match the authoritative state, touching only what differs.
    pub(super) fn apply_state(&mut self, now: f64, r: Option<Reading>, out: &mut Vec<Action>) {
        let Some(s) = self.state.clone() else {
            return;
        };
        // Without the server's clock (no `hello` yet) the room's position is unknown: the
        // server-rendered state alone would be read on this device's wall clock.
        if !self.ready || !self.clock.is_known() {
            return;
        }
        let Some(r) = r else {
            return;
        };
        if self.ads.in_ad() {
            // The player ignores seeks and rates until the ad is over; then it rejoins.
            return;
        }
        if self.loaded.as_ref() != Some(&s.video_id) {
            let start = s.position_at(self.clock.server_time(now));
            out.push(Action::Load {
                video: s.video_id,
                start,
            });
            self.loaded = Some(s.video_id);
            self.ads.reset();
            self.deferred_play = false;
            self.duration_sent = false;
            self.baseline = None;
            // Nothing expected of the previous video applies to the new one (a video change
            // is a late join into the new video).
            self.expect = None;
            self.guard = None;
            self.autoplay.play_at = None;
            self.needs_apply = true;
            self.cueing = Some(now);
            return;
        }
        if let Some(since) = self.cueing {
            if !r.state.is_fresh() && now - since < CUE_GRACE_MS {
                // The readings are still the previous video's: applied when the cue shows.
                self.needs_apply = true;
                return;
            }
            self.cueing = None;
        }
        if (self.drift.base_rate() - s.rate).abs() > 1e-6 || (r.rate - s.rate).abs() > 1e-6 {
            self.drift.end_pulse(now);
            self.drift.set_base_rate(s.rate);
            out.push(Action::SetRate(s.rate));
        }
        let server_now = self.clock.server_time(now);
        let at_end = s.duration.is_some_and(|d| s.position >= d - END_EPSILON);
        if s.playing
            && s.updated_at > server_now
            && !at_end
            && self.apply_scheduled(now, r, &s, out)
        {
            self.sync_join(out);
            return;
        }
        self.scheduled = None;
        let target = s.position_at(server_now);
        if s.playing {
            self.apply_playing(now, r, &s, target, out);
        } else {
            self.apply_paused(now, r, &s, out);
        }
        self.sync_join(out);
    }

    /// A playing room: at its end everyone ends together; else a stopped or far-off player is
    /// moved to the target (plus the learned start latency) and started.
    fn apply_playing(
        &mut self,
        now: f64,
        r: Reading,
        s: &PlaybackState,
        target: f64,
        out: &mut Vec<Action>,
    ) {
        let ended = s.duration.is_some_and(|d| target >= d - END_EPSILON);
        if ended {
            // Everyone ends together: the target is clamped at the end.
            if r.state != PlayerState::Ended && (r.position - target).abs() > SEEK_THRESHOLD {
                self.seek(now, target, out);
            }
            self.expect = None;
            self.autoplay.play_at = None;
            self.stats.last_action = "ended".to_owned();
            return;
        }
        let comp = self.drift.seek_latency() * s.rate;
        let err = r.position - target;
        let fresh = r.state.is_fresh() || r.state == PlayerState::Ended;
        // A pause of ours still on its way (a held own start, say) stops the player right
        // after this reading: it counts as stopped, or nothing would start it again.
        let pausing = self.expect.is_some_and(|e| !e.playing);
        let stopped = !r.state.is_playing_ish() || pausing;
        // A stopped player is moved to where the session will be once it actually plays
        // (the learned start latency ahead), so resuming lands in sync instead of behind.
        if stopped || err.abs() > SEEK_THRESHOLD {
            let to = clamp_position(target + comp, s.duration);
            self.seek(now, to, out);
            if fresh {
                // The first start loads the video: slower than later seeks, so only an
                // upper bound of their latency (it lowers a guess that was too high).
                self.drift.record_first_start(now, comp);
            } else {
                self.drift.record_apply_seek(now, comp);
            }
            self.stats.last_action = format!("apply: seek {to:.3}");
        }
        if stopped {
            self.play_expected(now, out);
            self.stats.last_action = "apply: play".to_owned();
        }
        self.drift.reset(now, SETTLE_MS);
    }

    /// A paused room: the player is paused (unless the viewer's own play is starting) and
    /// moved to the paused position when it is off by more than [`PAUSED_SNAP`].
    fn apply_paused(&mut self, now: f64, r: Reading, s: &PlaybackState, out: &mut Vec<Action>) {
        self.autoplay.play_at = None;
        // Only a pause we issue produces state events to expect; a seek of an already
        // paused player produces none, and expecting one would swallow the viewer's next
        // real action.
        let mut paused = false;
        // A play of the viewer's own that is starting (BUFFERING) is not undone: it is
        // sent when the player confirms it (PLAYING).
        let starting = self.user_start.is_some() && r.state == PlayerState::Buffering;
        if r.state.is_playing_ish() && !starting {
            out.push(Action::Pause);
            paused = true;
        }
        if (r.position - s.position).abs() > PAUSED_SNAP {
            self.seek(now, s.position, out);
            if r.state.is_fresh() {
                // seekTo on a fresh player starts playback: pause right after.
                out.push(Action::Pause);
                paused = true;
            }
            self.stats.last_action = format!("apply: seek paused to {:.3}", s.position);
        }
        if paused {
            self.expect_state(now, false);
            self.stats.last_action = format!("apply: pause at {:.3}", s.position);
        }
        if self.drift.end_pulse(now) {
            out.push(Action::SetRate(s.rate));
        }
    }
}
