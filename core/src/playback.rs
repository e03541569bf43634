//! The authoritative playback state of a session and the pure rules that change it.
//!
//! Everything here is transport- and store-independent: the server applies [`apply`] inside
//! its per-session total order (a mutex in memory, a compare-and-set script in Redis), and
//! clients evaluate [`PlaybackState::position_at`] at their estimate of the server clock.
//!
//! Times are server milliseconds since the Unix epoch (`f64`, sub-millisecond precision);
//! positions are seconds.

use crate::hold::HoldState;
use crate::ids::VideoId;
use crate::queue::Queue;
use crate::ready_skip::ReadySkip;
use crate::rights::Rights;
use crate::together::RoomSettings;
use serde::{Deserialize, Serialize};

pub use crate::video::MAX_POSITION;
/// Slowest playback rate the YouTube player offers.
pub const MIN_RATE: f64 = 0.25;
/// Fastest playback rate the YouTube player offers.
pub const MAX_RATE: f64 = 2.0;
/// A `play` while already playing within this distance (s) of the authoritative position is a
/// no-op; further away it also moves the position (e.g. "replay" after the end).
pub const PLAY_NOOP_TOLERANCE: f64 = 0.5;
/// A `pause`/`seek` that lands within this distance (s) of the current paused position is a
/// duplicate and changes nothing.
pub const DUPLICATE_TOLERANCE: f64 = 0.001;
/// A `duration` report shorter than the session's current position by more than this (s) is
/// implausible (no honest player is shorter than where the room already is) and refused.
pub const DURATION_SLACK: f64 = 1.0;
/// A `duration` report replaces a known duration only when it is longer by more than this (s).
pub const DURATION_EXTEND_MIN: f64 = 0.5;

/// The authoritative state of one session. `revision` grows by one with every accepted change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaybackState {
    /// The video everybody watches.
    pub video_id: VideoId,
    /// Playing (true) or paused (false).
    pub playing: bool,
    /// Position in seconds at `updated_at`.
    pub position: f64,
    /// Server time (ms since the Unix epoch) at which `position` was true.
    pub updated_at: f64,
    /// Playback rate (1.0 = normal).
    pub rate: f64,
    /// Total order of accepted changes; starts at 1.
    pub revision: u64,
    /// Video length in seconds once a viewer's player reported it.
    #[serde(default)]
    pub duration: Option<f64>,
    /// Revision of the last *playback* change (0 in documents written before the room existed:
    /// then `revision` counts). Only playback changes make playback commands stale; queue edits
    /// bump `revision` only (see [`crate::room`]).
    #[serde(default)]
    pub playback_revision: u64,
    /// The room's queue.
    #[serde(default, skip_serializing_if = "Queue::is_unused")]
    pub queue: Queue,
    /// Display name of the viewer whose command made this revision (for notices such as
    /// "Ana paused at 12:31"); `None` for server-made changes and unnamed viewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// Who may do what: host, co-hosts, "hosts control", removed viewers (see
    /// [`crate::rights`]).
    #[serde(default, skip_serializing_if = "Rights::is_empty")]
    pub rights: Rights,
    /// The room's settings for moving as one (see [`crate::together`]).
    #[serde(default, skip_serializing_if = "RoomSettings::is_default")]
    pub settings: RoomSettings,
    /// The ready check and the skip votes (see [`crate::ready_skip`]).
    #[serde(default, skip_serializing_if = "ReadySkip::is_empty")]
    pub ready_skip: ReadySkip,
    /// "Wait for everyone": the hold in progress and what limits the next (see
    /// [`crate::hold`]).
    #[serde(default, skip_serializing_if = "HoldState::is_empty")]
    pub hold: HoldState,
    /// Set while the room is permanent (kept without expiry; see [`crate::permanent`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent: Option<crate::permanent::Permanence>,
}

