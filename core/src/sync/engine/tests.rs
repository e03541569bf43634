//! The engine's unit tests: one input at a time, with the actions it must (and must not) give.

use super::*;

fn rd(at: f64, state: PlayerState, position: f64) -> Reading {
    Reading {
        at,
        state,
        position,
        rate: 1.0,
        duration: 600.0,
    }
}

fn hello(state: PlaybackState, server_time: f64) -> ServerMsg {
    ServerMsg::Hello {
        conn_id: 7,
        session_id: crate::ids::SessionId::parse("000000000000").unwrap(),
        server_time,
        state,
        viewers: 2,
        kid: None,
    }
}

/// A room playing from 10 s at server time 0, and this device's clock 5 s behind the
/// server's.
fn playing_room() -> PlaybackState {
    let v = crate::ids::VideoId::parse("dQw4w9WgXcQ").unwrap();
    let mut s = PlaybackState::new(v, 10.0, 0.0);
    s.playing = true;
    s
}
const SKEW: f64 = 5_000.0;

fn moves_player(out: &[Action]) -> bool {
    out.iter()
        .any(|a| matches!(a, Action::Seek(_) | Action::Play | Action::Pause))
}

#[test]
fn a_player_ready_before_hello_waits_for_the_server_clock() {
    // The server-rendered state alone, read on a clock 5 s off, would seek 5 s wrong.
    let s = playing_room();
    let mut e = Engine::new(Some(s.clone()));
    let out = e.on_player_ready(0.0, &[1.0], Some(rd(0.0, PlayerState::Cued, 10.0)));
    assert!(!moves_player(&out), "{out:?}");
    // `hello` brings the clock: now the player is sent where the room is.
    let out = e.on_message(
        1_000.0 - SKEW,
        hello(s, 1_000.0),
        Some(rd(1_000.0 - SKEW, PlayerState::Cued, 10.0)),
    );
    let to = out.iter().find_map(|a| match a {
        Action::Seek(to) => Some(*to),
        _ => None,
    });
    assert!(to.is_some_and(|to| (to - 11.2).abs() < 1e-6), "{out:?}");
    assert!(out.contains(&Action::Play), "{out:?}");
}

#[test]
fn an_adopted_connection_leaves_a_player_the_page_synced_alone() {
    let s = playing_room();
    let mut e = Engine::new(Some(s.clone()));
    // What the page's socket received: hello at server time 500 (client 500 - SKEW), then
    // pongs of 2 ms round trips. Replayed without readings.
    let at = 500.0 - SKEW;
    let out = e.on_message(at, hello(s.clone(), 500.0), None);
    assert!(!moves_player(&out), "{out:?}");
    for k in 0..3 {
        let t0 = at + 100.0 * f64::from(k);
        e.on_message(
            t0 + 2.0,
            ServerMsg::Pong {
                t0,
                t1: t0 + SKEW + 1.0,
                t2: t0 + SKEW + 1.0,
            },
            None,
        );
    }
    // The page had set the player playing in sync; the app adopts it at client 2000.
    let now = 2_000.0 - SKEW;
    let in_sync = 10.0 + 2.0 + 0.004;
    let ready = e.on_player_ready(now, &[1.0], Some(rd(now, PlayerState::Playing, in_sync)));
    let adopted = e.on_adopted(
        now + 1.0,
        Some(rd(now + 1.0, PlayerState::Playing, in_sync)),
    );
    assert!(
        !moves_player(&ready) && !moves_player(&adopted),
        "{ready:?} {adopted:?}"
    );
    assert_eq!(e.status(), ConnStatus::Live);
    // A player the page could not start (autoplay refused) is started by the app.
    let mut e2 = Engine::new(Some(s.clone()));
    e2.on_message(at, hello(s, 500.0), None);
    e2.on_player_ready(now, &[1.0], None);
    let out = e2.on_adopted(now, Some(rd(now, PlayerState::Cued, 10.0)));
    assert!(out.contains(&Action::Play), "{out:?}");
}

