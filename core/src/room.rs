//! The room's rules on top of [`crate::playback`]: queue edits, "play now" and the automatic
//! advance to the next queued video. Pure, shared by every server instance, unit- and
//! property-tested here.
//!
//! One stored document per session ([`PlaybackState`], with its `queue`) and one total order of
//! revisions. Two conflict rules live side by side:
//!
//! * **Playback commands** (play, pause, seek, rate, video, play now) keep "first command per
//!   revision wins", but only *playback* changes make them stale: a command based on revision
//!   `b` is accepted while no playback change happened after `b` (`b >= playback_revision`),
//!   so somebody adding to the queue never makes an in-flight pause stale.
//! * **Queue edits** carry no base at all: they name items by id and are applied to the newest
//!   state; on a compare-and-set conflict the server applies them again to the state it got
//!   back. Concurrent adds therefore both survive, and edits of different items commute
//!   ([`crate::queue`]).
//!
//! **Advance** (the current video ended): any instance may attempt
//! `Advance { from: playback_revision }` once the state is playing past its duration. It is
//! applied only if the playback revision is still `from` and the state has really ended at the
//! server's clock, so among any number of attempts (instances, retries) exactly one changes
//! the state; the others are no-ops. An empty queue simply ends the room (no change).
//!
//! **Rights** ([`crate::rights`]) are checked here too, against the state being replaced, so a
//! lock and a command racing it are ordered like any two changes: a control command by a
//! viewer who may not control (the room is locked and they are no host, or they were
//! removed) is refused with [`RoomError::Forbidden`]. Rights changes are baseless (applied to
//! the newest state, like queue edits) and bump `revision` only.

use crate::playback::{self, Command, CommandError, PlaybackState};
use crate::queue::{ItemId, QueueEdit, QueueError};
use crate::ready_skip::{self, ReadySkipError, TogetherCommand};
use crate::rights::{Kid, RightsCommand, RightsError};

/// Everything that can change a room.
#[derive(Clone, Debug, PartialEq)]
pub enum RoomCommand {
    /// A playback command (first command per playback revision wins).
    Playback(Command),
    /// A queue edit (applied to the newest state; all survive).
    Queue(QueueEdit),
    /// Play a queued item now: it leaves the queue and becomes the video (a playback change).
    PlayNow {
        /// The item.
        item: ItemId,
    },
    /// The video that started at playback revision `from` ended: play the next queued item.
    Advance {
        /// The playback revision the caller saw ended.
        from: u64,
    },
    /// A change of who may do what (hosts only; see [`crate::rights`]).
    Rights(RightsCommand),
    /// The room's settings, the ready check and vote to skip (see [`crate::ready_skip`]).
    Together(TogetherCommand),
    /// End the hold made at revision `from` and play from its position (see [`crate::hold`]):
    /// the server's release (everyone ready, or the deadline) or a person's "Start now".
    /// Applied only while that hold is on, so it happens once.
    Release {
        /// The revision that made the hold.
        from: u64,
    },
    /// Viewer `who`'s player stalls in the middle of the playback revision `from`: hold the
    /// room for at most `deadline_ms` (see [`crate::hold::stall`]; the server's own change).
    Stall {
        /// The playback revision the caller saw.
        from: u64,
        /// The viewer that stalls.
        who: crate::hold::Waiting,
        /// The hold's length (ms).
        deadline_ms: f64,
    },
    /// Make the room permanent (`Some`) or temporary again (`None`): the host only (see
    /// [`crate::permanent`]).
    Permanence(Option<crate::permanent::Permanence>),
}

/// Who asks for a change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Actor<'a> {
    /// The server itself (the automatic advance): no rights checked.
    Server,
    /// A viewer, by public id.
    Viewer(&'a Kid),
}

impl From<Command> for RoomCommand {
    fn from(c: Command) -> Self {
        RoomCommand::Playback(c)
    }
}

impl RoomCommand {
    /// True for commands that are applied to the newest state whatever the sender's base.
    pub fn is_baseless(&self) -> bool {
        matches!(
            self,
            RoomCommand::Queue(_)
                | RoomCommand::Advance { .. }
                | RoomCommand::Rights(_)
                | RoomCommand::Together(_)
                | RoomCommand::Release { .. }
                | RoomCommand::Stall { .. }
                | RoomCommand::Permanence(_)
                | RoomCommand::Playback(Command::Duration { .. })
                | RoomCommand::Playback(Command::VideoDuration { .. })
        )
    }

