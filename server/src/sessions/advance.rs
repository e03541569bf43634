//! The automatic advance: when a room's video has ended and a queue is behind it, the next
//! queued video starts.
//!
//! Invariants: a video has ended only when the room's clock reached its duration **and** a
//! local player reported ENDED ([`Hub::end_witnessed`]; an ad never does). Every instance tries
//! on every check (`advance_check_ms`); the compare-and-set and the `Advance { from }` rule of
//! [`watchparty_core::room`] make it happen once per playback revision. The loop holds only a
//! weak reference to the service and stops when it is gone.

use super::{Outcome, Sessions};
use watchparty_core::protocol::Cause;
use watchparty_core::room::RoomCommand;

impl Sessions {
    /// One pass of the automatic advance: every local session whose video ended (its clock at
    /// the duration, and a local player reported ENDED) with a queue behind it is advanced
    /// (every instance tries; the compare-and-set and the rule in [`watchparty_core::room`]
    /// make it happen once).
    pub async fn advance_ended(&self) {
        let now = self.clock.now_ms();
        for hub in self.hubs.all() {
            let Some(st) = hub.latest() else {
                continue;
            };
            // The end needs a player's word (ENDED) besides the clock: see Hub::witness_end.
            if st.queue.items.is_empty() || !st.ended_at(now) || !hub.end_witnessed(&st) {
                continue;
            }
            let from = st.playback_base();
            let cause = Cause { conn_id: 0, seq: 0 };
            match self
                .apply(&hub, cause, 0, RoomCommand::Advance { from })
                .await
            {
                Ok(Outcome::Applied(next)) => {
                    tracing::info!(session = %hub.id(), video = %next.video_id, revision = next.revision, "advanced to the next queued video");
                }
                Ok(Outcome::Unchanged(_)) => {}
                Err(e) => tracing::debug!(session = %hub.id(), error = %e, "advance failed"),
            }
        }
    }
}