#[test]
fn a_queue_edit_leaves_the_player_and_an_in_flight_command_alone() {
    use crate::ids::VideoId;
    use crate::queue::QueueEdit;
    let v = VideoId::parse("dQw4w9WgXcQ").unwrap();
    let s = PlaybackState::new(v, 10.0, 0.0);
    let mut e = Engine::new(Some(s.clone()));
    let r = rd(0.0, PlayerState::Paused, 10.0);
    e.on_message(
        0.0,
        ServerMsg::Hello {
            conn_id: 7,
            session_id: crate::ids::SessionId::parse("000000000000").unwrap(),
            server_time: 0.0,
            state: s.clone(),
            viewers: 1,
            kid: None,
        },
        Some(r),
    );
    e.on_player_ready(0.0, &[1.0], Some(r));
    // The viewer presses play: a command is in flight.
    let out = e.on_player_state(
        100.0,
        PlayerState::Playing,
        Some(rd(100.0, PlayerState::Playing, 10.0)),
    );
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Send(ClientMsg::Play { .. }))),
        "{out:?}"
    );
    // Somebody adds to the queue meanwhile: the player is not touched (no pause back).
    let mut queued = s.clone();
    queued
        .queue
        .apply(
            &QueueEdit::Add {
                video_id: v,
                start: 0.0,
            },
            10,
        )
        .unwrap();
    queued.revision += 1;
    queued.playback_revision = 1;
    let out = e.on_message(
        150.0,
        ServerMsg::State {
            state: queued,
            cause: Some(Cause { conn_id: 9, seq: 1 }),
        },
        Some(rd(150.0, PlayerState::Playing, 10.05)),
    );
    assert!(
        !out.iter()
            .any(|a| matches!(a, Action::Pause | Action::Seek(_))),
        "{out:?}"
    );
    assert_eq!(e.state().map(|s| s.queue.items.len()), Some(1));
}

#[test]
fn a_viewer_without_control_is_put_back_instead_of_sending() {
    let v = crate::ids::VideoId::parse("dQw4w9WgXcQ").unwrap();
    let mut s = PlaybackState::new(v, 10.0, 0.0);
    s.playing = true;
    let mut e = Engine::new(Some(s.clone()));
    let r = rd(0.0, PlayerState::Playing, 10.0);
    e.on_message(
        0.0,
        ServerMsg::Hello {
            conn_id: 7,
            session_id: crate::ids::SessionId::parse("000000000000").unwrap(),
            server_time: 0.0,
            state: s,
            viewers: 2,
            kid: None,
        },
        Some(r),
    );
    e.on_player_ready(0.0, &[1.0], Some(r));
    e.on_tick(100.0, Some(rd(100.0, PlayerState::Playing, 10.1)));
    e.set_may_control(false);
    let sends = |out: &[Action]| {
        out.iter()
            .filter(|a| matches!(a, Action::Send(m) if m.command().is_some()))
            .count()
    };
    // The viewer pauses inside the player: nothing is sent, a step is asked for at once...
    let out = e.on_player_state(
        200.0,
        PlayerState::Paused,
        Some(rd(200.0, PlayerState::Paused, 10.2)),
    );
    assert_eq!(sends(&out), 0, "{out:?}");
    assert!(out.contains(&Action::WakeAt(200.0)), "{out:?}");
    assert_eq!(e.refused(), 1);
    // ...which plays the player again at the room's position.
    let out = e.on_tick(201.0, Some(rd(201.0, PlayerState::Paused, 10.2)));
    assert!(out.contains(&Action::Play), "{out:?}");
    assert_eq!(sends(&out), 0, "{out:?}");
    // A drag of the timeline while playing is undone the same way.
    e.on_player_state(
        400.0,
        PlayerState::Playing,
        Some(rd(400.0, PlayerState::Playing, 10.4)),
    );
    e.on_tick(3_000.0, Some(rd(3_000.0, PlayerState::Playing, 13.0)));
    let out = e.on_tick(3_100.0, Some(rd(3_100.0, PlayerState::Playing, 60.0)));
    assert_eq!(sends(&out), 0, "{out:?}");
    assert_eq!(e.refused(), 2);
    let out = e.on_tick(3_101.0, Some(rd(3_101.0, PlayerState::Playing, 60.0)));
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Seek(to) if (to - 13.1).abs() < 0.5)),
        "{out:?}"
    );
    // Once allowed again, a pause is a command.
    e.set_may_control(true);
    let out = e.on_player_state(
        5_000.0,
        PlayerState::Paused,
        Some(rd(5_000.0, PlayerState::Paused, 15.0)),
    );
    assert_eq!(sends(&out), 1, "{out:?}");
}

