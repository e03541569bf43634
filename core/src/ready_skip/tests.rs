//! The ready check's and vote to skip's rules, through the room ([`crate::room::apply_by`]).

use super::*;
use crate::ids::VideoId;
use crate::playback::Command;
use crate::queue::QueueEdit;
use crate::rights::Rights;
use crate::room::{apply_by, Actor, RoomCommand, RoomError, RoomLimits};
use proptest::prelude::*;

fn v(i: usize) -> VideoId {
    VideoId::parse(["dQw4w9WgXcQ", "9bZkp7q19f0", "jNQXAC9IVRw"][i % 3]).unwrap()
}

fn kid(i: usize) -> Kid {
    Kid::parse(&format!("{i:032x}")).unwrap()
}

/// A paused room hosted by `kid(0)` with `queued` videos behind the current one.
fn room(queued: usize) -> PlaybackState {
    let mut s = PlaybackState::new(v(0), 0.0, 0.0);
    s.rights = Rights::owned_by(kid(0));
    for i in 0..queued {
        s = by(
            &s,
            &RoomCommand::Queue(QueueEdit::Add {
                video_id: v(i + 1),
                start: 0.0,
            }),
            0,
        )
        .unwrap()
        .unwrap();
    }
    s
}

fn by(s: &PlaybackState, c: &RoomCommand, who: usize) -> Result<Option<PlaybackState>, RoomError> {
    apply_by(
        s,
        c,
        s.revision,
        1_000.0,
        RoomLimits::default(),
        Actor::Viewer(&kid(who)),
    )
}

fn ok(s: &PlaybackState, c: TogetherCommand, who: usize) -> PlaybackState {
    by(s, &RoomCommand::Together(c), who)
        .unwrap()
        .expect("a change")
}

fn vote(round: u64, viewers: u32) -> TogetherCommand {
    TogetherCommand::VoteSkip {
        round,
        vote: true,
        quorum: Quorum {
            viewers,
            share: DEFAULT_SKIP_SHARE,
        },
    }
}

fn with_vote_skip(s: &PlaybackState) -> PlaybackState {
    let on = RoomSettings {
        vote_skip: true,
        ..RoomSettings::default()
    };
    ok(s, TogetherCommand::Settings(on), 0)
}

#[test]
fn settings_are_for_hosts_and_bump_the_revision_only() {
    let s = room(0);
    let on = RoomSettings {
        wait_for_all: true,
        ..RoomSettings::default()
    };
    assert_eq!(
        by(&s, &RoomCommand::Together(TogetherCommand::Settings(on)), 1),
        Err(RoomError::Together(ReadySkipError::NotAHost))
    );
    let next = ok(&s, TogetherCommand::Settings(on), 0);
    assert_eq!(next.settings, on);
    assert_eq!(next.revision, s.revision + 1);
    assert_eq!(next.playback_base(), s.playback_base());
    // The same settings again: nothing changes.
    assert_eq!(
        by(
            &next,
            &RoomCommand::Together(TogetherCommand::Settings(on)),
            0
        ),
        Ok(None)
    );
    // The server never changes settings on its own.
    assert!(crate::room::apply(
        &s,
        &RoomCommand::Together(TogetherCommand::Settings(on)),
        0,
        0.0,
        RoomLimits::default()
    )
    .is_err());
}

#[test]
fn a_ready_check_lists_readies_and_ends_when_playback_starts() {
    let s = room(0);
    let open = TogetherCommand::Check { open: true };
    assert_eq!(
        by(&s, &RoomCommand::Together(open.clone()), 1),
        Err(RoomError::Together(ReadySkipError::NotAHost))
    );
    // A "ready" without a check changes nothing.
    assert_eq!(
        by(
            &s,
            &RoomCommand::Together(TogetherCommand::Ready { ready: true }),
            1
        ),
        Ok(None)
    );
    let mut c = ok(&s, open.clone(), 0);
    assert_eq!(c.ready_skip.check, Some(ReadyCheck::default()));
    assert_eq!(by(&c, &RoomCommand::Together(open.clone()), 0), Ok(None));
    c = ok(&c, TogetherCommand::Ready { ready: true }, 1);
    c = ok(&c, TogetherCommand::Ready { ready: true }, 2);
    assert!(c.ready_skip.is_ready(&kid(1)) && c.ready_skip.is_ready(&kid(2)));
    assert!(!c.ready_skip.is_ready(&kid(3)));
    c = ok(&c, TogetherCommand::Ready { ready: false }, 1);
    assert!(!c.ready_skip.is_ready(&kid(1)));
    assert_eq!(c.playback_base(), s.playback_base());
    // "Start anyway": a plain play ends the check.
    let played = by(&c, &Command::Play { position: 0.0 }.into(), 1)
        .unwrap()
        .unwrap();
    assert!(played.playing);
    assert_eq!(played.ready_skip.check, None);
    // No check while playing.
    assert_eq!(
        by(&played, &RoomCommand::Together(open.clone()), 0),
        Err(RoomError::Together(ReadySkipError::Playing))
    );
    // A host cancels.
    let c = ok(&s, open, 0);
    let cancelled = ok(&c, TogetherCommand::Check { open: false }, 0);
    assert_eq!(cancelled.ready_skip.check, None);
}

