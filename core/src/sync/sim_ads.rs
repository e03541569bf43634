//! Ads and a viewer's own quick actions in the closed-loop simulation (issue 25): an ad on one
//! player moves nobody, the viewer rejoins within 1.5 s after it, a preroll at the room's first
//! play starts the room with the content, and a seek followed at once by a play both land.

use super::sim::World;
use super::PlayerState;
use crate::protocol::ClientMsg;

const A_CLOCK: f64 = 5_000.0;
const B_CLOCK: f64 = -90_000.0;
const C_CLOCK: f64 = 777.0;

/// Three viewers playing from 0 for 20 s, settled (symmetric paths: an asymmetric one puts a
/// viewer half the asymmetry off, which no clock estimate can see).
fn three_playing() -> World {
    let mut w = World::new();
    w.join(A_CLOCK, 15.0, 15.0);
    w.join(B_CLOCK, 25.0, 25.0);
    w.join(C_CLOCK, 30.0, 30.0);
    w.run(1_000.0);
    w.user_play(0);
    w.run(20_000.0);
    w
}

/// Room commands and duration reports a viewer sent (anything that could move the room).
fn room_moves(w: &World, i: usize) -> usize {
    w.clients[i]
        .sent
        .iter()
        .filter(|m| m.command().is_some() || matches!(m, ClientMsg::Duration { .. }))
        .count()
}

/// Runs until viewer `i` is playing within 50 ms of the room for 300 ms; the time it took (ms).
fn rejoin_ms(w: &mut World, i: usize, limit_ms: f64) -> f64 {
    let start = w.now;
    let mut good_since: Option<f64> = None;
    while w.now - start < limit_ms {
        w.step();
        let ok = w.clients[i].player.state == PlayerState::Playing
            && !w.clients[i].player.in_ad()
            && w.error(i).abs() <= 0.050;
        match (ok, good_since) {
            (true, None) => good_since = Some(w.now),
            (true, Some(t)) if w.now - t >= 300.0 => return t - start,
            (false, _) => good_since = None,
            _ => {}
        }
    }
    f64::INFINITY
}

fn mid_roll_moves_nobody(ad_clock: bool) {
    let mut w = three_playing();
    w.clients[1].player.ad_clock = ad_clock;
    let applied = w.applied;
    let moves = room_moves(&w, 1);
    let before = w.run_max_gap(2_000.0, 0, 2);
    assert!(before < 0.005, "settled before the ad: {before}");
    let now = w.now;
    w.clients[1].player.start_ad(now, 8.0);
    let gap = w.run_max_gap(7_900.0, 0, 2);
    assert!(
        gap <= before + 0.001,
        "the others stay together: {gap} (before the ad {before})"
    );
    assert!(w.clients[1].engine.in_ad(), "the ad is seen");
    assert!(w.clients[1].engine.stats().in_ad);
    assert_eq!(w.applied, applied, "nothing changed the room");
    assert_eq!(room_moves(&w, 1), moves, "no command, no duration");
    let took = rejoin_ms(&mut w, 1, 3_000.0);
    assert!(took <= 1_500.0, "back within 50 ms after {took} ms");
    assert!(!w.clients[1].engine.in_ad());
    assert_eq!(w.applied, applied);
    assert_eq!(room_moves(&w, 1), moves);
    let gap = w.run_max_gap(5_000.0, 0, 1);
    assert!(gap < 0.012, "settled: {gap}");
}

#[test]
fn ads_a_mid_roll_with_the_ad_clock_moves_nobody_and_the_viewer_rejoins() {
    mid_roll_moves_nobody(true);
}

#[test]
fn ads_a_mid_roll_with_the_frozen_content_clock_moves_nobody_and_the_viewer_rejoins() {
    mid_roll_moves_nobody(false);
}

#[test]
fn ads_a_late_joiners_preroll_moves_nobody() {
    let mut w = three_playing();
    let applied = w.applied;
    let d = w.join(-3_000.0, 20.0, 20.0);
    w.clients[d].player.preroll_s = Some(6.0);
    w.run(6_500.0);
    assert_eq!(w.applied, applied);
    assert_eq!(room_moves(&w, d), 0);
    let took = rejoin_ms(&mut w, d, 3_000.0);
    assert!(took <= 1_500.0, "{took} ms");
    assert_eq!(w.applied, applied);
}