#[test]
fn jumps_are_told_apart_from_playback_stalls_and_throttling() {
    use PlayerState::*;
    // Normal playback and small jitter: no jump.
    assert!(!is_jump(&rd(0.0, Playing, 10.0), &rd(100.0, Playing, 10.1)));
    assert!(!is_jump(&rd(0.0, Playing, 10.0), &rd(100.0, Playing, 10.5)));
    // Forward or backward beyond the threshold while playing.
    assert!(is_jump(&rd(0.0, Playing, 10.0), &rd(100.0, Playing, 11.0)));
    assert!(is_jump(&rd(0.0, Playing, 10.0), &rd(100.0, Playing, 9.0)));
    // Paused: any real move is a seek; no move is nothing.
    assert!(is_jump(&rd(0.0, Paused, 10.0), &rd(100.0, Paused, 10.3)));
    assert!(!is_jump(&rd(0.0, Paused, 10.0), &rd(100.0, Paused, 10.0)));
    // A stall (frozen while buffering) is not a seek, a seek during buffering is.
    assert!(!is_jump(
        &rd(0.0, Playing, 10.0),
        &rd(900.0, Buffering, 10.05)
    ));
    assert!(is_jump(
        &rd(0.0, Playing, 10.0),
        &rd(100.0, Buffering, 40.0)
    ));
    // Fresh players and the end are not compared; nor are throttled polls.
    assert!(!is_jump(&rd(0.0, Cued, 0.0), &rd(100.0, Paused, 30.0)));
    assert!(!is_jump(&rd(0.0, Playing, 599.9), &rd(100.0, Ended, 600.0)));
    assert!(!is_jump(
        &rd(0.0, Playing, 10.0),
        &rd(5_000.0, Playing, 11.0)
    ));
}

/// A room paused at 66 s whose video changes at 250 ms while this viewer's player still reads
/// the old video (paused at 66 s): the engine and what it did on the change.
fn paused_room_changes_video() -> (Engine, Vec<Action>) {
    let v = crate::ids::VideoId::parse("dQw4w9WgXcQ").unwrap();
    let w = crate::ids::VideoId::parse("jNQXAC9IVRw").unwrap();
    let s = PlaybackState::new(v, 66.0, 0.0);
    let mut e = Engine::new(Some(s.clone()));
    e.on_message(0.0, hello(s.clone(), 0.0), None);
    e.on_player_ready(0.0, &[1.0], Some(rd(0.0, PlayerState::Paused, 66.0)));
    for t in [100.0, 200.0] {
        e.on_tick(t, Some(rd(t, PlayerState::Paused, 66.0)));
    }
    let mut changed = PlaybackState::new(w, 0.0, 250.0);
    changed.revision = s.revision + 1;
    let out = e.on_message(
        250.0,
        ServerMsg::State {
            state: changed,
            cause: Some(Cause { conn_id: 9, seq: 1 }),
        },
        Some(rd(250.0, PlayerState::Paused, 66.0)),
    );
    (e, out)
}

#[test]
fn a_paused_video_change_waits_for_the_cue_before_it_snaps_the_player() {
    // Seen in the browser suite (room.spec.js): the room paused at 66 s changes its video. Until
    // the cue's messages reach the page, its readings are the old video's (paused at 66 s): a
    // snap to the new position taken on one seeks the cued video, which starts it, and the
    // engine then sends that start as the viewer's own play.
    let (mut e, out) = paused_room_changes_video();
    assert!(
        out.iter().any(|a| matches!(a, Action::Load { .. })),
        "{out:?}"
    );
    // Stale readings: nothing is done to the player.
    for t in [350.0, 450.0, 550.0] {
        let out = e.on_tick(t, Some(rd(t, PlayerState::Paused, 66.0)));
        assert!(!moves_player(&out), "at {t}: {out:?}");
    }
    // The cue shows: the player is where the room is, and nothing is sent or moved.
    let out = e.on_player_state(
        600.0,
        PlayerState::Cued,
        Some(rd(600.0, PlayerState::Cued, 0.0)),
    );
    assert!(!moves_player(&out), "{out:?}");
    let out = e.on_tick(650.0, Some(rd(650.0, PlayerState::Cued, 0.0)));
    assert!(!moves_player(&out), "{out:?}");
    let commands = |out: &[Action]| {
        out.iter()
            .any(|a| matches!(a, Action::Send(m) if !matches!(m, ClientMsg::Ping { .. })))
    };
    assert!(!commands(&out), "{out:?}");
}

#[test]
fn a_player_that_never_shows_its_cue_is_applied_after_the_grace() {
    let (mut e, _) = paused_room_changes_video();
    let late = 250.0 + CUE_GRACE_MS + 100.0;
    let out = e.on_tick(late, Some(rd(late, PlayerState::Paused, 66.0)));
    assert!(out.contains(&Action::Seek(0.0)), "{out:?}");
}

