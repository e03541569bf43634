//! What the player reports to the room: its video's duration (once, outside ads), its end
//! (a witness the room needs before it advances), and the ads it plays (told by their
//! duration; while one plays the engine sends nothing and corrects nothing).

use super::*;

impl Engine {
    /// Reports the video's length once, if the session does not know it yet (or knows a
    /// shorter one: a poisoned report is repaired by the first honest player, issue 11).
    pub(super) fn report_duration(&mut self, r: Reading, out: &mut Vec<Action>) {
        if self.ads.in_ad() {
            return;
        }
        let unknown = self.state.as_ref().is_some_and(|s| {
            s.duration
                .is_none_or(|d| r.duration > d + 2.0 * crate::playback::DURATION_EXTEND_MIN)
        });
        if unknown
            && !self.duration_sent
            && r.duration > 0.0
            && r.duration.is_finite()
            && self.status == ConnStatus::Live
        {
            self.seq = self.seq.wrapping_add(1);
            let video_id = self.state.as_ref().map(|s| s.video_id);
            out.push(Action::Send(ClientMsg::Duration {
                seq: self.seq,
                seconds: r.duration,
                video_id,
            }));
            self.duration_sent = true;
        }
    }

    /// Feeds the ad watch with a reading (`event`: the state event it came with); true while an
    /// ad plays: the reading is then nobody's action and the player is left alone.
    pub(super) fn watch_ads(
        &mut self,
        now: f64,
        event: Option<PlayerState>,
        r: Reading,
        out: &mut Vec<Action>,
    ) -> bool {
        let room = self
            .state
            .as_ref()
            .filter(|s| Some(s.video_id) == self.loaded);
        let room_duration = room.and_then(|s| s.duration);
        let room_paused = room.is_some_and(|s| !s.playing);
        match self.ads.observe(&r, room_duration) {
            AdChange::None => {}
            AdChange::Started => {
                // A person pressed play and got an ad: the room starts when the content does.
                if event == Some(PlayerState::Playing) && room_paused && self.expect.is_none() {
                    self.deferred_play = true;
                }
                self.expect = None;
                self.guard = None;
                self.baseline = None;
                self.user_start = None;
                self.autoplay.play_at = None;
                self.drift.reset(now, SETTLE_MS);
                self.stats.last_action = "ad: waiting for the content".to_owned();
            }
            AdChange::Ended => {
                self.guard = None;
                self.expect = None;
                self.baseline = None;
                self.drift.reset(now, SETTLE_MS);
                self.stats.last_action = "ad over: rejoin".to_owned();
                if std::mem::take(&mut self.deferred_play) && room_paused {
                    self.command(
                        now,
                        Command::Play {
                            position: r.position,
                        },
                        out,
                    );
                } else {
                    // Rejoins at the next step, as a late joiner does.
                    self.needs_apply = true;
                    out.push(Action::WakeAt(now));
                }
            }
        }
        self.ads.in_ad()
    }

    /// Tells the server, once per playback revision, that this player reached the end of the
    /// room's video (ENDED): the witness the server needs before the room's video ends (an ad
    /// never reports ENDED; see [`super::ads`]).
    pub(super) fn report_end(&mut self, r: Reading, out: &mut Vec<Action>) {
        if r.state != PlayerState::Ended || self.status != ConnStatus::Live {
            return;
        }
        let Some(s) = self.state.as_ref() else {
            return;
        };
        if !s.playing
            || self.loaded != Some(s.video_id)
            || self.end_reported == Some(s.playback_base())
        {
            return;
        }
        self.end_reported = Some(s.playback_base());
        out.push(Action::Send(ClientMsg::Ended {
            video_id: s.video_id,
        }));
    }
}