impl PlaybackState {
    /// A new, paused session at `start` seconds.
    pub fn new(video_id: VideoId, start: f64, now: f64) -> Self {
        Self {
            video_id,
            playing: false,
            position: clamp_position(start, None),
            updated_at: now,
            rate: 1.0,
            revision: 1,
            duration: None,
            playback_revision: 0,
            queue: Queue::default(),
            changed_by: None,
            rights: Rights::default(),
            settings: RoomSettings::default(),
            ready_skip: ReadySkip::default(),
            hold: HoldState::default(),
            permanent: None,
        }
    }

    /// The oldest base revision a playback command may have and still be accepted: the
    /// revision of the last playback change.
    pub fn playback_base(&self) -> u64 {
        if self.playback_revision == 0 || self.playback_revision > self.revision {
            self.revision
        } else {
            self.playback_revision
        }
    }

    /// Where playback is at server time `now` (ms): `position + (now - updated_at) * rate`
    /// while playing, `position` while paused; clamped to `[0, duration]`.
    /// Monotone in `now` while playing; a `now` before `updated_at` gives `position`.
    pub fn position_at(&self, now: f64) -> f64 {
        let p = if self.playing {
            let elapsed = ((now - self.updated_at) / 1000.0).max(0.0);
            self.position + elapsed * self.rate
        } else {
            self.position
        };
        clamp_position(p, self.duration)
    }

    /// True when the session is playing and has reached the end of the video.
    pub fn ended_at(&self, now: f64) -> bool {
        match self.duration {
            Some(d) => self.playing && self.position_at(now) >= d,
            None => false,
        }
    }
}

/// Clamps a position into `[0, duration]` (or `[0, MAX_POSITION]` when unknown).
pub fn clamp_position(p: f64, duration: Option<f64>) -> f64 {
    let hi = duration.unwrap_or(MAX_POSITION);
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, hi)
    }
}

/// A change a viewer asks for.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Play from `position` (the position the sender's player showed).
    Play {
        /// Seconds.
        position: f64,
    },
    /// Pause at `position` (the position the sender's player showed).
    Pause {
        /// Seconds.
        position: f64,
    },
    /// Jump to `position`, keeping play/pause as it is.
    Seek {
        /// Seconds.
        position: f64,
    },
    /// Change the playback rate, keeping the current position.
    Rate {
        /// 0.25 ..= 2.0.
        rate: f64,
    },
    /// The sender's player learned the video length. Only plausible reports count, and only
    /// ever to make the known duration longer (see [`apply`]).
    Duration {
        /// Seconds.
        seconds: f64,
    },
    /// Switch the room to another video at `position`, keeping play/pause and the rate. The
    /// duration becomes unknown until a player reports the new one. Like play/pause/seek,
    /// the first command per revision wins.
    Video {
        /// The new video.
        video_id: VideoId,
        /// Where to start it (seconds).
        position: f64,
    },
    /// [`Command::Duration`] for a named video: ignored (a no-op) when the session has
    /// switched to another video meanwhile, so a late report never gives the new video the
    /// old one's length.
    VideoDuration {
        /// The video the sender's player measured.
        video_id: VideoId,
        /// Seconds.
        seconds: f64,
    },
}

/// Why a command was not applied.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// A number was not finite or out of range.
    #[error("{0}")]
    InvalidValue(&'static str),
    /// The command was based on an older revision: somebody else's change came first.
    #[error("stale command: based on revision {base}, session is at {current}")]
    Stale {
        /// The revision the sender had seen.
        base: u64,
        /// The session's revision now.
        current: u64,
    },
}

/// Validates a position sent by a client.
fn valid_position(p: f64) -> Result<f64, CommandError> {
    if !p.is_finite() {
        return Err(CommandError::InvalidValue(
            "position must be a finite number",
        ));
    }
    if !(0.0..=MAX_POSITION).contains(&p) {
        return Err(CommandError::InvalidValue("position out of range"));
    }
    Ok(p)
}