/// A paused room at 10 s, this viewer ready and live on a clock `SKEW` behind the server's.
fn paused_and_live() -> (Engine, PlaybackState) {
    let v = crate::ids::VideoId::parse("dQw4w9WgXcQ").unwrap();
    let s = PlaybackState::new(v, 10.0, 0.0);
    let mut e = Engine::new(Some(s.clone()));
    e.on_player_ready(0.0, &[1.0], Some(rd(0.0, PlayerState::Paused, 10.0)));
    e.on_message(
        1_000.0 - SKEW,
        hello(s.clone(), 1_000.0),
        Some(rd(1_000.0 - SKEW, PlayerState::Paused, 10.0)),
    );
    (e, s)
}

fn state_msg(state: PlaybackState) -> ServerMsg {
    ServerMsg::State { state, cause: None }
}

/// A paused viewer (see [`paused_and_live`]) gets a play made at server time 2000 and
/// scheduled for 2300: the engine, that state, the planned call (client ms) and the actions.
fn held_for_a_start() -> (Engine, PlaybackState, f64, Vec<Action>) {
    let (mut e, paused) = paused_and_live();
    let s = crate::playback::apply_scheduled(
        &paused,
        Command::Play { position: 10.0 },
        paused.revision,
        2_000.0,
        300.0,
    )
    .unwrap()
    .unwrap();
    let now = 2_050.0 - SKEW;
    let out = e.on_message(
        now,
        state_msg(s.clone()),
        Some(rd(now, PlayerState::Paused, 10.0)),
    );
    let play_at = 2_300.0 - SKEW - super::super::start_latency::GUESS_MS;
    (e, s, play_at, out)
}

#[test]
fn a_scheduled_start_holds_the_player_and_plays_the_start_latency_before_the_moment() {
    let (mut e, mut s, play_at, out) = held_for_a_start();
    assert!(!out.contains(&Action::Play), "{out:?}");
    assert!(out.contains(&Action::StartAt(play_at)), "{out:?}");
    // A duration report arrives inside the window: a new revision, the same start.
    s = crate::playback::apply_scheduled(
        &s,
        Command::Duration { seconds: 600.0 },
        0,
        2_100.0,
        300.0,
    )
    .unwrap()
    .unwrap();
    let now = 2_100.0 - SKEW;
    e.on_message(
        now,
        state_msg(s.clone()),
        Some(rd(now, PlayerState::Paused, 10.0)),
    );
    let out = e.on_tick(
        play_at - 5.0,
        Some(rd(play_at - 5.0, PlayerState::Paused, 10.0)),
    );
    assert!(!out.contains(&Action::Play), "not yet: {out:?}");
    let out = e.on_tick(play_at, Some(rd(play_at, PlayerState::Paused, 10.0)));
    assert!(
        out.contains(&Action::Play),
        "{out:?} {:?} {:?}",
        e.scheduled,
        e.stats().last_action
    );
    // It started 30 ms after the call: the probe learns 30 ms and shows a 70 ms early start.
    let at = play_at + 500.0;
    e.on_player_state(
        play_at + 30.0,
        PlayerState::Playing,
        Some(rd(play_at + 30.0, PlayerState::Playing, 10.0)),
    );
    e.on_tick(at, Some(rd(at, PlayerState::Playing, 10.470)));
    let st = e.stats();
    assert_eq!(st.starts, 1);
    assert!(
        (st.start_error_ms.unwrap() - 70.0).abs() < 0.2,
        "{:?}",
        st.start_error_ms
    );
    assert!(
        (st.start_latency_ms - 30.0).abs() < 0.2,
        "{}",
        st.start_latency_ms
    );
}

#[test]
fn the_viewers_own_play_is_sent_from_where_it_was_pressed_and_held_there() {
    let (mut e, _) = paused_and_live();
    let now = 3_000.0 - SKEW;
    e.on_player_state(
        now,
        PlayerState::Buffering,
        Some(rd(now, PlayerState::Buffering, 10.0)),
    );
    let out = e.on_player_state(
        now + 40.0,
        PlayerState::Playing,
        Some(rd(now + 40.0, PlayerState::Playing, 10.002)),
    );
    let sent = out.iter().find_map(|a| match a {
        Action::Send(ClientMsg::Play { position, .. }) => Some(*position),
        _ => None,
    });
    assert_eq!(sent, Some(10.002), "{out:?}");
    assert!(
        out.contains(&Action::Pause),
        "held until the room's moment: {out:?}"
    );
    // The pause it made is its own, not the viewer's: nothing more is sent.
    let out = e.on_player_state(
        now + 45.0,
        PlayerState::Paused,
        Some(rd(now + 45.0, PlayerState::Paused, 10.003)),
    );
    assert!(!out.iter().any(|a| matches!(a, Action::Send(_))), "{out:?}");
}