    /// True for commands that control playback, the video or the queue (refused in a locked
    /// room unless the sender is a host). Duration reports are measurements, not control.
    pub fn is_control(&self) -> bool {
        match self {
            RoomCommand::Playback(c) => {
                !matches!(c, Command::Duration { .. } | Command::VideoDuration { .. })
            }
            RoomCommand::Queue(_) | RoomCommand::PlayNow { .. } | RoomCommand::Release { .. } => {
                true
            }
            RoomCommand::Advance { .. }
            | RoomCommand::Rights(_)
            | RoomCommand::Together(_)
            | RoomCommand::Permanence(_)
            | RoomCommand::Stall { .. } => false,
        }
    }
}

/// Limits the rules need (from the server's settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomLimits {
    /// Most items in a queue.
    pub max_queue: usize,
    /// How long a removed viewer stays out (s).
    pub removal_secs: u64,
    /// The lead of a scheduled start (ms; 0 = start at once): see
    /// [`playback::apply_scheduled`]. The server picks it per change from the players'
    /// measured start needs.
    pub start_lead_ms: u32,
}

/// Default of the setting `removal_secs`.
pub const DEFAULT_REMOVAL_SECS: u64 = 600;

impl Default for RoomLimits {
    fn default() -> Self {
        Self {
            max_queue: crate::queue::DEFAULT_MAX_QUEUE,
            removal_secs: DEFAULT_REMOVAL_SECS,
            start_lead_ms: 0,
        }
    }
}

