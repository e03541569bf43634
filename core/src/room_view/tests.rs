//! The room view's rules, natively: notices, chat and its limits, errors by sequence kind,
//! what is told to the page once, health reports and reactions.

use super::*;
use crate::queue::{ItemId, QueueItem};
use crate::roster::{Counts, Member};
use proptest::prelude::*;

fn vid(i: usize) -> VideoId {
    VideoId::parse(["dQw4w9WgXcQ", "9bZkp7q19f0"][i]).unwrap()
}

fn kid(c: char) -> Kid {
    Kid::parse(&c.to_string().repeat(32)).unwrap()
}

fn state() -> PlaybackState {
    PlaybackState::new(vid(0), 10.0, 1_000.0)
}

/// An engine greeted as connection 7 with `s`.
fn engine(s: PlaybackState) -> Engine {
    let mut e = Engine::new(Some(s.clone()));
    e.on_message(1_000.0, hello(s, None), None);
    e
}

fn hello(state: PlaybackState, kid: Option<Kid>) -> ServerMsg {
    ServerMsg::Hello {
        conn_id: 7,
        session_id: crate::ids::SessionId::parse("abcDEF012345").unwrap(),
        server_time: 1_000.0,
        state,
        viewers: 1,
        kid,
    }
}

fn member(id: ConnId, since: u64, name: &str) -> Member {
    Member {
        id,
        name: Some(name.into()),
        status: None,
        since,
        kid: None,
    }
}

fn roster(v: u64, full: bool, members: Vec<Member>, gone: Vec<ConnId>) -> ServerMsg {
    ServerMsg::Roster {
        v,
        full,
        members,
        gone,
        counts: Counts::default(),
    }
}

fn line(id: u64) -> ChatLine {
    ChatLine {
        id,
        kid: kid('a'),
        name: "Ana".into(),
        text: "hi".into(),
        video_id: vid(0),
        at: 1.0,
    }
}

fn reaction(id: u64, at: f64) -> Reaction {
    Reaction {
        id,
        name: "Ana".into(),
        emoji: "🔥".into(),
        video_id: vid(0),
        at,
    }
}

fn chat_ids(v: &RoomView) -> Vec<u64> {
    v.chat().iter().map(|l| l.id).collect()
}

#[test]
fn joins_and_leaves_of_others_are_notices() {
    let e = engine(state());
    let mut v = RoomView::new();
    let full = roster(
        1,
        true,
        vec![member(7, 1, "Me"), member(3, 2, "Ana")],
        vec![],
    );
    let out = v.on_message(full, &e);
    assert!(out.forward.is_none());
    assert_eq!(out.events.len(), 1, "a full view reports no joins");
    let delta = roster(2, false, vec![member(9, 3, "Ben")], vec![3]);
    let out = v.on_message(delta, &e);
    let said = |name: &str, what| Notice::new(Who::Viewer(Some(name.into())), what);
    assert_eq!(v.notices()[0].1, said("Ana", What::Left));
    assert_eq!(v.notices()[1].1, said("Ben", What::Joined));
    assert!(matches!(out.events.last(), Some(ViewEvent::Roster(r)) if r.members.len() == 2));
    // This viewer's own arrival is no notice.
    let own = roster(3, false, vec![member(7, 4, "Me again")], vec![]);
    v.on_message(own, &e);
    assert_eq!(v.notices().len(), 2);
}

#[test]
fn notices_keep_the_newest_with_growing_keys() {
    let e = engine(state());
    let mut v = RoomView::new();
    v.on_message(roster(1, true, vec![], vec![]), &e);
    for i in 0..10u64 {
        let m = member(100 + i, 10 + i, &format!("V{i}"));
        v.on_message(roster(2 + i, false, vec![m], vec![]), &e);
    }
    let keys: Vec<u64> = v.notices().iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, vec![9, 8, 7, 6]);
    let v9 = Notice::new(Who::Viewer(Some("V9".into())), What::Joined);
    assert_eq!(v.notices()[0].1, v9);
}

