//! Vote to skip's inputs: the room's rule ([`watchparty_core::ready_skip`]) needs the viewers
//! in the room and the share their votes must exceed, which only the server knows.
//!
//! Invariants: the viewer count is the session's presence count over all instances
//! ([`Hub::viewers`], the figure every page shows as "N watching"; the roster's health counts
//! leave out viewers whose player has not reported yet), read when the vote arrives; the share
//! is the `skip_vote_share` setting. The vote is then applied like any baseless room change
//! ([`Sessions::apply_as`]), so the vote that crosses the quorum skips in its own
//! compare-and-set and a retry after the skip names an old round (a no-op): the skip happens
//! once. The ready check and the settings need no input beyond the message and go straight
//! through [`watchparty_core::protocol::ClientMsg::room_command`].

use super::Sessions;
use crate::hub::Hub;
use watchparty_core::ready_skip::{Quorum, TogetherCommand};
use watchparty_core::room::RoomCommand;

impl Sessions {
    /// The room command for a viewer's vote (`vote: false` takes it back) on skip `round` in
    /// `hub`'s session.
    pub fn vote_skip(&self, hub: &Hub, round: u64, vote: bool) -> RoomCommand {
        RoomCommand::Together(TogetherCommand::VoteSkip {
            round,
            vote,
            quorum: Quorum {
                viewers: hub.viewers().max(1),
                share: self.settings.skip_vote_share,
            },
        })
    }
}
