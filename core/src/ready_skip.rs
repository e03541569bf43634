//! The ready check and vote to skip (issue 27, parts 3 and 4), and the host's switch for the
//! room's settings ([`RoomSettings`]). Pure rules on the room's document
//! ([`crate::playback::PlaybackState::ready_skip`]), applied by [`crate::room::apply_by`] in the
//! room's one total order, so both stores and every instance see the same thing.
//!
//! * **Settings** (hosts only): replace the room's [`RoomSettings`]; baseless, bumps
//!   `revision` only. Turning `vote_skip` off drops the votes.
//! * **Ready check**: a host opens it (only while the room is paused; refused with
//!   [`ReadySkipError::Playing`] otherwise) or cancels it. While it is open, each viewer marks
//!   itself ready or not ready ([`TogetherCommand::Ready`]): baseless, by the viewer's public
//!   [`Kid`], so concurrent "ready"s all survive. The check ends when playback starts (any
//!   accepted play, or the room going from paused to playing) or when a host cancels it. A
//!   "ready" with no check open changes nothing (it raced the start or the cancel). At most
//!   [`MAX_LISTED`] viewers are listed ready.
//! * **Vote to skip** (with `settings.vote_skip`): each viewer votes for the video of skip
//!   `round` (the round grows by one at every video change, so a vote sent for a video that
//!   is already gone changes nothing). Baseless: concurrent votes all survive. The vote that
//!   makes the votes more than `share` of the `viewers` in the room (inputs the server passes
//!   in) plays the next queued item **in the same change**: it is one compare-and-set, so the
//!   skip happens exactly once however many votes, instances and retries race (a vote retried
//!   after the skip names an old round). Refused with [`ReadySkipError::VoteSkipOff`] when the
//!   setting is off and [`ReadySkipError::NothingToSkip`] when the queue is empty. Votes are
//!   counted when a vote arrives (a viewer leaving does not skip by itself). At most
//!   [`MAX_LISTED`] votes are kept.
//!
//! Hosts skip with a plain "play now" of the first queued item, whatever the setting.

use crate::playback::PlaybackState;
use crate::queue::ItemId;
use crate::rights::Kid;
use crate::together::RoomSettings;
use serde::{Deserialize, Serialize};

/// Most viewers listed ready, and most votes kept (the room's list shows at most 500 rows).
pub const MAX_LISTED: usize = 500;
/// Default share of the room's viewers whose votes skip the video: more than half.
pub const DEFAULT_SKIP_SHARE: f64 = 0.5;

/// The ready check and the skip votes, a field of the room's document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadySkip {
    /// The open ready check, if a host opened one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<ReadyCheck>,
    /// The skip round: grows by one whenever the video changes (votes name it).
    #[serde(skip_serializing_if = "is_zero")]
    pub round: u64,
    /// Who voted to skip the current video (round `round`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub votes: Vec<Kid>,
    /// This revision is the skip a vote made (for the notice "Skipped by vote"); false again
    /// after any other change.
    #[serde(skip_serializing_if = "is_false")]
    pub by_vote: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// An open ready check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadyCheck {
    /// The viewers who said they are ready, in the order they did.
    pub ready: Vec<Kid>,
}

impl ReadySkip {
    /// True when there is nothing to store (no check, no votes, round 0).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Is `kid` listed ready in the open check?
    pub fn is_ready(&self, kid: &Kid) -> bool {
        self.check.as_ref().is_some_and(|c| c.ready.contains(kid))
    }

    /// Did `kid` vote to skip the current video?
    pub fn voted(&self, kid: &Kid) -> bool {
        self.votes.contains(kid)
    }
}

/// How many votes skip the video: more than `share` of `viewers`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quorum {
    /// Viewers in the room (over all instances).
    pub viewers: u32,
    /// The share (0..1) the votes must exceed.
    pub share: f64,
}

impl Quorum {
    /// The fewest votes that skip: the smallest whole number greater than `share × viewers`
    /// (at least 1; a share outside `0..1` is clamped).
    pub fn needed(&self) -> usize {
        let share = if self.share.is_finite() {
            self.share.clamp(0.0, 1.0)
        } else {
            DEFAULT_SKIP_SHARE
        };
        let viewers = f64::from(self.viewers.max(1));
        // floor(x) + 1 is the smallest integer strictly greater than x (the nudge keeps a
        // product such as 0.6 × 5 from rounding below the whole number it is).
        ((share * viewers + 1e-9).floor() as usize + 1).clamp(1, self.viewers.max(1) as usize)
    }
}