#[test]
fn a_late_call_to_start_seeks_ahead_by_its_delay_first() {
    let (mut e, _, play_at, _) = held_for_a_start();
    // The timer fires 60 ms late: the player will run from 10.06 when the room is there.
    let at = play_at + 60.0;
    let out = e.on_tick(at, Some(rd(at, PlayerState::Paused, 10.0)));
    let seek = out.iter().find_map(|a| match a {
        Action::Seek(to) => Some(*to),
        _ => None,
    });
    assert!(seek.is_some_and(|to| (to - 10.06).abs() < 1e-9), "{out:?}");
    assert!(out.contains(&Action::Play), "{out:?}");
    // On time (within LATE_SEEK_MS) it does not seek.
    let (mut e, _, _, _) = held_for_a_start();
    let at = play_at + 10.0;
    let out = e.on_tick(at, Some(rd(at, PlayerState::Paused, 10.0)));
    assert!(
        out.contains(&Action::Play) && !out.iter().any(|a| matches!(a, Action::Seek(_))),
        "{out:?}"
    );
}

/// The viewer's own play in a paused room (see [`paused_and_live`]), sent and held: the engine
/// and the client time of the play.
fn own_play_held() -> (Engine, f64) {
    let (mut e, _) = paused_and_live();
    let now = 3_000.0 - SKEW;
    e.on_player_state(
        now,
        PlayerState::Buffering,
        Some(rd(now, PlayerState::Buffering, 10.0)),
    );
    let out = e.on_player_state(
        now + 40.0,
        PlayerState::Playing,
        Some(rd(now + 40.0, PlayerState::Playing, 10.002)),
    );
    assert!(out.contains(&Action::Pause), "{out:?}");
    (e, now + 40.0)
}

/// The echo of that play (seq 1 of this viewer) as the server sends it: played from `position`,
/// decided at client time `at` (server time `at + SKEW`) with a lead of `lead_ms`.
fn own_play_echo(e: &Engine, position: f64, at: f64, lead_ms: f64) -> ServerMsg {
    let paused = e.state().unwrap();
    let state = crate::playback::apply_scheduled(
        paused,
        Command::Play { position },
        paused.revision,
        at + SKEW,
        lead_ms,
    )
    .unwrap()
    .unwrap();
    ServerMsg::State {
        state,
        cause: Some(crate::protocol::Cause { conn_id: 7, seq: 1 }),
    }
}

#[test]
fn an_echo_that_overtakes_our_own_hold_still_starts_the_player() {
    // The echo comes back before the player reported the hold's pause (its readings still say
    // PLAYING), and its moment is too close for a held start: the player must be started,
    // or the pause landing right after would leave it paused while the room plays.
    let (mut e, at) = own_play_held();
    let echo = own_play_echo(&e, 10.002, at + 2.0, 5.0);
    let now = at + 8.0;
    let out = e.on_message(now, echo, Some(rd(now, PlayerState::Playing, 10.003)));
    assert!(out.contains(&Action::Play), "{out:?}");
    // The hold's pause lands, then the play: the pause is not the viewer's.
    let out = e.on_player_state(
        now + 5.0,
        PlayerState::Paused,
        Some(rd(now + 5.0, PlayerState::Paused, 10.003)),
    );
    assert!(!out.iter().any(|a| matches!(a, Action::Send(_))), "{out:?}");
}