#[test]
fn a_state_with_a_cause_is_a_notice_and_goes_on_to_the_engine() {
    let s = state();
    let e = engine(s.clone());
    let mut v = RoomView::new();
    let mut next = s.clone();
    next.revision += 1;
    next.playing = true;
    next.changed_by = Some("Ana".into());
    let cause = Some(Cause { conn_id: 3, seq: 1 });
    let msg = ServerMsg::State {
        state: next.clone(),
        cause,
    };
    let out = v.on_message(msg.clone(), &e);
    assert_eq!(out.forward, Some(msg));
    let played = What::Played { at: next.position };
    assert_eq!(
        v.notices()[0].1,
        Notice::new(Who::Viewer(Some("Ana".into())), played.clone())
    );
    let own = ServerMsg::State {
        state: next.clone(),
        cause: Some(Cause { conn_id: 7, seq: 1 }),
    };
    v.on_message(own, &e);
    assert_eq!(v.notices()[0].1, Notice::new(Who::You, played));
    let silent = ServerMsg::State {
        state: next,
        cause: None,
    };
    v.on_message(silent, &e);
    assert_eq!(v.notices().len(), 2, "no cause, no notice");
}

#[test]
fn hello_sets_the_kid_and_resends_the_name() {
    let e = Engine::new(Some(state()));
    let mut v = RoomView::new();
    let first = v.set_name("Ana".into());
    let out = v.on_message(hello(state(), Some(kid('b'))), &e);
    assert_eq!(v.kid(), Some(&kid('b')));
    assert_eq!(out.events, vec![ViewEvent::Kid(Some(kid('b')))]);
    let (ClientMsg::Name { seq: a, .. }, [ClientMsg::Name { seq: b, name }]) =
        (first, &out.send[..])
    else {
        panic!("names expected: {:?}", out.send);
    };
    assert_eq!(name, "Ana");
    assert_eq!(
        (SeqKind::of(a), SeqKind::of(*b)),
        (SeqKind::Room, SeqKind::Room)
    );
    assert_ne!(a, *b);
    assert!(matches!(out.forward, Some(ServerMsg::Hello { .. })));
}

#[test]
fn errors_go_to_what_the_refused_message_was_for() {
    let e = engine(state());
    let mut v = RoomView::new();
    let err = |code, seq| ServerMsg::Error {
        code,
        message: "no".into(),
        seq,
    };
    let room = v.next_room_seq();
    let ClientMsg::Host { seq: host, .. } = v.host(RightsCommand::Lock { locked: true }) else {
        panic!()
    };
    let ClientMsg::Chat { seq: chat, .. } = v.chat_line("hi".into()) else {
        panic!()
    };
    let cases = [
        (
            err(ErrorCode::Stale, Some(room)),
            vec![ViewEvent::RoomError(ErrorCode::Stale)],
        ),
        (
            err(ErrorCode::Forbidden, Some(host)),
            vec![ViewEvent::HostError(ErrorCode::Forbidden)],
        ),
        (
            err(ErrorCode::InvalidText, Some(chat)),
            vec![ViewEvent::ChatError(ErrorCode::InvalidText)],
        ),
        (
            err(ErrorCode::Forbidden, Some(5)),
            vec![ViewEvent::ControlRefused],
        ),
        (err(ErrorCode::Stale, Some(5)), vec![]),
        (err(ErrorCode::RateLimited, None), vec![]),
    ];
    for (msg, want) in cases {
        let out = v.on_message(msg, &e);
        assert_eq!(out.events, want);
        assert!(out.forward.is_some(), "the engine sees every error");
    }
}

#[test]
fn the_chat_keeps_the_newest_lines_once() {
    let e = engine(state());
    let mut v = RoomView::new();
    for i in 0..(MAX_LINES as u64 + 5) {
        v.on_message(ServerMsg::Chat(line(i)), &e);
    }
    let out = v.on_message(ServerMsg::Chat(line(MAX_LINES as u64 + 4)), &e);
    assert!(matches!(&out.events[..], [ViewEvent::Chat(l)] if l.len() == MAX_LINES));
    assert_eq!(v.chat()[0].id, 5);
    let history = ServerMsg::History {
        chat: vec![line(1), line(2), line(2)],
        reactions: vec![],
    };
    v.on_message(history, &e);
    assert_eq!(chat_ids(&v), vec![1, 2]);
    v.on_message(ServerMsg::ChatDeleted { id: 1 }, &e);
    assert_eq!(chat_ids(&v), vec![2]);
}