#[test]
fn ads_a_preroll_at_the_first_play_starts_the_room_with_the_content() {
    let mut w = World::new();
    for (i, clock) in [A_CLOCK, B_CLOCK, C_CLOCK].into_iter().enumerate() {
        w.join(clock, 15.0, 15.0);
        w.clients[i].player.preroll_s = Some(5.0);
    }
    w.run(1_000.0);
    // The host presses play: their player shows the preroll first.
    w.user_play(0);
    w.run(4_000.0);
    assert!(!w.state.playing, "the room waits for the host's content");
    assert_eq!(w.applied, 0);
    assert_eq!(room_moves(&w, 0), 0);
    // The ad ends: the host's play is sent, from the content's start.
    w.run(2_000.0);
    assert!(w.state.playing);
    assert_eq!(w.applied, 1, "one play");
    assert!(
        w.state.position.abs() < 0.05,
        "from the start: {}",
        w.state.position
    );
    // The others get their own prerolls when they start, then rejoin; nobody else sent
    // anything and the room's clock ran on undisturbed.
    w.run(5_000.0);
    for i in [1, 2] {
        let took = rejoin_ms(&mut w, i, 4_000.0);
        assert!(took < 4_000.0, "viewer {i} rejoined");
        assert_eq!(room_moves(&w, i), 0, "viewer {i}");
    }
    assert_eq!(w.applied, 1);
    assert!(w.error(0).abs() < 0.012, "{}", w.error(0));
}

#[test]
fn quick_actions_a_play_right_after_a_paused_seek_both_land() {
    for gap_ms in [0.0, 10.0, 40.0, 120.0] {
        let mut w = three_playing();
        let now = w.now;
        w.clients[0].player.pause(now);
        w.run(1_500.0);
        assert!(!w.state.playing);
        let now = w.now;
        w.clients[0].player.seek(now, 200.0);
        w.run(gap_ms);
        w.user_play(0);
        w.run(3_000.0);
        assert!(w.state.playing, "gap {gap_ms} ms: the play landed");
        let at = w.state.position_at(1.7e12 + w.now);
        assert!(
            (at - 203.0).abs() < 0.5,
            "gap {gap_ms} ms: playing from the seek ({at})"
        );
        assert_eq!(w.clients[0].player.state, PlayerState::Playing);
        assert!(w.error(1).abs() < 0.05, "B follows: {}", w.error(1));
    }
}

#[test]
fn quick_actions_seek_play_seek_ends_playing_at_the_last_seek() {
    let mut w = three_playing();
    let now = w.now;
    w.clients[0].player.pause(now);
    w.run(1_500.0);
    let now = w.now;
    w.clients[0].player.seek(now, 100.0);
    w.run(5.0);
    w.user_play(0);
    w.run(200.0);
    let now = w.now;
    w.clients[0].player.seek(now, 300.0);
    w.run(3_000.0);
    assert!(w.state.playing);
    let at = w.state.position_at(1.7e12 + w.now);
    assert!((at - 302.8).abs() < 0.5, "{at}");
    assert!(w.error(2).abs() < 0.05, "{}", w.error(2));
}

#[test]
fn quick_actions_a_seek_right_after_a_pause_lands_even_when_the_echo_comes_first() {
    for gap_ms in [0.0, 5.0, 30.0] {
        let mut w = three_playing();
        let now = w.now;
        w.clients[0].player.pause(now);
        w.run(gap_ms);
        let now = w.now;
        // A silent seek (no event) before the pause's answer is back.
        w.clients[0].player.seek(now, 300.0);
        w.run(2_000.0);
        assert!(!w.state.playing, "gap {gap_ms} ms");
        assert!(
            (w.state.position - 300.0).abs() < 1e-6,
            "gap {gap_ms} ms: paused at the seek ({})",
            w.state.position
        );
        assert!((w.clients[0].player.position - 300.0).abs() < 1e-6);
        assert!((w.clients[2].player.position - 300.0).abs() < 1e-6);
    }
}