#[test]
fn a_player_left_paused_while_the_room_plays_is_started_again_with_backoff() {
    let (mut e, at) = own_play_held();
    let echo = own_play_echo(&e, 10.0, at, 0.0);
    let now = at + 10.0;
    let out = e.on_message(now, echo, Some(rd(now, PlayerState::Paused, 10.0)));
    assert!(out.contains(&Action::Play), "{out:?}");
    // The player starts when asked, and each time stops again a moment later without an
    // event (a player's own mood): it is started again, with a growing grace.
    let mut plays = vec![now];
    let mut playing_until = now + 600.0;
    e.on_player_state(
        now + 30.0,
        PlayerState::Playing,
        Some(rd(now + 30.0, PlayerState::Playing, 10.0)),
    );
    let mut t = now;
    while t < now + 40_000.0 {
        t += super::super::TICK_MS;
        let st = if t < playing_until {
            PlayerState::Playing
        } else {
            PlayerState::Paused
        };
        let out = e.on_tick(t, Some(rd(t, st, 10.0)));
        assert!(
            !out.iter()
                .any(|a| matches!(a, Action::Send(ClientMsg::Pause { .. }))),
            "{out:?}"
        );
        if out.contains(&Action::Play) {
            plays.push(t);
            playing_until = t + 600.0;
            e.on_player_state(
                t + 30.0,
                PlayerState::Playing,
                Some(rd(t + 30.0, PlayerState::Playing, 10.0)),
            );
        }
    }
    assert!(plays.len() >= 4 && plays.len() <= 8, "{plays:?}");
    assert!(
        e.stats().last_action.starts_with("off the room"),
        "{}",
        e.stats().last_action
    );
    let gaps: Vec<f64> = plays.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.windows(2).all(|g| g[1] >= g[0] - 1.0), "{gaps:?}");
    assert!(
        gaps.iter()
            .all(|g| *g <= stuck::STUCK_MAX_MS + SEEK_GUARD_MS + 1_000.0),
        "{gaps:?}"
    );
    assert!(
        !e.stats().last_action.contains("blocked"),
        "{}",
        e.stats().last_action
    );
}

#[test]
fn a_player_left_off_a_paused_room_is_put_back_without_sending() {
    // A paused room at 10 s. The viewer's seek to 400 s comes while our snap to 10 s is
    // landing: the seek guard ends on the far reading, and the poll sees no jump after it.
    let (mut e, _) = paused_and_live();
    let t0 = 3_000.0 - SKEW;
    e.on_tick(t0, Some(rd(t0, PlayerState::Paused, 10.0)));
    let mut seeks = Vec::new();
    let mut t = t0;
    let mut at = 400.0;
    let mut state = PlayerState::Paused;
    e.guard = Some(Guard {
        to: 10.0,
        at: t0,
        until: t0 + SEEK_GUARD_MS,
    });
    while t < t0 + 8_000.0 {
        t += super::super::TICK_MS;
        let out = e.on_tick(t, Some(rd(t, state, at)));
        assert!(
            !out.iter().any(|a| matches!(
                a,
                Action::Send(ClientMsg::Seek { .. } | ClientMsg::Play { .. })
            )),
            "{out:?}"
        );
        for a in &out {
            if let Action::Seek(to) = a {
                seeks.push((t, *to));
                at = *to;
            }
        }
        // Then the player starts by itself (an own start the engine took for its echo).
        if t > t0 + 5_000.0 && t < t0 + 5_000.0 + super::super::TICK_MS {
            state = PlayerState::Playing;
        }
        if out.contains(&Action::Pause) {
            state = PlayerState::Paused;
        }
    }
    assert_eq!(seeks.len(), 1, "{seeks:?}");
    let (when, to) = seeks[0];
    assert_eq!(to, 10.0);
    assert!(
        when >= t0 + SEEK_GUARD_MS + stuck::STUCK_GRACE_MS
            && when <= t0 + SEEK_GUARD_MS + stuck::STUCK_GRACE_MS + 300.0,
        "{}",
        when - t0
    );
    assert_eq!(state, PlayerState::Paused, "the start was paused again");
}

#[test]
fn own_positions_are_sent_within_the_range_the_server_accepts_and_no_narrower() {
    let sent_seek = |to: f64| {
        let v = crate::ids::VideoId::parse("dQw4w9WgXcQ").unwrap();
        let mut s = PlaybackState::new(v, 10.0, 0.0);
        s.duration = Some(600.0);
        let mut e = Engine::new(Some(s.clone()));
        e.on_player_ready(0.0, &[1.0], Some(rd(0.0, PlayerState::Paused, 10.0)));
        let now = 1_000.0 - SKEW;
        e.on_message(
            now,
            hello(s, 1_000.0),
            Some(rd(now, PlayerState::Paused, 10.0)),
        );
        let out = e.on_request(now, Command::Seek { position: to }, None);
        out.iter().find_map(|a| match a {
            Action::Send(ClientMsg::Seek { position, .. }) => Some(*position),
            _ => None,
        })
    };
    // A late reading a hair below the start is the start.
    assert_eq!(sent_seek(-0.02), Some(0.0));
    // Past the reported duration travels as it is: the report was wrong, and the server drops it.
    assert_eq!(sent_seek(700.0), Some(700.0));
}