#[test]
fn removed_viewers_can_neither_ready_nor_vote() {
    use crate::rights::RightsCommand;
    let s = with_vote_skip(&room(1));
    let s = ok(&s, TogetherCommand::Check { open: true }, 0);
    let s = by(
        &s,
        &RoomCommand::Rights(RightsCommand::Remove { kid: kid(1) }),
        0,
    )
    .unwrap()
    .unwrap();
    for c in [TogetherCommand::Ready { ready: true }, vote(0, 3)] {
        assert!(matches!(
            by(&s, &RoomCommand::Together(c), 1),
            Err(RoomError::Forbidden(_))
        ));
    }
}

#[test]
fn the_crossing_vote_skips_once_and_votes_reset() {
    let s = room(2);
    assert_eq!(
        by(&s, &RoomCommand::Together(vote(0, 5)), 1),
        Err(RoomError::Together(ReadySkipError::VoteSkipOff))
    );
    let s = with_vote_skip(&s);
    let s1 = ok(&s, vote(0, 5), 1);
    // A repeated vote is a no-op.
    assert_eq!(by(&s1, &RoomCommand::Together(vote(0, 5)), 1), Ok(None));
    let s2 = ok(&s1, vote(0, 5), 2);
    assert_eq!(s2.ready_skip.votes, vec![kid(1), kid(2)]);
    assert_eq!(s2.video_id, v(0));
    // The third of five (more than half) plays the next queued video in the same change.
    let s3 = ok(&s2, vote(0, 5), 3);
    assert_eq!(s3.video_id, v(1));
    assert_eq!(s3.revision, s2.revision + 1);
    assert_eq!(s3.queue.items.len(), 1);
    assert_eq!(s3.ready_skip.round, 1);
    assert!(s3.ready_skip.votes.is_empty());
    assert!(s3.ready_skip.by_vote && !s2.ready_skip.by_vote);
    // A vote for the old video (sent before the skip reached its sender) changes nothing.
    assert_eq!(by(&s3, &RoomCommand::Together(vote(0, 5)), 4), Ok(None));
    // Taking a vote back.
    let s4 = ok(&s3, vote(1, 5), 4);
    assert!(!s4.ready_skip.by_vote);
    let back = TogetherCommand::VoteSkip {
        round: 1,
        vote: false,
        quorum: Quorum {
            viewers: 5,
            share: DEFAULT_SKIP_SHARE,
        },
    };
    assert!(ok(&s4, back, 4).ready_skip.votes.is_empty());
    // Any other video change starts a new round too.
    let changed = by(
        &s4,
        &Command::Video {
            video_id: v(2),
            position: 0.0,
        }
        .into(),
        0,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (changed.ready_skip.round, changed.ready_skip.votes.len()),
        (2, 0)
    );
    // Turning the setting off drops the votes.
    let off = ok(&s4, TogetherCommand::Settings(RoomSettings::default()), 0);
    assert!(off.ready_skip.votes.is_empty());
}

#[test]
fn an_empty_queue_has_nothing_to_skip() {
    let s = with_vote_skip(&room(0));
    assert_eq!(
        by(&s, &RoomCommand::Together(vote(0, 2)), 1),
        Err(RoomError::Together(ReadySkipError::NothingToSkip))
    );
    // A lone viewer's vote skips at once.
    let s = with_vote_skip(&room(1));
    assert_eq!(ok(&s, vote(0, 1), 1).video_id, v(1));
}

#[test]
fn a_skip_to_the_same_video_starts_a_new_round() {
    let mut s = PlaybackState::new(v(0), 0.0, 0.0);
    s.rights = Rights::owned_by(kid(0));
    let again = RoomCommand::Queue(QueueEdit::Add {
        video_id: v(0),
        start: 0.0,
    });
    s = by(&s, &again, 0).unwrap().unwrap();
    let s = with_vote_skip(&s);
    let s1 = ok(&s, vote(0, 3), 1);
    let skipped = ok(&s1, vote(0, 3), 2);
    assert_eq!(skipped.video_id, v(0));
    assert!(skipped.queue.items.is_empty());
    assert_eq!(
        (skipped.ready_skip.round, skipped.ready_skip.votes.len()),
        (1, 0)
    );
    // A late vote for the video that was skipped changes nothing.
    assert_eq!(
        by(&skipped, &RoomCommand::Together(vote(0, 3)), 3),
        Ok(None)
    );
}