#[test]
fn queue_rights_and_video_are_told_once_per_change() {
    let mut s = state();
    s.rights = Rights::owned_by(kid('a'));
    let mut e = engine(s.clone());
    let mut v = RoomView::new();
    let out = v.observe(&e, None, false, 0.0);
    assert!(out.events.contains(&ViewEvent::Queue(Queue::default())));
    assert!(out.events.contains(&ViewEvent::Rights(s.rights.clone())));
    assert!(out
        .events
        .contains(&ViewEvent::Video(vid(0).to_string(), None)));
    let again = v.observe(&e, None, false, 0.0);
    assert!(again.events.is_empty(), "{:?}", again.events);
    // The title, once the player knows it for the room's video (not another one's).
    let other = Some((vid(1).to_string(), "Other".to_owned()));
    assert!(v.observe(&e, other, false, 0.0).events.is_empty());
    let titled = Some((vid(0).to_string(), "Song".to_owned()));
    let out = v.observe(&e, titled, false, 0.0);
    assert_eq!(
        out.events,
        vec![ViewEvent::Video(vid(0).to_string(), Some("Song".into()))]
    );
    // A new state with a lock: the rights again.
    let mut next = s.clone();
    next.revision += 1;
    next.rights.locked = true;
    let msg = ServerMsg::State {
        state: next.clone(),
        cause: None,
    };
    e.on_message(2_000.0, msg, None);
    let out = v.observe(&e, None, false, 0.0);
    assert!(out.events.contains(&ViewEvent::Rights(next.rights)));
}

#[test]
fn a_title_is_reported_to_the_queue_once_by_who_may_control() {
    let mut s = state();
    s.queue.items.push(QueueItem {
        id: ItemId(1),
        video_id: vid(0),
        start: 0.0,
        title: None,
    });
    let e = engine(s.clone());
    let titled = || Some((vid(0).to_string(), "Song".to_owned()));
    let mut v = RoomView::new();
    let out = v.observe(&e, titled(), false, 0.0);
    let titles = |o: &Output| {
        o.send
            .iter()
            .filter(|m| {
                matches!(
                    m,
                    ClientMsg::Queue {
                        edit: QueueEdit::Title { .. },
                        ..
                    }
                )
            })
            .count()
    };
    assert_eq!(titles(&out), 1);
    assert_eq!(titles(&v.observe(&e, titled(), false, 0.0)), 0);
    // Locked, and this viewer no host: left to the hosts.
    s.rights = Rights::owned_by(kid('a'));
    s.rights.locked = true;
    let locked = engine(s);
    let mut v = RoomView::new();
    v.on_message(hello(state(), Some(kid('b'))), &locked);
    assert!(!v.may_control(locked.state()));
    assert_eq!(titles(&v.observe(&locked, titled(), false, 0.0)), 0);
}

#[test]
fn before_hello_a_viewer_may_control_unless_locked() {
    let v = RoomView::new();
    let mut s = state();
    assert!(v.may_control(None));
    assert!(v.may_control(Some(&s)));
    s.rights = Rights::owned_by(kid('a'));
    s.rights.locked = true;
    assert!(!v.may_control(Some(&s)));
}

#[test]
fn health_is_reported_only_when_live_and_loading_until_measurable() {
    let mut v = RoomView::new();
    let mut stats = SyncStats {
        status: "connecting",
        ..SyncStats::default()
    };
    assert_eq!(v.health_report(&stats, false, 0.0), None);
    stats.status = "live";
    stats.player_state = 1;
    assert_eq!(
        v.health_report(&stats, false, 0.0),
        Some(Health::Loading),
        "still starting: a room that waits for everyone waits for it"
    );
    stats.error_ms = Some(3.0);
    assert!(matches!(
        v.health_report(&stats, false, 1_000.0),
        Some(Health::InSync { .. })
    ));
    assert_eq!(v.health_report(&stats, false, 1_010.0), None, "unchanged");
    assert_eq!(v.show_join(true), ViewEvent::ShowJoin(true));
    assert_eq!(
        v.health_report(&stats, false, 3_000.0),
        Some(Health::NeedsClick)
    );
}

#[test]
fn reactions_float_when_the_video_reaches_them() {
    let s = state();
    let e = engine(s.clone());
    let mut v = RoomView::new();
    let read = |position| Reading {
        at: 0.0,
        state: PlayerState::Playing,
        position,
        rate: 1.0,
        duration: 0.0,
    };
    let out = v.on_message(ServerMsg::Reaction(reaction(1, 10.5)), &e);
    assert!(out.check_reactions && out.events.is_empty());
    let (due, wake) = v.reactions_due(Some(&s), &read(10.0));
    assert_eq!(due, None);
    assert_eq!(wake, Some(501));
    let (due, _) = v.reactions_due(Some(&s), &read(10.6));
    assert_eq!(due, Some(ViewEvent::Reactions(vec![reaction(1, 10.5)])));
    // One that arrives just after this viewer passed its moment floats at once.
    let out = v.on_message(ServerMsg::Reaction(reaction(2, 10.55)), &e);
    assert_eq!(
        out.events,
        vec![ViewEvent::Reactions(vec![reaction(2, 10.55)])]
    );
}

