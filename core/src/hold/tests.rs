//! The hold's rules: when a start or a stall holds, how a hold ends (once), what people's
//! commands do during one, and the bounds on a flaky viewer.

use super::*;
use crate::ids::VideoId;
use crate::playback::Command;
use crate::room::{self, RoomCommand, RoomLimits};
use proptest::prelude::*;

const DEADLINE: f64 = 8_000.0;
/// The connection that sends the viewers' commands in these tests.
const SENDER: u64 = 99;

fn vid(i: usize) -> VideoId {
    VideoId::parse(["dQw4w9WgXcQ", "9bZkp7q19f0"][i % 2]).unwrap()
}

fn room_at(position: f64, wait: bool, on_buffer: bool) -> PlaybackState {
    let mut s = PlaybackState::new(vid(0), position, 0.0);
    s.settings.wait_for_all = wait;
    s.settings.wait_on_buffer = on_buffer;
    s
}

fn who(id: u64, name: Option<&str>) -> Waiting {
    Waiting {
        id,
        name: name.map(str::to_owned),
    }
}

fn not_ready_of(ids: &[u64]) -> Readiness {
    Readiness {
        waiting: ids.iter().map(|i| who(*i, Some("Ana"))).collect(),
        total: u32::try_from(ids.len()).unwrap(),
    }
}

/// Applies a viewer's playback command and then the hold's rule, as the server does.
fn command(s: &PlaybackState, cmd: Command, ready: &Readiness, now: f64) -> Option<PlaybackState> {
    let next = room::apply(
        s,
        &RoomCommand::Playback(cmd),
        s.revision,
        now,
        RoomLimits::default(),
    )
    .unwrap()?;
    let pause = matches!(cmd, Command::Pause { .. });
    settle(s, next, pause, ready, Some(SENDER), now, DEADLINE)
}

fn server(s: &PlaybackState, cmd: RoomCommand, now: f64) -> Option<PlaybackState> {
    room::apply(s, &cmd, 0, now, RoomLimits::default()).unwrap()
}

fn held(position: f64) -> PlaybackState {
    let s = room_at(position, true, false);
    command(&s, Command::Play { position }, &not_ready_of(&[7]), 1_000.0).unwrap()
}

#[test]
fn a_play_while_someone_is_loading_holds_the_room() {
    let s = room_at(12.0, true, false);
    let next = command(
        &s,
        Command::Play { position: 12.0 },
        &not_ready_of(&[7, 8]),
        1_000.0,
    )
    .unwrap();
    assert!(!next.playing, "held: stays paused");
    assert_eq!(next.position, 12.0);
    assert_eq!(next.revision, 2);
    let h = next.hold.active.clone().unwrap();
    assert_eq!(h.revision, 2);
    assert_eq!(h.deadline, 1_000.0 + DEADLINE);
    assert_eq!(h.position, 12.0);
    assert_eq!(h.waiting.len(), 2);
    assert_eq!(h.others, 0);
    assert_eq!(h.stalled, None);
}

#[test]
fn the_sender_is_never_waited_for() {
    let s = room_at(0.0, true, false);
    // Only the sender is not ready (its player buffers: its person just pressed play).
    let next = command(
        &s,
        Command::Play { position: 0.0 },
        &not_ready_of(&[SENDER]),
        1.0,
    );
    assert!(next.unwrap().playing);
    let next = command(
        &s,
        Command::Play { position: 0.0 },
        &not_ready_of(&[SENDER, 7]),
        1.0,
    );
    let h = next.unwrap().hold.active.unwrap();
    assert_eq!(h.waiting.iter().map(|w| w.id).collect::<Vec<_>>(), vec![7]);
    assert_eq!((h.others, h.by), (0, Some(SENDER)));
    // Pages leave the sender out of the live list too.
    assert_eq!(
        hold_waiting(&h, &not_ready_of(&[SENDER])),
        waiting_for(&["Ana"], 0)
    );
    assert_eq!(
        hold_waiting(&h, &not_ready_of(&[SENDER, 7])),
        waiting_for(&["Ana"], 0)
    );
}

#[test]
fn no_hold_when_everyone_is_ready_or_the_setting_is_off() {
    let s = room_at(0.0, true, false);
    let next = command(
        &s,
        Command::Play { position: 0.0 },
        &Readiness::default(),
        1.0,
    )
    .unwrap();
    assert!(next.playing && next.hold.active.is_none());
    let off = room_at(0.0, false, false);
    let next = command(
        &off,
        Command::Play { position: 0.0 },
        &not_ready_of(&[1]),
        1.0,
    )
    .unwrap();
    assert!(next.playing && next.hold.active.is_none());
}