/// A change of the ready check, the votes or the settings.
#[derive(Clone, Debug, PartialEq)]
pub enum TogetherCommand {
    /// Replace the room's settings (hosts only).
    Settings(RoomSettings),
    /// Open (`true`) or cancel (`false`) the ready check (hosts only).
    Check {
        /// Open or cancel.
        open: bool,
    },
    /// The sender is ready (`true`) or not (`false`).
    Ready {
        /// Ready or not.
        ready: bool,
    },
    /// The sender votes (`true`) or takes its vote back (`false`) to skip the video of
    /// `round`.
    VoteSkip {
        /// The skip round the sender saw.
        round: u64,
        /// Vote or take back.
        vote: bool,
        /// Viewers in the room and the share to exceed (from the server).
        quorum: Quorum,
    },
}

/// Why a ready-check or vote command was refused; nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadySkipError {
    /// Only hosts change the settings and open or cancel a check.
    #[error("only hosts can do this")]
    NotAHost,
    /// A ready check opens only while the room is paused.
    #[error("pause the room first: a ready check starts while paused")]
    Playing,
    /// The room's "vote to skip" setting is off.
    #[error("vote to skip is off in this room")]
    VoteSkipOff,
    /// Nothing is queued after this video.
    #[error("nothing is queued after this video")]
    NothingToSkip,
}

/// What a [`TogetherCommand`] comes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// The new state (`revision + 1`), or `None` when nothing changes.
    Next(Option<Box<PlaybackState>>),
    /// The vote crossed the quorum: play the first queued item now (the caller runs the
    /// room's "play now" path on `state`, in the same change; the new video's round has no
    /// votes).
    Skip(ItemId),
}

/// Applies `cmd` by `kid` (`is_host`: whether `kid` is a host in `state`). Baseless: applied
/// to the newest state.
pub fn apply(
    state: &PlaybackState,
    cmd: &TogetherCommand,
    kid: &Kid,
    is_host: bool,
) -> Result<Step, ReadySkipError> {
    let mut rs = state.ready_skip.clone();
    let mut settings = state.settings;
    match cmd {
        TogetherCommand::Settings(new) => {
            if !is_host {
                return Err(ReadySkipError::NotAHost);
            }
            settings = *new;
            if !settings.vote_skip {
                rs.votes.clear();
            }
        }
        TogetherCommand::Check { open } => {
            if !is_host {
                return Err(ReadySkipError::NotAHost);
            }
            match (open, &rs.check) {
                (true, None) if state.playing => return Err(ReadySkipError::Playing),
                (true, None) => rs.check = Some(ReadyCheck::default()),
                (false, Some(_)) => rs.check = None,
                _ => return Ok(Step::Next(None)),
            }
        }
        TogetherCommand::Ready { ready } => {
            let Some(check) = rs.check.as_mut() else {
                return Ok(Step::Next(None));
            };
            set_member(&mut check.ready, kid, *ready);
        }
        TogetherCommand::VoteSkip {
            round,
            vote,
            quorum,
        } => {
            if !*vote {
                set_member(&mut rs.votes, kid, false);
            } else if !settings.vote_skip {
                return Err(ReadySkipError::VoteSkipOff);
            } else if *round != rs.round {
                // A vote for a video that is gone (sent before, or retried after, a change).
                return Ok(Step::Next(None));
            } else if let Some(first) = state.queue.items.first() {
                set_member(&mut rs.votes, kid, true);
                if rs.votes.len() >= quorum.needed() {
                    return Ok(Step::Skip(first.id));
                }
            } else {
                return Err(ReadySkipError::NothingToSkip);
            }
        }
    }
    if rs == state.ready_skip && settings == state.settings {
        return Ok(Step::Next(None));
    }
    Ok(Step::Next(Some(Box::new(PlaybackState {
        ready_skip: rs,
        settings,
        revision: state.revision + 1,
        playback_revision: state.playback_base(),
        ..state.clone()
    }))))
}

/// Adds (`on`) or removes `kid` in `list`, keeping it at most [`MAX_LISTED`] long.
fn set_member(list: &mut Vec<Kid>, kid: &Kid, on: bool) {
    let at = list.iter().position(|k| k == kid);
    match (on, at) {
        (true, None) if list.len() < MAX_LISTED => list.push(kid.clone()),
        (false, Some(i)) => {
            list.remove(i);
        }
        _ => {}
    }
}

/// What every accepted room change does to the check and the votes (called by
/// [`crate::room::apply_by`] on each new state; `video_changed`: the command played another
/// video or a queued item): a new video starts a new skip round with no votes; playback
/// starting (`play`, or paused to playing) ends the ready check.
pub fn settle(state: &PlaybackState, next: &mut PlaybackState, video_changed: bool, play: bool) {
    if video_changed || next.video_id != state.video_id {
        next.ready_skip.round = state.ready_skip.round + 1;
        next.ready_skip.votes.clear();
    }
    if play || (next.playing && !state.playing) {
        next.ready_skip.check = None;
    }
}

#[cfg(test)]
mod tests;