/// Applies `cmd`, sent by a viewer who had seen `base_revision`, at server time `now`.
///
/// Returns `Ok(Some(next))` with `revision + 1` when the state changes, `Ok(None)` for a
/// harmless duplicate, and an error (state unchanged) for bad values or a stale base.
/// Conflict rule: the first command applied for a revision wins; every other command based on
/// that revision is stale, so concurrent commands resolve to one outcome for everybody. Only
/// playback changes count: a base at or after the last playback change
/// ([`PlaybackState::playback_base`]) is current even if queue edits came since.
///
/// Duration rule (no single viewer can clamp the room):
/// - `Duration` is informational and accepted whatever its base, but only when plausible: a
///   report shorter than the session's current position (minus [`DURATION_SLACK`]) is refused
///   (`InvalidValue`);
/// - reports only ever make the known duration longer (by more than [`DURATION_EXTEND_MIN`]);
///   a shorter or equal report is a no-op, so an honest player's report repairs a short, poisoned
///   one and a short report never undoes an honest one;
/// - the duration only stops playback at the end ([`PlaybackState::position_at`] clamps to
///   it); `play`/`pause`/`seek` positions are *not* clamped to it: a position past the known
///   duration proves the report wrong (the sender's player went there) and drops it
///   (`duration = None`, to be reported again).
pub fn apply(
    state: &PlaybackState,
    cmd: Command,
    base_revision: u64,
    now: f64,
) -> Result<Option<PlaybackState>, CommandError> {
    apply_scheduled(state, cmd, base_revision, now, 0.0)
}

/// [`apply`] with **scheduled starts**: a change that starts the room moving from a new
/// point — a play while paused (a start or a resume), a play or seek while playing, a video
/// change while playing — takes effect `lead_ms` after `now`: the new state says "at
/// `position`, playing, from `updated_at` = `now + lead_ms`", and [`PlaybackState::position_at`]
/// holds `position` until then. Every player, the sender's included, waits at `position` and
/// starts at that moment (see `crate::sync::engine`). A pause, a rate change, a seek while
/// paused and a video change while paused take effect at once, as before; so does anything
/// with `lead_ms` 0. A change inside a scheduled window keeps the scheduled moment (a duration
/// report or a rate change never moves a start earlier).
pub fn apply_scheduled(
    state: &PlaybackState,
    cmd: Command,
    base_revision: u64,
    now: f64,
    lead_ms: f64,
) -> Result<Option<PlaybackState>, CommandError> {
    let mut next = apply_now(state, cmd, base_revision, now)?;
    if let Some(n) = next.as_mut() {
        let moves = match cmd {
            Command::Play { .. } => true,
            Command::Seek { .. } | Command::Video { .. } => state.playing,
            _ => false,
        };
        if moves && n.playing && lead_ms.is_finite() && lead_ms > 0.0 {
            n.updated_at = now + lead_ms.min(MAX_START_LEAD_MS);
        }
    }
    Ok(next)
}

/// The longest lead a scheduled start may have (ms), whatever the caller asks.
pub const MAX_START_LEAD_MS: f64 = 2_000.0;