/// Why a room command was refused; nothing changed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RoomError {
    /// A playback rule refused it (bad value, stale).
    #[error(transparent)]
    Playback(#[from] CommandError),
    /// A queue rule refused it (unknown item, full).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The sender may not do this (see [`crate::rights`]).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A rights change that makes no sense (too many co-hosts, a removed viewer as host).
    #[error("{0}")]
    InvalidRights(&'static str),
    /// A ready-check or vote rule refused it (see [`crate::ready_skip`]).
    #[error(transparent)]
    Together(#[from] ReadySkipError),
}

impl From<RightsError> for RoomError {
    fn from(e: RightsError) -> Self {
        match e {
            RightsError::Forbidden(m) => RoomError::Forbidden(m),
            RightsError::Invalid(m) => RoomError::InvalidRights(m),
        }
    }
}

/// Applies `cmd` (sent by a viewer who had seen `base_revision`) at server time `now`, with
/// no rights checked (the server's own changes and tests; viewers go through [`apply_by`]).
/// `Ok(Some(next))` with `revision + 1` when the room changes, `Ok(None)` when nothing changes.
pub fn apply(
    state: &PlaybackState,
    cmd: &RoomCommand,
    base_revision: u64,
    now: f64,
    limits: RoomLimits,
) -> Result<Option<PlaybackState>, RoomError> {
    apply_by(state, cmd, base_revision, now, limits, Actor::Server)
}

/// [`apply`] for `actor`, checking its rights against `state` first. Every change also
/// settles the ready check and the skip votes ([`ready_skip::settle`]: a new video starts a
/// new skip round, playback starting ends the check).
pub fn apply_by(
    state: &PlaybackState,
    cmd: &RoomCommand,
    base_revision: u64,
    now: f64,
    limits: RoomLimits,
    actor: Actor<'_>,
) -> Result<Option<PlaybackState>, RoomError> {
    let mut next = apply_rules(state, cmd, base_revision, now, limits, actor)?;
    if let Some(n) = next.as_mut() {
        // A vote's change that took a queued item is the skip (even to the same video).
        let skipped = matches!(cmd, RoomCommand::Together(TogetherCommand::VoteSkip { .. }))
            && n.queue.items.len() < state.queue.items.len();
        let video_changed = skipped
            || matches!(
                cmd,
                RoomCommand::PlayNow { .. }
                    | RoomCommand::Advance { .. }
                    | RoomCommand::Playback(Command::Video { .. })
            );
        let play = matches!(cmd, RoomCommand::Playback(Command::Play { .. }));
        ready_skip::settle(state, n, video_changed, play);
        n.ready_skip.by_vote = skipped;
    }
    Ok(next)
}

/// [`apply_by`] without settling the ready check and the votes.
fn apply_rules(
    state: &PlaybackState,
    cmd: &RoomCommand,
    base_revision: u64,
    now: f64,
    limits: RoomLimits,
    actor: Actor<'_>,
) -> Result<Option<PlaybackState>, RoomError> {
    if let Actor::Viewer(kid) = actor {
        if state.rights.is_removed(kid, now) {
            return Err(RoomError::Forbidden(
                "you were removed from this watch party",
            ));
        }
        if cmd.is_control() && !state.rights.may_control(kid) {
            return Err(RoomError::Forbidden(crate::rights::LOCKED));
        }
    }
    let lead = f64::from(limits.start_lead_ms);
    match cmd {
        RoomCommand::Together(c) => {
            let Actor::Viewer(kid) = actor else {
                return Err(RoomError::Forbidden(crate::rights::NOT_A_HOST));
            };
            match ready_skip::apply(state, c, kid, state.rights.is_host(kid))? {
                ready_skip::Step::Next(next) => Ok(next.map(|n| *n)),
                // The crossing vote: the room's own "play now" of the first queued item, in
                // this same change (so it happens once).
                ready_skip::Step::Skip(item) => apply_rules(
                    state,
                    &RoomCommand::PlayNow { item },
                    state.revision,
                    now,
                    limits,
                    Actor::Server,
                ),
            }
        }
        RoomCommand::Rights(c) => {
            let Actor::Viewer(kid) = actor else {
                return Err(RoomError::Forbidden(crate::rights::NOT_A_HOST));
            };
            let removal_ms = limits.removal_secs as f64 * 1000.0;
            Ok(state
                .rights
                .apply(kid, c, now, removal_ms)?
                .map(|rights| PlaybackState {
                    rights,
                    revision: state.revision + 1,
                    playback_revision: state.playback_base(),
                    ..state.clone()
                }))
        }
        RoomCommand::Playback(c) => Ok(playback::apply_scheduled(
            state,
            *c,
            base_revision,
            now,
            lead,
        )?),
        RoomCommand::Queue(edit) => {
            let mut queue = state.queue.clone();
            if !queue.apply(edit, limits.max_queue)? {
                return Ok(None);
            }
            Ok(Some(PlaybackState {
                queue,
                revision: state.revision + 1,
                playback_revision: state.playback_base(),
                ..state.clone()
            }))
        }
        RoomCommand::PlayNow { item } => play_now(state, *item, base_revision, now, lead),
        RoomCommand::Release { from } => release(state, *from, now, limits),
        RoomCommand::Stall {
            from,
            who,
            deadline_ms,
        } => Ok(crate::hold::stall(state, *from, who, now, *deadline_ms)),
        RoomCommand::Advance { from } => advance(state, *from, now, lead),
        RoomCommand::Permanence(to) => {
            let Actor::Viewer(kid) = actor else {
                return Err(RoomError::Forbidden(crate::permanent::NOT_OWNER));
            };
            crate::permanent::apply(state, to.as_ref(), kid).map_err(RoomError::Forbidden)
        }
    }
}

/// Plays a queued item now: it leaves the queue and becomes the video (a scheduled start when
/// the room plays).
fn play_now(
    state: &PlaybackState,
    item: ItemId,
    base_revision: u64,
    now: f64,
    lead: f64,
) -> Result<Option<PlaybackState>, RoomError> {
    let mut rest = state.clone();
    let it = rest
        .queue
        .take(Some(item))
        .ok_or(QueueError::UnknownItem(item.0))?;
    let video = Command::Video {
        video_id: it.video_id,
        position: it.start,
    };
    match playback::apply_scheduled(&rest, video, base_revision, now, lead)? {
        Some(next) => Ok(Some(next)),
        // Already this video at this position: only the queue changes.
        None => Ok(Some(PlaybackState {
            revision: state.revision + 1,
            playback_revision: state.playback_base(),
            ..rest
        })),
    }
}

/// Ends the hold made at revision `from` (see [`crate::hold`]) with a play from its position,
/// by the normal play path (a scheduled start like any play); nothing if that hold is over.
fn release(
    state: &PlaybackState,
    from: u64,
    now: f64,
    limits: RoomLimits,
) -> Result<Option<PlaybackState>, RoomError> {
    let Some((rest, position)) = crate::hold::release(state, from, now) else {
        return Ok(None);
    };
    let play = RoomCommand::Playback(Command::Play { position });
    let base = rest.revision;
    Ok(
        apply_by(&rest, &play, base, now, limits, Actor::Server)?.or_else(|| {
            Some(PlaybackState {
                revision: state.revision + 1,
                playback_revision: state.revision + 1,
                ..rest
            })
        }),
    )
}

/// The automatic advance: only if the playback revision is still `from` and the video has
/// really ended at `now`; the next queued item plays (an empty queue ends the room).
fn advance(
    state: &PlaybackState,
    from: u64,
    now: f64,
    lead: f64,
) -> Result<Option<PlaybackState>, RoomError> {
    if state.playback_base() != from || !state.ended_at(now) {
        return Ok(None);
    }
    let mut rest = state.clone();
    let Some(it) = rest.queue.take(None) else {
        return Ok(None);
    };
    let video = Command::Video {
        video_id: it.video_id,
        position: it.start,
    };
    let base = rest.revision;
    Ok(
        playback::apply_scheduled(&rest, video, base, now, lead)?.or_else(|| {
            Some(PlaybackState {
                revision: state.revision + 1,
                playback_revision: state.playback_base(),
                ..rest
            })
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::VideoId;
    use proptest::prelude::*;

    fn v(i: usize) -> VideoId {
        VideoId::parse(["dQw4w9WgXcQ", "9bZkp7q19f0", "jNQXAC9IVRw"][i % 3]).unwrap()
    }

    fn add(i: usize) -> RoomCommand {
        RoomCommand::Queue(QueueEdit::Add {
            video_id: v(i),
            start: 0.0,
        })
    }

    fn run(s: &PlaybackState, c: &RoomCommand, base: u64, now: f64) -> PlaybackState {
        apply(s, c, base, now, RoomLimits::default())
            .unwrap()
            .expect("a change")
    }

    #[test]
    fn a_queue_edit_does_not_make_an_in_flight_pause_stale() {
        let s = PlaybackState::new(v(0), 0.0, 0.0);
        let played = run(&s, &Command::Play { position: 0.0 }.into(), 1, 0.0);
        assert_eq!((played.revision, played.playback_base()), (2, 2));
        let queued = run(&played, &add(1), 0, 100.0);
        assert_eq!((queued.revision, queued.playback_base()), (3, 2));
        assert_eq!(queued.position_at(1_000.0), played.position_at(1_000.0));
        // A pause based on revision 2 (sent before the add arrived) is still accepted.
        let paused = run(
            &queued,
            &Command::Pause { position: 1.0 }.into(),
            2,
            1_000.0,
        );
        assert!(!paused.playing);
        assert_eq!((paused.revision, paused.playback_base()), (4, 4));
        assert_eq!(paused.queue.items.len(), 1);
        // But a second pause based on 2 lost to the first.
        assert!(matches!(
            apply(
                &paused,
                &Command::Seek { position: 9.0 }.into(),
                3,
                1_100.0,
                RoomLimits::default()
            ),
            Err(RoomError::Playback(CommandError::Stale { .. }))
        ));
    }

    #[test]
    fn play_now_and_unknown_items() {
        let mut s = PlaybackState::new(v(0), 0.0, 0.0);
        s = run(&s, &add(1), 0, 0.0);
        s = run(&s, &add(2), 0, 0.0);
        let id = s.queue.items[1].id;
        let now = run(&s, &RoomCommand::PlayNow { item: id }, s.revision, 10.0);
        assert_eq!(now.video_id, v(2));
        assert_eq!(now.queue.items.len(), 1);
        assert_eq!(now.playback_base(), now.revision);
        assert!(matches!(
            apply(
                &now,
                &RoomCommand::PlayNow { item: id },
                now.revision,
                20.0,
                RoomLimits::default()
            ),
            Err(RoomError::Queue(QueueError::UnknownItem(_)))
        ));
        let full = apply(
            &now,
            &add(0),
            0,
            20.0,
            RoomLimits {
                max_queue: 1,
                ..RoomLimits::default()
            },
        );
        assert_eq!(full, Err(RoomError::Queue(QueueError::Full(1))));
    }

    #[test]
    fn advance_happens_once_and_an_empty_queue_ends() {
        let mut s = PlaybackState::new(v(0), 0.0, 0.0);
        s = run(&s, &Command::Duration { seconds: 10.0 }.into(), 0, 0.0);
        s = run(&s, &Command::Play { position: 0.0 }.into(), s.revision, 0.0);
        s = run(&s, &add(1), 0, 1.0);
        let from = s.playback_base();
        let adv = RoomCommand::Advance { from };
        // Not ended yet: nothing.
        assert_eq!(apply(&s, &adv, 0, 5_000.0, RoomLimits::default()), Ok(None));
        let next = run(&s, &adv, 0, 10_500.0);
        assert_eq!(next.video_id, v(1));
        assert!(next.playing);
        assert_eq!(next.duration, None);
        assert!(next.queue.items.is_empty());
        // Every later attempt from the same revision is a no-op.
        assert_eq!(
            apply(&next, &adv, 0, 11_000.0, RoomLimits::default()),
            Ok(None)
        );
        // The new video ends with an empty queue: the room simply ends.
        let d = run(
            &next,
            &Command::Duration { seconds: 5.0 }.into(),
            0,
            10_600.0,
        );
        let end = RoomCommand::Advance {
            from: d.playback_base(),
        };
        assert_eq!(
            apply(&d, &end, 0, 99_000.0, RoomLimits::default()),
            Ok(None)
        );
    }

    #[test]
    fn a_locked_room_refuses_control_by_viewers_but_not_measurements() {
        use crate::rights::{Kid, Rights};
        let host = Kid::parse(&"1".repeat(32)).unwrap();
        let guest = Kid::parse(&"2".repeat(32)).unwrap();
        let mut s = PlaybackState::new(v(0), 0.0, 0.0);
        s.rights = Rights::owned_by(host.clone());
        let by = |s: &PlaybackState, c: &RoomCommand, who: &Kid| {
            apply_by(
                s,
                c,
                s.revision,
                1_000.0,
                RoomLimits::default(),
                Actor::Viewer(who),
            )
        };
        let lock = RoomCommand::Rights(RightsCommand::Lock { locked: true });
        assert_eq!(
            by(&s, &lock, &guest),
            Err(RoomError::Forbidden(crate::rights::NOT_A_HOST))
        );
        let locked = by(&s, &lock, &host).unwrap().unwrap();
        assert_eq!(locked.revision, s.revision + 1);
        assert_eq!(locked.playback_base(), s.playback_base());
        let play: RoomCommand = Command::Play { position: 0.0 }.into();
        for c in [play.clone(), add(1), Command::Seek { position: 3.0 }.into()] {
            assert_eq!(
                by(&locked, &c, &guest),
                Err(RoomError::Forbidden(crate::rights::LOCKED)),
                "{c:?}"
            );
        }
        assert!(
            by(&locked, &Command::Duration { seconds: 60.0 }.into(), &guest)
                .unwrap()
                .is_some()
        );
        assert!(by(&locked, &play, &host).unwrap().unwrap().playing);
        // The server's own changes (the advance) are never refused for rights.
        assert!(apply(
            &locked,
            &play,
            locked.revision,
            1_000.0,
            RoomLimits::default()
        )
        .unwrap()
        .is_some());
        // A removed viewer can do nothing, even in an open room.
        let removed = by(
            &s,
            &RoomCommand::Rights(RightsCommand::Remove { kid: guest.clone() }),
            &host,
        )
        .unwrap()
        .unwrap();
        assert!(matches!(
            by(&removed, &play, &guest),
            Err(RoomError::Forbidden(_))
        ));
        // The server never issues rights changes.
        assert!(apply(&s, &lock, 0, 0.0, RoomLimits::default()).is_err());
    }

    proptest! {
        /// However many instances attempt the advance, in whatever order and at whatever
        /// times after the end, exactly one attempt changes the room.
        #[test]
        fn advance_is_applied_exactly_once(attempts in proptest::collection::vec(0.0..5_000.0f64, 1..20)) {
            let mut s = PlaybackState::new(v(0), 0.0, 0.0);
            s = run(&s, &Command::Duration { seconds: 10.0 }.into(), 0, 0.0);
            s = run(&s, &Command::Play { position: 0.0 }.into(), s.revision, 0.0);
            s = run(&s, &add(1), 0, 0.0);
            s = run(&s, &add(2), 0, 0.0);
            let from = s.playback_base();
            let mut applied = 0;
            for t in attempts {
                if let Some(next) = apply(&s, &RoomCommand::Advance { from }, 0, 10_000.0 + t, RoomLimits::default()).unwrap() {
                    applied += 1;
                    s = next;
                }
            }
            prop_assert_eq!(applied, 1);
            prop_assert_eq!(s.video_id, v(1));
            prop_assert_eq!(s.queue.items.len(), 1);
        }
    }
}