#[test]
fn quorum_examples() {
    let n = |viewers, share| Quorum { viewers, share }.needed();
    assert_eq!(
        [n(1, 0.5), n(2, 0.5), n(4, 0.5), n(5, 0.5), n(20, 0.5)],
        [1, 2, 3, 3, 11]
    );
    assert_eq!(
        [n(5, 0.6), n(10, 0.0), n(4, 1.0), n(0, 0.5), n(3, f64::NAN)],
        [4, 1, 4, 1, 2]
    );
}

proptest! {
    /// The fewest votes that skip are more than the share, and one fewer is not.
    #[test]
    fn quorum_is_the_smallest_count_above_the_share(viewers in 1u32..5_000, share in 0.0..1.0f64) {
        let k = Quorum { viewers, share }.needed();
        prop_assert!(k >= 1 && k <= viewers as usize);
        if k < viewers as usize {
            prop_assert!(k as f64 > share * f64::from(viewers) - 1e-6);
        }
        prop_assert!(((k - 1) as f64) <= share * f64::from(viewers) + 1e-6);
    }

    /// Votes arrive in any order, repeated (retries) and from several instances (each one
    /// applied to the newest state, as the compare-and-set does): the video is skipped exactly
    /// once when enough distinct viewers voted, and never otherwise.
    #[test]
    fn votes_in_any_order_skip_exactly_once(viewers in 1u32..12, voters in proptest::collection::vec(0usize..12, 0..40)) {
        let mut s = with_vote_skip(&room(2));
        let mut skips = 0;
        for who in &voters {
            if let Some(next) = by(&s, &RoomCommand::Together(vote(0, viewers)), who + 1).unwrap() {
                if next.video_id != s.video_id {
                    skips += 1;
                }
                s = next;
            }
        }
        let needed = Quorum { viewers, share: DEFAULT_SKIP_SHARE }.needed();
        let mut distinct = voters.clone();
        distinct.sort_unstable();
        distinct.dedup();
        prop_assert_eq!(skips, usize::from(distinct.len() >= needed));
        prop_assert_eq!(s.queue.items.len(), 2 - skips);
        prop_assert_eq!(s.ready_skip.round, skips as u64);
        prop_assert!(s.ready_skip.votes.len() < needed);
    }

    /// Concurrent "ready"s and "not ready"s are all kept, whatever their order: a viewer is
    /// listed ready when its own last word was "ready".
    #[test]
    fn readies_commute(words in proptest::collection::vec((1usize..8, any::<bool>()), 0..30)) {
        let open = ok(&room(0), TogetherCommand::Check { open: true }, 0);
        let mut s = open.clone();
        for (who, ready) in &words {
            if let Some(next) = by(&s, &RoomCommand::Together(TogetherCommand::Ready { ready: *ready }), *who).unwrap() {
                s = next;
            }
        }
        for who in 1..8 {
            let last = words.iter().rev().find(|(w, _)| *w == who).is_some_and(|(_, r)| *r);
            prop_assert_eq!(s.ready_skip.is_ready(&kid(who)), last);
        }
        prop_assert_eq!(s.playback_base(), open.playback_base());
    }
}