fn apply_now(
    state: &PlaybackState,
    cmd: Command,
    base_revision: u64,
    now: f64,
) -> Result<Option<PlaybackState>, CommandError> {
    if !now.is_finite() {
        return Err(CommandError::InvalidValue("server time must be finite"));
    }
    // Validate before the staleness check so bad input always gets the same clear error.
    if let Command::VideoDuration { video_id, seconds } = cmd {
        if video_id != state.video_id {
            // Validate anyway: bad input gets the same error whatever the session plays.
            apply_now(state, Command::Duration { seconds }, base_revision, now)?;
            return Ok(None);
        }
        return apply_now(state, Command::Duration { seconds }, base_revision, now);
    }
    match cmd {
        Command::Play { position }
        | Command::Pause { position }
        | Command::Seek { position }
        | Command::Video { position, .. } => {
            valid_position(position)?;
        }
        Command::Rate { rate } => {
            if !rate.is_finite() || !(MIN_RATE..=MAX_RATE).contains(&rate) {
                return Err(CommandError::InvalidValue(
                    "rate must be between 0.25 and 2",
                ));
            }
        }
        Command::Duration { seconds } => {
            if !seconds.is_finite() || seconds <= 0.0 || seconds > MAX_POSITION {
                return Err(CommandError::InvalidValue("duration out of range"));
            }
        }
        Command::VideoDuration { .. } => unreachable!("handled above"),
    }
    if let Command::Duration { seconds } = cmd {
        if seconds < state.position_at(now) - DURATION_SLACK {
            return Err(CommandError::InvalidValue(
                "duration shorter than the session's position",
            ));
        }
        if state
            .duration
            .is_some_and(|d| seconds <= d + DURATION_EXTEND_MIN)
        {
            return Ok(None);
        }
        let mut next = rebase(state, now);
        next.duration = Some(seconds);
        next.position = clamp_position(next.position, next.duration);
        // A length learned is no playback change: a play, pause or seek sent before it is
        // still the first of its revision (a viewer's first play raced its own player's
        // report and was lost as `stale`).
        next.playback_revision = state.playback_base();
        return Ok(Some(next));
    }
    if base_revision < state.playback_base() || base_revision > state.revision {
        return Err(CommandError::Stale {
            base: base_revision,
            current: state.revision,
        });
    }
    let current = state.position_at(now);
    let mut next = rebase(state, now);
    match cmd {
        Command::Play { position } => {
            if state.playing && (position - current).abs() <= PLAY_NOOP_TOLERANCE {
                return Ok(None);
            }
            next.playing = true;
            set_position(&mut next, position);
        }
        Command::Pause { position } => {
            if !state.playing && (position - state.position).abs() < DUPLICATE_TOLERANCE {
                return Ok(None);
            }
            next.playing = false;
            next.updated_at = now;
            set_position(&mut next, position);
        }
        Command::Seek { position } => {
            if !state.playing && (position - state.position).abs() < DUPLICATE_TOLERANCE {
                return Ok(None);
            }
            set_position(&mut next, position);
        }
        Command::Rate { rate } => {
            if (rate - state.rate).abs() < f64::EPSILON {
                return Ok(None);
            }
            next.rate = rate;
        }
        Command::Video { video_id, position } => {
            if video_id == state.video_id {
                // The same video again: a seek that also works while playing.
                if !state.playing && (position - state.position).abs() < DUPLICATE_TOLERANCE {
                    return Ok(None);
                }
                set_position(&mut next, position);
            } else {
                next.video_id = video_id;
                next.duration = None;
                next.position = clamp_position(position, None);
            }
        }
        Command::Duration { .. } | Command::VideoDuration { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(Some(next))
}

/// Sets a viewer-chosen position; a position past the known duration drops the duration (the
/// report was wrong: the sender's player went there), so a report never holds a seek.
fn set_position(next: &mut PlaybackState, position: f64) {
    if next.duration.is_some_and(|d| position > d) {
        next.duration = None;
    }
    next.position = clamp_position(position, next.duration);
}

/// The same state re-anchored at `now` with the next revision. A scheduled start still ahead
/// (`updated_at` after `now`) keeps its anchor: nothing but a new start moves it.
fn rebase(state: &PlaybackState, now: f64) -> PlaybackState {
    PlaybackState {
        position: state.position_at(now),
        updated_at: now.max(if state.playing { state.updated_at } else { now }),
        revision: state.revision + 1,
        playback_revision: state.revision + 1,
        ..state.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_start_is_scheduled_a_lead_ahead_and_holds_its_position_until_then() {
        let s = PlaybackState::new(vid(), 10.0, 0.0);
        let p = apply_scheduled(&s, Command::Play { position: 10.0 }, 1, 1_000.0, 300.0)
            .unwrap()
            .unwrap();
        assert!(p.playing);
        assert_eq!((p.position, p.updated_at), (10.0, 1_300.0));
        assert_eq!(p.position_at(1_200.0), 10.0);
        assert!((p.position_at(1_800.0) - 10.5).abs() < 1e-9);
        // A duration report and a rate change inside the window keep the start where it is.
        let d = apply_scheduled(&p, Command::Duration { seconds: 99.0 }, 0, 1_100.0, 300.0)
            .unwrap()
            .unwrap();
        assert_eq!((d.position, d.updated_at), (10.0, 1_300.0));
        let r = apply_scheduled(&d, Command::Rate { rate: 2.0 }, 2, 1_150.0, 300.0)
            .unwrap()
            .unwrap();
        assert_eq!((r.position, r.updated_at), (10.0, 1_300.0));
        // A second play of the same moment is the duplicate it always was.
        assert_eq!(
            apply_scheduled(&r, Command::Play { position: 10.1 }, 4, 1_200.0, 300.0),
            Ok(None)
        );
        // A pause inside the window stops it where it was, at once.
        let q = apply_scheduled(&r, Command::Pause { position: 10.0 }, 4, 1_200.0, 300.0)
            .unwrap()
            .unwrap();
        assert!(!q.playing);
        assert_eq!((q.position, q.updated_at), (10.0, 1_200.0));
    }

    #[test]
    fn seeks_and_video_changes_while_playing_are_scheduled_while_paused_ones_are_not() {
        let playing = playing_at(5.0, 0.0);
        let seek = apply_scheduled(
            &playing,
            Command::Seek { position: 60.0 },
            1,
            1_000.0,
            250.0,
        )
        .unwrap()
        .unwrap();
        assert_eq!((seek.position, seek.updated_at), (60.0, 1_250.0));
        let paused = PlaybackState::new(vid(), 5.0, 0.0);
        let seek = apply_scheduled(&paused, Command::Seek { position: 60.0 }, 1, 1_000.0, 250.0)
            .unwrap()
            .unwrap();
        assert_eq!((seek.position, seek.updated_at), (60.0, 1_000.0));
        // Without a lead nothing changes from the old rule.
        let now = apply_scheduled(&playing, Command::Seek { position: 60.0 }, 1, 1_000.0, 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(now.updated_at, 1_000.0);
        assert_eq!(
            apply(&playing, Command::Seek { position: 60.0 }, 1, 1_000.0),
            Ok(Some(now))
        );
    }

    #[test]
    fn a_duration_report_does_not_make_a_play_sent_before_it_stale() {
        let s = PlaybackState::new(vid(), 0.0, 0.0);
        let d = apply(&s, Command::Duration { seconds: 212.0 }, 0, 10.0)
            .unwrap()
            .unwrap();
        assert_eq!(d.revision, 2);
        assert_eq!(d.playback_base(), 1);
        // The viewer pressed play before the report reached it: based on revision 1.
        let p = apply(&d, Command::Play { position: 0.0 }, 1, 20.0)
            .unwrap()
            .unwrap();
        assert!(p.playing);
        assert_eq!(p.playback_base(), 3);
        // A playback change still makes older commands stale.
        assert!(matches!(
            apply(&p, Command::Pause { position: 0.0 }, 2, 30.0),
            Err(CommandError::Stale { .. })
        ));
    }

    fn vid() -> VideoId {
        VideoId::parse("dQw4w9WgXcQ").unwrap()
    }

    fn playing_at(pos: f64, t: f64) -> PlaybackState {
        PlaybackState {
            playing: true,
            position: pos,
            updated_at: t,
            ..PlaybackState::new(vid(), 0.0, t)
        }
    }

    #[test]
    fn position_advances_only_while_playing() {
        let s = playing_at(10.0, 1_000.0);
        assert_eq!(s.position_at(3_000.0), 12.0);
        let paused = PlaybackState {
            playing: false,
            ..s
        };
        assert_eq!(paused.position_at(3_000.0), 10.0);
    }

    #[test]
    fn rate_scales_elapsed_time() {
        let s = PlaybackState {
            rate: 1.5,
            ..playing_at(0.0, 0.0)
        };
        assert!((s.position_at(2_000.0) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn play_pause_seek_bump_revision() {
        let s = PlaybackState::new(vid(), 5.0, 0.0);
        let played = apply(&s, Command::Play { position: 5.0 }, 1, 100.0)
            .unwrap()
            .unwrap();
        assert!(played.playing);
        assert_eq!(played.revision, 2);
        assert_eq!(played.position_at(1_100.0), 6.0);
        let paused = apply(&played, Command::Pause { position: 6.2 }, 2, 1_100.0)
            .unwrap()
            .unwrap();
        assert!(!paused.playing);
        assert_eq!(paused.position, 6.2);
        let seeked = apply(&paused, Command::Seek { position: 60.0 }, 3, 1_200.0)
            .unwrap()
            .unwrap();
        assert!(!seeked.playing);
        assert_eq!(seeked.position_at(99_999.0), 60.0);
        assert_eq!(seeked.revision, 4);
    }

    #[test]
    fn seek_while_playing_keeps_playing() {
        let s = playing_at(10.0, 0.0);
        let next = apply(&s, Command::Seek { position: 100.0 }, 1, 500.0)
            .unwrap()
            .unwrap();
        assert!(next.playing);
        assert_eq!(next.position_at(1_500.0), 101.0);
    }

    #[test]
    fn stale_commands_change_nothing() {
        let s = PlaybackState {
            revision: 7,
            ..playing_at(10.0, 0.0)
        };
        let err = apply(&s, Command::Pause { position: 1.0 }, 6, 10.0).unwrap_err();
        assert_eq!(
            err,
            CommandError::Stale {
                base: 6,
                current: 7
            }
        );
    }

    #[test]
    fn duplicates_are_no_ops() {
        let s = PlaybackState::new(vid(), 5.0, 0.0);
        assert_eq!(
            apply(&s, Command::Pause { position: 5.0 }, 1, 10.0),
            Ok(None)
        );
        let p = playing_at(5.0, 0.0);
        assert_eq!(
            apply(&p, Command::Play { position: 5.3 }, 1, 100.0),
            Ok(None)
        );
        // Far from the authoritative position, play also moves playback (replay from start).
        let replay = apply(&p, Command::Play { position: 0.0 }, 1, 100_000.0)
            .unwrap()
            .unwrap();
        assert_eq!(replay.position, 0.0);
    }

    #[test]
    fn bad_values_are_rejected() {
        let s = PlaybackState::new(vid(), 0.0, 0.0);
        for position in [f64::NAN, f64::INFINITY, -1.0, MAX_POSITION + 1.0, 1e300] {
            assert!(matches!(
                apply(&s, Command::Seek { position }, 1, 0.0),
                Err(CommandError::InvalidValue(_))
            ));
        }
        for rate in [0.0, 3.0, f64::NAN] {
            assert!(apply(&s, Command::Rate { rate }, 1, 0.0).is_err());
        }
        assert!(apply(&s, Command::Duration { seconds: -5.0 }, 1, 0.0).is_err());
    }

    #[test]
    fn duration_is_set_once_and_clamps() {
        let s = playing_at(0.0, 0.0);
        let d = apply(&s, Command::Duration { seconds: 30.0 }, 0, 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(d.duration, Some(30.0));
        assert_eq!(d.position_at(60_000.0), 30.0);
        assert!(d.ended_at(31_000.0));
        // Shorter or equal reports change nothing; a longer one extends.
        assert_eq!(
            apply(&d, Command::Duration { seconds: 20.0 }, 0, 0.0),
            Ok(None)
        );
        let longer = apply(&d, Command::Duration { seconds: 99.0 }, 0, 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(longer.duration, Some(99.0));
        // A seek past the known duration drops it instead of being clamped.
        let seek = apply(&d, Command::Seek { position: 500.0 }, 2, 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(seek.position, 500.0);
        assert_eq!(seek.duration, None);
    }

    #[test]
    fn a_poisoned_duration_never_clamps_the_room() {
        // Issue 11: one socket reports 1e-9 s; an honest seek to 130 s must land at 130 s.
        let s = PlaybackState::new(vid(), 0.0, 0.0);
        let poisoned = apply(&s, Command::Duration { seconds: 1e-9 }, 0, 0.0)
            .unwrap()
            .unwrap();
        let seek = apply(&poisoned, Command::Seek { position: 130.0 }, 2, 10.0)
            .unwrap()
            .unwrap();
        assert_eq!(seek.position_at(20.0), 130.0);
        // Once the room is at 130 s, a report shorter than that is refused.
        assert!(matches!(
            apply(&seek, Command::Duration { seconds: 5.0 }, 0, 30.0),
            Err(CommandError::InvalidValue(_))
        ));
        // An honest player's report repairs a short one.
        let honest = apply(&poisoned, Command::Duration { seconds: 212.0 }, 0, 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(honest.duration, Some(212.0));
        let played = apply(&honest, Command::Play { position: 0.0 }, 3, 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(played.position_at(100_000.0), 100.0);
    }

    fn other() -> VideoId {
        VideoId::parse("9bZkp7q19f0").unwrap()
    }

    #[test]
    fn video_change_keeps_play_pause_and_resets_duration() {
        let s = PlaybackState {
            duration: Some(200.0),
            ..playing_at(50.0, 0.0)
        };
        let cmd = Command::Video {
            video_id: other(),
            position: 12.0,
        };
        let next = apply(&s, cmd, 1, 1_000.0).unwrap().unwrap();
        assert_eq!(next.video_id, other());
        assert!(next.playing, "a change while playing keeps playing");
        assert_eq!(next.duration, None);
        assert_eq!(next.revision, 2);
        assert_eq!(next.position_at(2_000.0), 13.0);
        let paused = PlaybackState::new(vid(), 30.0, 0.0);
        let next = apply(&paused, cmd, 1, 1_000.0).unwrap().unwrap();
        assert!(!next.playing, "a change while paused stays paused");
        assert_eq!(next.position_at(99_000.0), 12.0);
        // First command per revision wins, like the other playback commands.
        assert!(matches!(
            apply(&next, cmd, 1, 2_000.0),
            Err(CommandError::Stale { .. })
        ));
        assert!(matches!(
            apply(
                &next,
                Command::Video {
                    video_id: vid(),
                    position: f64::NAN
                },
                2,
                0.0
            ),
            Err(CommandError::InvalidValue(_))
        ));
        // The same video at the same paused position is a duplicate.
        assert_eq!(apply(&next, cmd, 2, 3_000.0), Ok(None));
    }

    #[test]
    fn a_late_duration_of_the_previous_video_is_ignored() {
        let s = PlaybackState::new(vid(), 0.0, 0.0);
        let switched = apply(
            &s,
            Command::Video {
                video_id: other(),
                position: 0.0,
            },
            1,
            10.0,
        )
        .unwrap()
        .unwrap();
        let late = Command::VideoDuration {
            video_id: vid(),
            seconds: 30.0,
        };
        assert_eq!(apply(&switched, late, 0, 20.0), Ok(None));
        let right = Command::VideoDuration {
            video_id: other(),
            seconds: 99.0,
        };
        let next = apply(&switched, right, 0, 20.0).unwrap().unwrap();
        assert_eq!(next.duration, Some(99.0));
        let bad = Command::VideoDuration {
            video_id: vid(),
            seconds: -1.0,
        };
        assert!(apply(&switched, bad, 0, 20.0).is_err());
    }

    proptest! {
            #[test]
            fn monotone_while_playing(pos in 0.0..10_000.0f64, t0 in 0.0..1e12f64,
                                      a in 0.0..1e7f64, b in 0.0..1e7f64, rate in MIN_RATE..MAX_RATE) {
                let s = PlaybackState { rate, ..playing_at(pos, t0) };
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                prop_assert!(s.position_at(t0 + lo) <= s.position_at(t0 + hi));
            }

            #[test]
            fn exact_while_paused(pos in 0.0..MAX_POSITION, t in -1e12..1e12f64) {
                let s = PlaybackState::new(vid(), pos, 0.0);
                prop_assert_eq!(s.position_at(t), pos);
            }

            #[test]
            fn always_within_bounds(pos in -1e9..1e9f64, dur in proptest::option::of(1.0..100_000.0f64),
                                    playing: bool, dt in -1e10..1e10f64) {
                let s = PlaybackState { playing, position: pos, duration: dur, ..PlaybackState::new(vid(), 0.0, 0.0) };
                let p = s.position_at(dt);
                prop_assert!(p >= 0.0);
                prop_assert!(p <= dur.unwrap_or(MAX_POSITION));
            }

            #[test]
            fn arbitrary_command_sequences_keep_the_invariants(
                steps in proptest::collection::vec(
                    (0u8..5, proptest::num::f64::ANY, 0u64..4, 0.0..10_000.0f64), 1..60)
            ) {
                // No panic; every accepted change bumps the revision by exactly one; positions stay
                // finite and within [0, duration] when the duration is known; errors change nothing.
                let mut s = PlaybackState::new(vid(), 0.0, 0.0);
                let mut now = 0.0;
                for (which, x, base_lag, dt) in steps {
                    now += dt;
                    let cmd = match which {
                        0 => Command::Play { position: x },
                        1 => Command::Pause { position: x },
                        2 => Command::Seek { position: x },
                        3 => Command::Rate { rate: x },
                        _ => Command::Duration { seconds: x },
                    };
                    let base = s.revision.saturating_sub(base_lag);
                    if let Ok(Some(next)) = apply(&s, cmd, base, now) {
                        prop_assert_eq!(next.revision, s.revision + 1);
                        prop_assert!(next.position.is_finite());
                        prop_assert!(next.position >= 0.0);
                        if let Some(d) = next.duration {
                            prop_assert!(d.is_finite() && d > 0.0);
                            prop_assert!(next.position <= d);
                        }
                        prop_assert!((MIN_RATE..=MAX_RATE).contains(&next.rate));
                        s = next;
                    }
                    let p = s.position_at(now + dt);
                    prop_assert!(p.is_finite() && p >= 0.0);
                    prop_assert!(p <= s.duration.unwrap_or(MAX_POSITION));
                }
            }

            #[test]
            fn accepted_commands_bump_revision_by_one(pos in 0.0..1_000.0f64, which in 0u8..3, now in 0.0..1e9f64) {
                let s = playing_at(1.0, 0.0);
                let cmd = match which { 0 => Command::Play { position: pos }, 1 => Command::Pause { position: pos }, _ => Command::Seek { position: pos } };
                if let Some(next) = apply(&s, cmd, s.revision, now).unwrap() {
                    prop_assert_eq!(next.revision, s.revision + 1);
                    prop_assert_eq!(next.updated_at, now);
                }
            }

            /// Scheduled starts: whatever happens inside a start's window, the room's clock never
            /// runs before the scheduled moment, never jumps backwards in time once running, and a
            /// start is never moved earlier by a change that is not a new start.
            #[test]
            fn a_scheduled_start_is_never_moved_earlier(
                steps in proptest::collection::vec((0u8..6, 0.0..100.0f64, 0.0..300.0f64), 1..30),
                lead in 1.0..400.0f64,
            ) {
                let mut s = PlaybackState::new(vid(), 0.0, 0.0);
                let mut now = 0.0;
                for (which, pos, dt) in steps {
                    now += dt;
                    let cmd = match which {
                        0 => Command::Play { position: pos },
                        1 => Command::Pause { position: pos },
                        2 => Command::Seek { position: pos },
                        3 => Command::Rate { rate: 1.5 },
                        4 => Command::Duration { seconds: 5_000.0 + pos },
                        _ => Command::Video { video_id: vid(), position: pos },
                    };
                    let Ok(Some(next)) = apply_scheduled(&s, cmd, s.revision, now, lead) else { continue };
                    let starts = matches!(cmd, Command::Play { .. })
                        || s.playing && matches!(cmd, Command::Seek { .. } | Command::Video { .. });
                    if next.playing && starts {
                        prop_assert_eq!(next.updated_at, now + lead);
                        prop_assert_eq!(next.position_at(now + lead - 1.0), next.position);
                    } else if next.playing {
                        // Not a new start: the anchor is where it was, or now if that was past.
                        prop_assert_eq!(next.updated_at, s.updated_at.max(now));
                    }
                    s = next;
                }
            }
    }
}
