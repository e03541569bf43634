//! A safety net for a player left stopped while the room plays. Every path that stops a player
//! either sends the viewer's pause (a command in flight), or expects the stop and ends it
//! itself (a held start, an apply). Should one of those be lost — a pause of ours that lands
//! after the room's start was applied, a start call a busy player swallowed — the player would
//! sit paused with nothing left to move it: no event comes, and drift control only acts on a
//! playing player. So when the room plays, nothing of ours is under way and the player has
//! shown PAUSED (or CUED) for [`STUCK_GRACE_MS`], the room's state is applied again; a player
//! that keeps stopping is retried with a doubling grace up to [`STUCK_MAX_MS`] (per revision). It never sends
//! anything: a stuck player is a fact about one viewer, not an action of theirs.

use super::{ConnStatus, Engine};
use crate::playback::PlaybackState;
use crate::sync::{Action, PlayerState, Reading};

/// How long a player may show PAUSED while the room plays, with nothing of ours under way,
/// before the room's state is applied again (ms).
pub const STUCK_GRACE_MS: f64 = 1_500.0;
/// The longest grace after repeated retries (ms).
pub const STUCK_MAX_MS: f64 = 12_000.0;

/// Since when the player has been seen stuck, and how often it was retried for the room's
/// current revision (a new one, someone's action, starts afresh).
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
    /// Applies the room's state again to a player stuck stopped while the room plays (see the
    /// module). True when it acted.
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
        if r.state == PlayerState::Playing {
            self.stuck.since = None;
            return false;
        }
        let stopped = matches!(r.state, PlayerState::Paused | PlayerState::Cued);
        let idle = self.status == ConnStatus::Live
            && self.pending.is_none()
            && self.queued.is_none()
            && self.expect.is_none()
            && self.guard.is_none()
            && self.scheduled.is_none()
            && self.autoplay.play_at.is_none()
            && !self.autoplay.blocked;
        if !(s.playing && stopped && idle && !ended) {
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
        self.stats.last_action = format!("stuck {:.0} ms: resume", now - since);
        true
    }
}