#[test]
fn a_video_change_that_plays_holds_but_a_seek_while_playing_does_not() {
    let s = room_at(0.0, true, false);
    let playing = command(
        &s,
        Command::Play { position: 0.0 },
        &Readiness::default(),
        1.0,
    )
    .unwrap();
    let change = Command::Video {
        video_id: vid(1),
        position: 30.0,
    };
    let next = command(&playing, change, &not_ready_of(&[3]), 2.0).unwrap();
    assert!(!next.playing);
    assert_eq!(next.hold.active.unwrap().position, 30.0);
    let seek = command(
        &playing,
        Command::Seek { position: 50.0 },
        &not_ready_of(&[3]),
        2.0,
    );
    assert!(seek.unwrap().playing, "a seek while playing is no start");
}

#[test]
fn a_hold_names_at_most_three_and_counts_the_others() {
    let s = room_at(0.0, true, false);
    let ready = Readiness {
        waiting: (1..=5).map(|i| who(i, None)).collect(),
        total: 40,
    };
    let h = command(&s, Command::Play { position: 0.0 }, &ready, 1.0)
        .unwrap()
        .hold
        .active
        .unwrap();
    assert_eq!(h.waiting.len(), NAMED);
    assert_eq!(h.others, 37);
}

#[test]
fn the_release_plays_from_the_hold_position_once() {
    let s = held(12.0);
    let from = s.hold.active.as_ref().unwrap().revision;
    let released = server(&s, RoomCommand::Release { from }, 3_000.0).unwrap();
    assert!(released.playing);
    assert_eq!(released.position, 12.0);
    assert!(released.hold.active.is_none());
    assert_eq!(released.revision, s.revision + 1);
    assert_eq!(released.playback_base(), released.revision);
    assert_eq!(released.hold.calm_until, 3_000.0 + DEADLINE);
    // Another instance's, or a retried, release of the same hold changes nothing.
    assert_eq!(
        server(&released, RoomCommand::Release { from }, 3_001.0),
        None
    );
    // A release naming another hold changes nothing.
    assert_eq!(
        server(&s, RoomCommand::Release { from: from + 1 }, 3_000.0),
        None
    );
}

#[test]
fn a_pause_cancels_the_hold_a_play_or_seek_keeps_it() {
    let s = held(12.0);
    let paused = command(
        &s,
        Command::Pause { position: 20.0 },
        &Readiness::default(),
        2_000.0,
    )
    .unwrap();
    assert!(!paused.playing && paused.hold.active.is_none());
    assert_eq!(paused.position, 20.0);
    // The same play again is nothing new.
    assert_eq!(
        command(
            &s,
            Command::Play { position: 12.0 },
            &Readiness::default(),
            2_000.0
        ),
        None
    );
    let moved = command(
        &s,
        Command::Play { position: 40.0 },
        &Readiness::default(),
        2_000.0,
    )
    .unwrap();
    assert!(!moved.playing);
    let h = moved.hold.active.clone().unwrap();
    assert_eq!((h.position, h.deadline), (40.0, 1_000.0 + DEADLINE));
    let seek = command(
        &s,
        Command::Seek { position: 5.0 },
        &Readiness::default(),
        2_000.0,
    )
    .unwrap();
    assert!(!seek.playing);
    assert_eq!(seek.hold.active.unwrap().position, 5.0);
    // The release after a move still names the same hold and plays from the new position.
    let released = server(&moved, RoomCommand::Release { from: h.revision }, 3_000.0).unwrap();
    assert!(released.playing);
    assert_eq!(released.position, 40.0);
}

#[test]
fn a_pause_at_the_held_position_still_cancels() {
    let s = held(12.0);
    // The room's rules find the pause a duplicate; the hold's cancel makes it a change.
    assert_eq!(
        room::apply(
            &s,
            &RoomCommand::Playback(Command::Pause { position: 12.0 }),
            s.revision,
            2_000.0,
            RoomLimits::default()
        ),
        Ok(None)
    );
    let next = cancel(&s, 2_000.0).unwrap();
    assert!(next.hold.active.is_none() && !next.playing);
    assert_eq!(next.revision, s.revision + 1);
    assert_eq!(next.hold.calm_until, 2_000.0 + DEADLINE);
    assert_eq!(cancel(&next, 2_001.0), None);
}

