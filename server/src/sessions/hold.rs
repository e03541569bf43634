//! "Wait for everyone" (issue 27): the hold's server side. The rules are pure, in
//! [`watchparty_core::hold`]; this file gives them who is here and applies them in the room's
//! one total order.
//!
//! * **A start that holds**: [`Sessions::apply_as`] hands every accepted change to
//!   [`Sessions::settle_hold`] before the compare-and-set, with who is not ready as this
//!   instance's merged list shows it (every instance's part of the room's list). A retried
//!   compare-and-set decides again on the newer state.
//! * **The release and the stall**: every instance with viewers of a session checks its held
//!   and playing rooms every `advance_check_ms` ([`Sessions::check_holds`]). A hold whose
//!   viewers are all ready (by the merged list), whose deadline (`hold_deadline_ms`) passed, or
//!   whose room no longer waits is released with `Release { from: hold's revision }`: any
//!   number of instances may try, the rule applies it only while that hold is on, so it
//!   happens once. A stall is decided by the instance the stalling viewer is connected to
//!   (its own viewers' health is first-hand there): `Stall { from: playback revision }`.
//!
//! Both are the server's changes (`cause` 0/0, no name). The loop holds only a weak reference
//! to the service and stops when it is gone.

use super::{Outcome, Sessions};
use crate::hub::Hub;
use watchparty_core::hold::{self, Readiness};
use watchparty_core::playback::{Command, PlaybackState};
use watchparty_core::protocol::Cause;
use watchparty_core::room::RoomCommand;

impl Sessions {
    /// The longest a hold lasts (ms), from the settings.
    fn hold_deadline_ms(&self) -> f64 {
        self.settings.hold_deadline_ms as f64
    }

    /// The hold's rule for one accepted change `current` → `next` made by `cmd` (from
    /// connection `cause.conn_id`) at `now`: a start while somebody else is not ready becomes a
    /// hold; during a hold, a pause cancels it and a play or seek keeps it. `None`: the change
    /// comes to nothing (a play during the hold at its position). The sender is never waited
    /// for: its player buffers because its person just pressed play.
    pub(super) fn settle_hold(
        &self,
        hub: &Hub,
        current: &PlaybackState,
        cmd: &RoomCommand,
        next: PlaybackState,
        now: f64,
        cause: Cause,
    ) -> Option<PlaybackState> {
        if matches!(cmd, RoomCommand::Release { .. } | RoomCommand::Stall { .. }) {
            return Some(next);
        }
        let held = current.hold.active.is_some();
        let may_start = current.settings.wait_for_all && hold::starts(current, &next);
        if !held && !may_start {
            return Some(next);
        }
        let pause = matches!(cmd, RoomCommand::Playback(Command::Pause { .. }));
        // During a hold who is ready does not matter: only a new start reads the list.
        let ready = if held {
            Readiness::default()
        } else {
            hub.readiness()
        };
        let sender = (cause.conn_id != 0).then_some(cause.conn_id);
        let deadline = self.hold_deadline_ms();
        hold::settle(current, next, pause, &ready, sender, now, deadline)
    }

    /// A person's pause that the room's rules found a duplicate (the held room is paused at
    /// that position): it cancels the hold all the same.
    pub(super) fn cancel_hold(
        current: &PlaybackState,
        cmd: &RoomCommand,
        now: f64,
    ) -> Option<PlaybackState> {
        match cmd {
            RoomCommand::Playback(Command::Pause { .. }) => hold::cancel(current, now),
            _ => None,
        }
    }

    /// One pass over the local sessions: release the holds that are due, and hold the rooms
    /// in which a local viewer stalls (see the module).
    pub async fn check_holds(&self) {
        for hub in self.hubs.all() {
            let Some(cmd) = self.hold_due(&hub) else {
                continue;
            };
            let cause = Cause { conn_id: 0, seq: 0 };
            match self.apply(&hub, cause, 0, cmd).await {
                Ok(Outcome::Applied(next)) => {
                    let what = if next.hold.active.is_some() {
                        "held"
                    } else {
                        "released"
                    };
                    tracing::info!(session = %hub.id(), revision = next.revision, "room {what}");
                }
                Ok(Outcome::Unchanged(_)) => {}
                Err(e) => tracing::debug!(session = %hub.id(), error = %e, "hold change failed"),
            }
        }
    }

    /// The hold change due in `hub`'s room now, if any.
    fn hold_due(&self, hub: &Hub) -> Option<RoomCommand> {
        let st = hub.latest()?;
        let now = self.clock.now_ms();
        if st.hold.active.is_some() {
            let from = hold::due(&st, &hub.readiness(), now)?;
            return Some(RoomCommand::Release { from });
        }
        if !hold::stall_possible(&st, now) {
            return None;
        }
        let stalled = hub.local_stalled();
        let who = hold::stall_candidate(&st, &stalled, now)?;
        Some(RoomCommand::Stall {
            from: st.playback_base(),
            who: who.clone(),
            deadline_ms: self.hold_deadline_ms(),
        })
    }
}
