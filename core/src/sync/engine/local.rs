//! The viewer's own changes: a play, pause or seek made inside the player (seen as an
//! unexpected event, or as a jump between two polls) becomes a command based on the last
//! revision seen; one command is in flight at a time and later ones wait, folded into one
//! ([`merge_queued`]); a change this viewer may not make is put back instead of sent.

use super::*;

impl Engine {
    /// A player change nobody expected: the viewer did it inside the player.
    pub(super) fn local_change(
        &mut self,
        now: f64,
        prev: Option<PlayerState>,
        st: PlayerState,
        r: Reading,
        out: &mut Vec<Action>,
    ) {
        let Some(s) = self.state.clone() else {
            return;
        };
        match st {
            PlayerState::Playing => {
                if self.autoplay.blocked {
                    // Started from inside the player: that click was the user gesture.
                    self.autoplay = Autoplay::default();
                    self.sync_join(out);
                    if s.playing {
                        self.apply_state(now, Some(r), out);
                        return;
                    }
                }
                let target = s.position_at(self.clock.server_time(r.at));
                let session_ended = s.duration.is_some_and(|d| target >= d - END_EPSILON);
                if !s.playing
                    || (prev == Some(PlayerState::Ended) || session_ended)
                        && (r.position - target).abs() > SEEK_JUMP_PLAYING
                {
                    // Sent from where the viewer pressed play, and held there: the room
                    // starts everyone, this player included, at its scheduled moment.
                    self.command(
                        now,
                        Command::Play {
                            position: r.position,
                        },
                        out,
                    );
                    self.hold_own_start(now, r, out);
                }
            }
            PlayerState::Paused if s.playing && !self.autoplay.blocked => {
                self.command(
                    now,
                    Command::Pause {
                        position: r.position,
                    },
                    out,
                );
            }
            _ => {}
        }
    }

    /// A seek the viewer made since the last poll (the reading jumped from the baseline; none
    /// of ours is landing): the seek command it stands for, with the baseline moved on. Used
    /// by the poll and by an own echo that arrives before the poll saw the jump.
    pub(super) fn unseen_seek(&mut self, r: Option<Reading>) -> Option<Command> {
        let (r, prev) = (r?, self.baseline?);
        if self.guard.is_some() || self.autoplay.blocked || !is_jump(&prev, &r) {
            return None;
        }
        self.baseline = Some(r);
        // Where the viewer's player is: a seek while the room plays is a scheduled start (the
        // caller holds the player there, see `schedule`).
        Some(Command::Seek {
            position: r.position,
        })
    }

    /// Sends a local change (or queues it behind the one in flight).
    pub(super) fn command(&mut self, now: f64, cmd: Command, out: &mut Vec<Action>) {
        let Some(s) = self.state.as_ref() else {
            return;
        };
        if !self.may_control {
            // Not ours to change: re-apply the room's state at the next step (now).
            self.refused = self.refused.wrapping_add(1);
            self.needs_apply = true;
            out.push(Action::WakeAt(now));
            self.stats.last_action = format!("refused {cmd:?}: hosts control");
            return;
        }
        if self.status != ConnStatus::Live {
            return;
        }
        // A late reading extrapolated back from a start can be a hair below 0: the player is at
        // the start, and the server would refuse the value. Only the range the server accepts:
        // a position past the reported duration is sent as it is (the server then drops the
        // wrong duration, see `playback::apply`).
        let edge = |p: f64| clamp_position(p, None);
        let cmd = match cmd {
            Command::Play { position } => Command::Play {
                position: edge(position),
            },
            Command::Pause { position } => Command::Pause {
                position: edge(position),
            },
            Command::Seek { position } => Command::Seek {
                position: edge(position),
            },
            cmd => cmd,
        };
        if self.pending.is_some() {
            self.stats.note(now, format_args!("queue {cmd:?}"));
            self.queued = Some(merge_queued(self.queued, cmd));
            return;
        }
        self.stats
            .note(now, format_args!("send {cmd:?} on r{}", s.revision));
        self.seq = self.seq.wrapping_add(1);
        out.push(Action::Send(ClientMsg::from_command(
            self.seq, s.revision, cmd,
        )));
        self.pending = Some(Pending {
            seq: self.seq,
            sent_at: now,
        });
        self.drift.reset(now, SETTLE_MS);
        self.stats.last_action = format!("send {cmd:?}");
        // In `recent` already, with its base revision.
        self.noted_action.clone_from(&self.stats.last_action);
    }

    /// True when `cmd` would not change the current state (a coalesced duplicate).
    pub(super) fn redundant(&self, now: f64, cmd: Command) -> bool {
        let Some(s) = self.state.as_ref() else {
            return true;
        };
        let target = s.position_at(self.clock.server_time(now));
        match cmd {
            Command::Play { position } => {
                s.playing && (position - target).abs() <= SEEK_JUMP_PLAYING
            }
            Command::Pause { position } => {
                !s.playing && (position - s.position).abs() <= PAUSED_SNAP
            }
            Command::Seek { position } => (position - target).abs() <= SEEK_JUMP_PAUSED,
            Command::Rate { rate } => (rate - s.rate).abs() < 1e-6,
            Command::Video { video_id, position } => {
                s.video_id == video_id && (position - target).abs() <= SEEK_JUMP_PAUSED
            }
            Command::Duration { .. } | Command::VideoDuration { .. } => true,
        }
    }
}

/// Folds a local change into the one already waiting behind the command in flight, so that a
/// quick series of one viewer's own actions ends where the last one left the player: a seek
/// keeps a waiting play or pause (at the new position); anything else replaces it.
pub(super) fn merge_queued(queued: Option<Command>, cmd: Command) -> Command {
    match (queued, cmd) {
        (Some(Command::Play { .. }), Command::Seek { position }) => Command::Play { position },
        (Some(Command::Pause { .. }), Command::Seek { position }) => Command::Pause { position },
        (_, cmd) => cmd,
    }
}

/// True when `cur` cannot be explained by playback since `prev`: somebody seeked.
pub(super) fn is_jump(prev: &Reading, cur: &Reading) -> bool {
    use PlayerState::*;
    if prev.state.is_fresh() || cur.state.is_fresh() || cur.state == Ended {
        return false;
    }
    let elapsed = ((cur.at - prev.at) / 1000.0).max(0.0);
    if elapsed > MAX_POLL_GAP_S {
        // Timers were throttled (background tab): the player's cached time may be stale too,
        // so a difference proves nothing. Never turn that into a command for everybody.
        return false;
    }
    match (prev.state, cur.state) {
        (Playing, Playing) => {
            let rate = prev.rate.max(cur.rate);
            let lo = prev.position + elapsed * prev.rate.min(cur.rate);
            let hi = prev.position + elapsed * rate;
            cur.position < lo - SEEK_JUMP_PLAYING || cur.position > hi + SEEK_JUMP_PLAYING
        }
        (Paused, Paused) => (cur.position - prev.position).abs() > SEEK_JUMP_PAUSED,
        _ => {
            let rate = prev.rate.max(cur.rate).max(1.0);
            let hi = prev.position + elapsed * rate;
            cur.position < prev.position - SEEK_JUMP_PLAYING
                || cur.position > hi + SEEK_JUMP_PLAYING
        }
    }
}