#[test]
fn release_is_due_when_ready_at_the_deadline_or_when_switched_off() {
    let s = held(0.0);
    let r = s.hold.active.as_ref().unwrap().revision;
    let waiting = not_ready_of(&[7]);
    assert_eq!(due(&s, &waiting, 2_000.0), None);
    assert_eq!(due(&s, &Readiness::default(), 2_000.0), Some(r));
    assert_eq!(due(&s, &waiting, 1_000.0 + DEADLINE), Some(r));
    let mut off = s.clone();
    off.settings.wait_for_all = false;
    assert_eq!(due(&off, &waiting, 2_000.0), Some(r));
    assert_eq!(
        due(&room_at(0.0, true, false), &Readiness::default(), 0.0),
        None
    );
}

fn playing_since(at: f64, on_buffer: bool) -> PlaybackState {
    let s = room_at(0.0, true, on_buffer);
    command(
        &s,
        Command::Play { position: 0.0 },
        &Readiness::default(),
        at,
    )
    .unwrap()
}

#[test]
fn a_stall_holds_only_with_wait_on_buffer_after_the_grace() {
    let ana = who(5, Some("Ana"));
    let s = playing_since(0.0, false);
    assert_eq!(
        stall_candidate(&s, std::slice::from_ref(&ana), 10_000.0),
        None
    );
    let s = playing_since(0.0, true);
    let base = s.playback_base();
    let early = RoomCommand::Stall {
        from: base,
        who: ana.clone(),
        deadline_ms: DEADLINE,
    };
    assert_eq!(server(&s, early.clone(), STALL_GRACE_MS - 1.0), None);
    let next = server(&s, early, 10_000.0).unwrap();
    assert!(!next.playing);
    assert!(
        (next.position - 10.0).abs() < 1e-9,
        "held where the room was"
    );
    let h = next.hold.active.unwrap();
    assert_eq!(h.stalled, Some(5));
    assert_eq!(h.waiting, vec![ana.clone()]);
    // A stall seen on an older playback revision changes nothing.
    let stale = RoomCommand::Stall {
        from: base - 1,
        who: ana,
        deadline_ms: DEADLINE,
    };
    assert_eq!(server(&s, stale, 10_000.0), None);
}

#[test]
fn after_a_stall_hold_the_room_is_calm_and_the_staller_cools_down() {
    let ana = who(5, Some("Ana"));
    let ben = who(6, Some("Ben"));
    let s = playing_since(0.0, true);
    let stall = |s: &PlaybackState, w: &Waiting, now: f64| {
        server(
            s,
            RoomCommand::Stall {
                from: s.playback_base(),
                who: w.clone(),
                deadline_ms: DEADLINE,
            },
            now,
        )
    };
    let held = stall(&s, &ana, 10_000.0).unwrap();
    let from = held.hold.active.as_ref().unwrap().revision;
    let end = 10_000.0 + DEADLINE;
    let s = server(&held, RoomCommand::Release { from }, end).unwrap();
    let after = end + STALL_GRACE_MS;
    // Calm: nobody holds within one deadline of the end.
    assert_eq!(stall(&s, &ben, after), None);
    let calm_over = end + DEADLINE;
    assert!(stall(&s, &ben, calm_over).is_some(), "another viewer may");
    // Ana cools down for four deadlines.
    assert_eq!(stall(&s, &ana, calm_over), None);
    assert_eq!(
        stall_candidate(&s, &[ana.clone(), ben.clone()], calm_over),
        Some(&ben)
    );
    assert!(stall(&s, &ana, end + VIEWER_COOLDOWN_DEADLINES * DEADLINE).is_some());
}

#[test]
fn who_the_room_waits_for() {
    let of = WaitingFor::of;
    assert_eq!(of(&[Some("Ana")], 1), waiting_for(&["Ana"], 0));
    let named = of(&[Some("Ana"), None, Some("Cara"), Some("Dev")], 6);
    assert_eq!(
        named.names,
        vec![Some("Ana".into()), None, Some("Cara".into())]
    );
    assert_eq!(named.others, 3);
    assert_eq!(of(&[Some("Ana")], 2), waiting_for(&["Ana"], 1));
    assert_eq!(of(&[], 2), waiting_for(&[], 2));
    assert_eq!(of(&[], 0), WaitingFor::default());
}

/// Waiting for the named `names` and `others` more.
fn waiting_for(names: &[&str], others: u32) -> WaitingFor {
    WaitingFor {
        names: names.iter().map(|n| Some((*n).to_owned())).collect(),
        others,
    }
}

