//! Scheduled starts in the closed-loop simulation (issue 27): a play or a resume starts every
//! player, the sender's included, at the moment the server picked, each calling `playVideo()`
//! its own learned start latency ahead; after a few starts each lands within a frame.

use super::sim::World;

/// Three viewers with different clocks, paths and player start latencies, paused.
fn three_paused(jitter_ms: f64) -> World {
    let mut w = World::new();
    for (clock, path, latency) in [
        (5_000.0, 15.0, 150.0),
        (-90_000.0, 40.0, 60.0),
        (777.0, 25.0, 220.0),
    ] {
        let i = w.join(clock, path, path);
        w.clients[i].player.latency_ms = latency;
        w.clients[i].player.latency_jitter_ms = jitter_ms;
        w.clients[i].player.activated = true;
    }
    w.run(3_000.0);
    w
}

/// Each viewer's error at its first settled reading after the last start (ms), and the
/// spread between them.
fn start_spread(w: &World) -> (Vec<f64>, f64) {
    let errors: Vec<f64> = w
        .clients
        .iter()
        .map(|c| c.engine.stats().start_error_ms.unwrap_or(f64::NAN))
        .collect();
    let hi = errors.iter().copied().fold(f64::MIN, f64::max);
    let lo = errors.iter().copied().fold(f64::MAX, f64::min);
    (errors, hi - lo)
}

#[test]
fn starts_land_every_player_on_the_same_frame_once_latencies_are_learned() {
    let mut w = three_paused(0.0);
    let mut spreads = Vec::new();
    for k in 0..8 {
        // Alternately the first and the third viewer presses play, then pause.
        let who = if k % 2 == 0 { 0 } else { 2 };
        w.user_play(who);
        w.run(2_000.0);
        assert!(w.state.playing, "start {k}");
        assert!(w.state.updated_at > 0.0);
        let (errors, spread) = start_spread(&w);
        spreads.push(spread);
        if k >= 2 {
            assert!(spread < 16.0, "start {k}: {errors:?}");
            for i in 0..3 {
                assert!(
                    w.error(i).abs() < 0.016,
                    "start {k}, viewer {i}: {}",
                    w.error(i)
                );
            }
        }
        let now = w.now;
        w.clients[who].player.pause(now);
        w.run(1_500.0);
        assert!(!w.state.playing, "pause {k}");
    }
    for c in &w.clients {
        assert!(
            c.engine.stats().starts >= 6,
            "{:?}",
            c.engine.stats().starts
        );
        assert_eq!(c.engine.stats().corrective_seeks, 0);
    }
}

#[test]
fn the_sender_does_not_start_before_the_room_does() {
    let mut w = three_paused(0.0);
    w.user_play(1);
    // The sender's player plays for a moment (its own click), then waits for the room.
    w.run(120.0);
    let mut early = 0.0f64;
    for _ in 0..100 {
        w.run(5.0);
        if !w.state.playing || w.server_now() < w.state.updated_at {
            early = early.max(w.clients[1].player.position - w.state.position);
        }
    }
    assert!(w.state.playing);
    assert!(
        early < 0.1,
        "the sender ran {early} s ahead of the room's start"
    );
}

#[test]
fn with_a_varying_start_latency_starts_stay_within_two_frames() {
    let mut w = three_paused(20.0);
    let mut worst: f64 = 0.0;
    for k in 0..10 {
        w.user_play(k % 3);
        w.run(2_000.0);
        if k >= 3 {
            worst = worst.max(start_spread(&w).1);
        }
        let now = w.now;
        w.clients[k % 3].player.pause(now);
        w.run(1_500.0);
    }
    assert!(worst < 33.0, "worst spread {worst} ms");
}