#[test]
fn an_undone_change_is_told_once() {
    let e = engine(state());
    let mut v = RoomView::new();
    v.observe(&e, None, false, 0.0);
    // The engine's count of undone changes moved (here: as if from 5 back to its own).
    v.refused_seen = 5;
    let out = v.observe(&e, None, false, 0.0);
    assert_eq!(out.events, vec![ViewEvent::ControlRefused]);
    assert!(v.observe(&e, None, false, 0.0).events.is_empty());
}

proptest! {
    /// Every kind's sequence numbers carry its kind, are never 0 below the kind's bits, and do
    /// not repeat within a long run, whatever the order of requests.
    #[test]
    fn sequence_numbers_keep_their_kind(ops in prop::collection::vec(0u8..4, 1..300)) {
        let mut v = RoomView::new();
        let mut seen = std::collections::HashSet::new();
        for op in ops {
            let (seq, kind) = match op {
                0 => (v.next_room_seq(), SeqKind::Room),
                1 => match v.host(RightsCommand::Lock { locked: false }) {
                    ClientMsg::Host { seq, .. } => (seq, SeqKind::Host),
                    _ => unreachable!(),
                },
                2 => match v.delete_chat(1) {
                    ClientMsg::DeleteChat { seq, .. } => (seq, SeqKind::Chat),
                    _ => unreachable!(),
                },
                _ => match v.react("🔥", 1.0) {
                    Some(ClientMsg::React { seq, .. }) => (seq, SeqKind::Chat),
                    _ => unreachable!(),
                },
            };
            prop_assert_eq!(SeqKind::of(seq), kind);
            prop_assert_ne!(seq & 0x3FFF_FFFF, 0);
            prop_assert!(seen.insert(seq));
        }
    }

    /// Whatever lines arrive, are deleted or replaced by a history, the page's chat holds at
    /// most `MAX_LINES`, each id once, in arrival order, and every change is told.
    #[test]
    fn the_chat_stays_bounded_and_unique(
        ops in prop::collection::vec((0u8..10, 0u64..400), 1..600)
    ) {
        let e = engine(state());
        let mut v = RoomView::new();
        for (op, id) in ops {
            let msg = match op {
                0 => ServerMsg::ChatDeleted { id },
                1 => ServerMsg::History {
                    chat: (id..id + 5).map(line).collect(),
                    reactions: vec![],
                },
                _ => ServerMsg::Chat(line(id)),
            };
            let out = v.on_message(msg, &e);
            prop_assert_eq!(out.events, vec![ViewEvent::Chat(v.chat().to_vec())]);
            let ids = chat_ids(&v);
            prop_assert!(ids.len() <= MAX_LINES);
            let unique: std::collections::HashSet<_> = ids.iter().collect();
            prop_assert_eq!(unique.len(), ids.len());
        }
    }
}

#[test]
fn the_hold_is_told_when_it_begins_and_when_it_ends() {
    let s = state();
    let mut e = engine(s.clone());
    let mut v = RoomView::new();
    let out = v.observe(&e, None, false, 0.0);
    assert!(out.events.contains(&ViewEvent::Hold(None)));
    let mut held = s.clone();
    held.revision += 1;
    held.hold.active = Some(crate::hold::Hold {
        revision: held.revision,
        since: 1_500.0,
        deadline: 9_500.0,
        position: 10.0,
        waiting: vec![],
        others: 1,
        stalled: None,
        by: None,
    });
    let msg = ServerMsg::State {
        state: held.clone(),
        cause: None,
    };
    e.on_message(2_000.0, msg, None);
    let out = v.observe(&e, None, false, 0.0);
    assert!(out
        .events
        .contains(&ViewEvent::Hold(held.hold.active.clone())));
    let again = v.observe(&e, None, false, 0.0);
    assert!(!again
        .events
        .iter()
        .any(|ev| matches!(ev, ViewEvent::Hold(_))));
    let mut released = held.clone();
    released.revision += 1;
    released.playing = true;
    released.hold.active = None;
    let msg = ServerMsg::State {
        state: released,
        cause: None,
    };
    e.on_message(3_000.0, msg, None);
    let out = v.observe(&e, None, false, 0.0);
    assert!(out.events.contains(&ViewEvent::Hold(None)));
}