#[test]
fn readiness_from_the_list_and_counts() {
    use crate::health::Health;
    use crate::roster::Member;
    let m = |id: u64, name: &str, h: Option<Health>| Member {
        id,
        name: Some(name.to_owned()),
        status: h,
        since: id,
        kid: None,
    };
    let members = [
        m(1, "Ana", Some(Health::Loading)),
        m(2, "Ben", Some(Health::in_sync(0))),
        m(3, "Cara", Some(Health::Ad)),
        m(4, "Dev", None),
        m(5, "Eve", Some(Health::NeedsClick)),
    ];
    let counts = Counts {
        loading: 1,
        ad: 1,
        buffering: 3,
        in_sync: 1,
        ..Counts::default()
    };
    let r = Readiness::of(&members, &counts);
    assert_eq!(
        r.waiting.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_eq!(r.total, 5, "three unlisted viewers buffer");
    let h = held(0.0).hold.active.unwrap();
    assert_eq!(hold_waiting(&h, &r), waiting_for(&["Ana", "Cara"], 3));
    // The sender of a play is never waited for.
    let without = r.clone().without(1);
    assert_eq!(
        without.waiting.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![3]
    );
    assert_eq!(without.total, 4);
    assert_eq!(r.clone().without(2), r, "a ready viewer changes nothing");
    assert_eq!(
        hold_waiting(&h, &Readiness::default()),
        waiting_for(&["Ana"], 0)
    );
}

#[test]
fn the_hold_survives_a_round_trip_and_old_documents_have_none() {
    let s = held(3.0);
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"hold\":{\"active\":"));
    let back: PlaybackState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let plain = serde_json::to_string(&room_at(0.0, false, false)).unwrap();
    assert!(!plain.contains("hold"));
}

proptest! {
    /// However releases by any number of instances, people's commands and stalls interleave,
    /// each hold is released at most once, a released room plays, and no hold outlives its
    /// deadline by more than one check.
    #[test]
    fn each_hold_ends_once(ops in proptest::collection::vec((0u8..6, 0u64..4, 50.0f64..900.0), 1..60)) {
        let mut s = room_at(0.0, true, true);
        let mut now = 0.0;
        let mut releases = std::collections::HashMap::<u64, u32>::new();
        for (op, x, step) in ops {
            now += step;
            let ready = if x == 0 { Readiness::default() } else { not_ready_of(&[x]) };
            let next = match op {
                0 => command(&s, Command::Play { position: x as f64 }, &ready, now),
                1 => command(&s, Command::Pause { position: x as f64 }, &ready, now),
                2 => command(&s, Command::Seek { position: x as f64 * 3.0 }, &ready, now),
                3 => {
                    // A release attempt naming any recent hold (retries, other instances).
                    let from = s.revision.saturating_sub(x);
                    let applied = server(&s, RoomCommand::Release { from }, now);
                    if applied.is_some() {
                        *releases.entry(from).or_default() += 1;
                        prop_assert!(applied.as_ref().unwrap().playing);
                    }
                    applied
                }
                4 => {
                    let from = s.playback_base();
                    server(&s, RoomCommand::Stall { from, who: who(x, None), deadline_ms: DEADLINE }, now)
                }
                _ => due(&s, &ready, now).and_then(|from| {
                    *releases.entry(from).or_default() += 1;
                    server(&s, RoomCommand::Release { from }, now)
                }),
            };
            if let Some(n) = next {
                prop_assert_eq!(n.revision, s.revision + 1);
                s = n;
            }
            if let Some(h) = &s.hold.active {
                prop_assert!(!s.playing, "a held room is paused");
                prop_assert!(h.deadline - h.since <= DEADLINE + 1e-6);
            }
        }
        prop_assert!(releases.values().all(|n| *n == 1));
    }

    /// One viewer whose player keeps stalling, checked at random moments: every hold it makes
    /// ends by its deadline (plus one check), and the next one starts at least four deadlines
    /// after the previous ended.
    #[test]
    fn a_flaky_viewer_never_holds_long(steps in proptest::collection::vec(50.0f64..1_500.0, 1..200)) {
        let flaky = who(9, Some("Flaky"));
        let waiting = not_ready_of(&[9]);
        let mut s = playing_since(0.0, true);
        let mut now = 0.0;
        let mut started: Option<f64> = None;
        let mut last_end: Option<f64> = None;
        for step in steps {
            now += step;
            if let Some(from) = due(&s, &waiting, now) {
                s = server(&s, RoomCommand::Release { from }, now).unwrap();
                let begun = started.take().unwrap();
                prop_assert!(now - begun <= DEADLINE + 1_500.0);
                last_end = Some(now);
            } else if let Some(w) = stall_candidate(&s, std::slice::from_ref(&flaky), now) {
                let cmd = RoomCommand::Stall { from: s.playback_base(), who: w.clone(), deadline_ms: DEADLINE };
                s = server(&s, cmd, now).unwrap();
                if let Some(end) = last_end {
                    prop_assert!(now - end >= VIEWER_COOLDOWN_DEADLINES * DEADLINE);
                }
                started = Some(now);
            }
        }
    }
}