#[test]
fn wire_messages() {
    use crate::protocol::{ClientMsg, ErrorCode};
    let m: ClientMsg = serde_json::from_str(
        r#"{"type":"settings","seq":2,"settings":{"wait_for_all":true,"vote_skip":true}}"#,
    )
    .unwrap();
    let want = RoomSettings {
        wait_for_all: true,
        wait_on_buffer: false,
        vote_skip: true,
    };
    assert_eq!(
        m.room_command(),
        Some((2, 0, RoomCommand::Together(TogetherCommand::Settings(want))))
    );
    let m: ClientMsg =
        serde_json::from_str(r#"{"type":"ready_check","seq":3,"open":true}"#).unwrap();
    assert_eq!(
        m.room_command(),
        Some((
            3,
            0,
            RoomCommand::Together(TogetherCommand::Check { open: true })
        ))
    );
    let m: ClientMsg = serde_json::from_str(r#"{"type":"ready","seq":4,"ready":false}"#).unwrap();
    assert_eq!(
        m.room_command(),
        Some((
            4,
            0,
            RoomCommand::Together(TogetherCommand::Ready { ready: false })
        ))
    );
    let m: ClientMsg =
        serde_json::from_str(r#"{"type":"vote_skip","seq":5,"round":3,"vote":true}"#).unwrap();
    assert_eq!(
        m,
        ClientMsg::VoteSkip {
            seq: 5,
            round: 3,
            vote: true
        }
    );
    // The server adds the viewer count: the message alone is no room command.
    assert_eq!(m.room_command(), None);
    for junk in [
        r#"{"type":"ready","seq":4}"#,
        r#"{"type":"vote_skip","seq":5,"round":-1,"vote":true}"#,
        r#"{"type":"ready_check","seq":3,"open":"yes"}"#,
        r#"{"type":"settings","seq":2}"#,
    ] {
        assert!(serde_json::from_str::<ClientMsg>(junk).is_err(), "{junk}");
    }
    assert_eq!(
        serde_json::to_string(&ErrorCode::NothingToSkip).unwrap(),
        r#""nothing_to_skip""#
    );
    // The document: nothing stored until used; then the check, round and votes.
    let mut s = room(0);
    assert!(!serde_json::to_string(&s).unwrap().contains("ready_skip"));
    s.ready_skip = ReadySkip {
        check: Some(ReadyCheck {
            ready: vec![kid(1)],
        }),
        round: 2,
        votes: vec![kid(2)],
        by_vote: true,
    };
    let back: PlaybackState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
}

/// One random room command by viewer `who` (0 is the host).
fn any_command() -> impl Strategy<Value = (RoomCommand, usize)> {
    let together = prop_oneof![
        any::<bool>().prop_map(|open| TogetherCommand::Check { open }),
        any::<bool>().prop_map(|ready| TogetherCommand::Ready { ready }),
        (0u64..3, any::<bool>()).prop_map(|(round, vote)| TogetherCommand::VoteSkip {
            round,
            vote,
            quorum: Quorum {
                viewers: 4,
                share: DEFAULT_SKIP_SHARE
            },
        }),
        any::<bool>().prop_map(|vote_skip| TogetherCommand::Settings(RoomSettings {
            vote_skip,
            ..RoomSettings::default()
        })),
    ]
    .prop_map(RoomCommand::Together);
    let room = prop_oneof![
        (0.0..5.0f64).prop_map(|p| RoomCommand::from(Command::Play { position: p })),
        (0.0..5.0f64).prop_map(|p| RoomCommand::from(Command::Pause { position: p })),
        (0usize..3).prop_map(|i| RoomCommand::Queue(QueueEdit::Add {
            video_id: v(i),
            start: 0.0
        })),
        (0usize..3).prop_map(|i| RoomCommand::from(Command::Video {
            video_id: v(i),
            position: 0.0
        })),
    ];
    (prop_oneof![2 => together, 1 => room], 0usize..4)
}

proptest! {
    /// Whatever happens in a room, in any order: every video change (a skip, play now, a
    /// video command) starts exactly one new skip round with no votes; playback starting
    /// always ends the ready check; votes and readies are only ever those of distinct viewers;
    /// nothing but a video change touches the round.
    #[test]
    fn rounds_follow_video_changes_and_starts_end_the_check(cmds in proptest::collection::vec(any_command(), 1..60)) {
        let mut s = room(1);
        for (i, (cmd, who)) in cmds.iter().enumerate() {
            let now = 1_000.0 + i as f64 * 10.0;
            let Ok(Some(next)) = apply_by(&s, cmd, s.revision, now, RoomLimits::default(), Actor::Viewer(&kid(*who))) else {
                continue;
            };
            prop_assert_eq!(next.revision, s.revision + 1);
            let video_changed = next.video_id != s.video_id
                || next.queue.items.len() < s.queue.items.len()
                || matches!(cmd, RoomCommand::Playback(Command::Video { .. }));
            let round = s.ready_skip.round + u64::from(video_changed);
            prop_assert_eq!(next.ready_skip.round, round, "{:?}", cmd);
            if video_changed {
                prop_assert!(next.ready_skip.votes.is_empty());
            }
            if next.playing && !s.playing {
                prop_assert!(next.ready_skip.check.is_none());
            }
            let mut votes = next.ready_skip.votes.clone();
            votes.sort();
            votes.dedup();
            prop_assert_eq!(votes.len(), next.ready_skip.votes.len());
            prop_assert!(next.ready_skip.votes.len() < 3, "the third of four votes skips");
            s = next;
        }
    }
}
