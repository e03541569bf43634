//! A safety net for a player left off the room's state with nothing under way to bring it back.
//! Every path that moves a player either sends the viewer's change (a command in flight), or
//! expects the move and ends it itself (a held start, an apply, a seek landing). Should one of
//! those be lost, nothing else would move the player again: no event comes, drift control acts
//! only on a playing player in a playing room, and a paused room's position is snapped only
//! when its state is applied. Seen in the browser suite under load:
//! * a pause of ours landing after the room's start was applied: paused while the room plays;
//! * a viewer's seek made while our seek to the room's paused position was landing: the seek
//!   guard took the far reading for a landing that failed, and the player sat 400 s away;
//! * a start of the viewer's own swallowed as our expected echo: playing in a paused room.
//!
//! So when the player has shown something else than the room for [`STUCK_GRACE_MS`] (PAUSED or
//! CUED while the room plays; PLAYING, or paused further than [`SEEK_JUMP_PAUSED`] from the
//! paused position, while the room is paused) and nothing of ours or the viewer's is under way,
//! the room's state is applied again. A player that keeps going off is retried with a doubling
//! grace up to [`STUCK_MAX_MS`] (per revision). It never sends anything: a player off the room
//! is a fact about one viewer, not an action of theirs (a viewer's own change is a command,
//! found by its event or by the poll's jump, before this runs).

use super::{ConnStatus, Engine, SEEK_JUMP_PAUSED};
use crate::playback::PlaybackState;
use crate::sync::{Action, PlayerState, Reading};

/// How long a player may show something else than the room, with nothing under way, before
/// the room's state is applied again (ms).
pub const STUCK_GRACE_MS: f64 = 1_500.0;
/// The longest grace after repeated retries (ms).
pub const STUCK_MAX_MS: f64 = 12_000.0;

/// Since when the player has been seen off the room, and how often it was retried for the
/// room's current revision (a new one, someone's action, starts afresh).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Stuck {
    since: Option<f64>,
    tries: u32,
    revision: u64,
}

impl Stuck {
    fn grace(&self) -> f64 {
        (STUCK_GRACE_MS * 2f64.powi(self.tries.min(8) as i32)).min(STUCK_MAX_MS)
    }
}

impl Engine {
    /// Applies the room's state again to a player left off it (see the module). True when it
    /// acted.
    pub(super) fn unstick(
        &mut self,
        now: f64,
        r: Reading,
        s: &PlaybackState,
        ended: bool,
        out: &mut Vec<Action>,
    ) -> bool {
        if self.stuck.revision != s.revision {
            self.stuck = Stuck {
                revision: s.revision,
                ..Stuck::default()
            };
        }
        if !(self.settled() && self.off_the_room(r, s, ended)) {
            self.stuck.since = None;
            return false;
        }
        let since = *self.stuck.since.get_or_insert(now);
        if now - since < self.stuck.grace() {
            return false;
        }
        self.stuck.since = None;
        self.stuck.tries = self.stuck.tries.saturating_add(1);
        self.apply_state(now, Some(r), out);
        self.stats.last_action = format!("off the room {:.0} ms: re-applied", now - since);
        true
    }

    /// Nothing of ours or the viewer's is under way: no command, no expected play or pause, no
    /// seek landing, no held start, no cue, no own start, no re-apply due.
    fn settled(&self) -> bool {
        self.status == ConnStatus::Live
            && self.pending.is_none()
            && self.queued.is_none()
            && self.expect.is_none()
            && self.guard.is_none()
            && self.scheduled.is_none()
            && self.cueing.is_none()
            && self.user_start.is_none()
            && !self.needs_apply
            && self.autoplay.play_at.is_none()
    }

    /// The player shows something else than the room (a playing room's end, and a player the
    /// browser would not start, are not).
    fn off_the_room(&self, r: Reading, s: &PlaybackState, ended: bool) -> bool {
        if s.playing {
            !ended
                && !self.autoplay.blocked
                && matches!(r.state, PlayerState::Paused | PlayerState::Cued)
        } else {
            r.state == PlayerState::Playing
                || (r.state == PlayerState::Paused
                    && (r.position - s.position).abs() > SEEK_JUMP_PAUSED)
        }
    }
}
