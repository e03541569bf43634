//! Concurrent commands in the closed-loop simulation: three viewers act at the same moment
//! (one pauses, two seek while the room plays). Whichever command the server takes first,
//! every player must end in that one state: the losers' commands are stale, and each loser
//! adopts the winner's state, whatever order its verdict, the winner's state and its own
//! player's reports arrive in. Swept over paths, report intervals and stale readings.

use super::sim::World;
use super::PlayerState;

/// Three viewers playing together with these one-way paths (ms), widget report interval (ms)
/// and reading staleness (ms).
fn three_playing(paths: [f64; 3], report_ms: f64, stale_ms: f64, jitter_ms: f64) -> World {
    let mut w = World::new();
    for (k, (clock, path)) in [5_000.0, -90_000.0, 777.0]
        .into_iter()
        .zip(paths)
        .enumerate()
    {
        let i = w.join(clock, path, path);
        let c = &mut w.clients[i];
        c.player.activated = true;
        c.report_ms = report_ms;
        c.stale_ms = stale_ms;
        c.jitter_ms = jitter_ms;
        c.player.latency_ms = 60.0 + 40.0 * k as f64;
    }
    w.run(2_000.0);
    w.user_play(0);
    w.run(3_000.0);
    assert!(w.state.playing, "{:?}", w.state);
    w
}

/// Every player shows the room's state: the same play/pause and within 30 ms of it.
fn converged(w: &World) -> Result<(), String> {
    for (i, c) in w.clients.iter().enumerate() {
        let playing = c.player.state == PlayerState::Playing;
        if playing != w.state.playing || w.error(i).abs() > 0.030 {
            return Err(format!(
                "viewer {i}: {:?} at {:.3}, room {} at {:.3} (rev {}), last action {:?}",
                c.player.state,
                c.player.position,
                if w.state.playing { "playing" } else { "paused" },
                w.state.position_at(w.server_now()),
                w.state.revision,
                c.engine.stats().last_action,
            ));
        }
    }
    Ok(())
}

#[test]
fn three_viewers_acting_at_once_end_in_the_winners_state() {
    let mut failures = Vec::new();
    let mut runs = 0;
    for paths in [
        [15.0, 15.0, 15.0],
        [2.0, 30.0, 60.0],
        [60.0, 2.0, 30.0],
        [1.0, 1.0, 1.0],
    ] {
        for (report_ms, stale_ms) in [(0.0, 0.0), (250.0, 0.0), (250.0, 40.0)] {
            for jitter_ms in [0.0, 25.0] {
                for offset in [0.0, 3.0, 7.0] {
                    runs += 1;
                    let mut w = three_playing(paths, report_ms, stale_ms, jitter_ms);
                    w.run(offset);
                    let now = w.now;
                    w.clients[0].player.pause(now);
                    w.clients[1].player.seek(now, 200.0);
                    w.clients[2].player.seek(now, 400.0);
                    w.run(6_000.0);
                    if let Err(e) = converged(&w) {
                        failures.push(format!(
                            "paths {paths:?} reports {report_ms} stale {stale_ms} jitter \
                             {jitter_ms} +{offset}: {e}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
