//! The hard-player scenarios of issue 14 on the closed-loop simulation ([`super::sim`]): the
//! world they run in, the player variants, the error statistics, and the figures that
//! docs/benchmarks.md reports (printed by `core/examples/sim_figures.rs`:
//! `cargo run -p watchparty-core --features sim --release --example sim_figures`). The tests in
//! `sim_hard` assert on the same scenarios.
//!
//! Compiled for the tests and with the `sim` feature only; never part of the wasm bundle.

use super::sim::World;
use super::PlayerState;

/// Viewer A's client clock (sim ms + this).
pub const A_CLOCK: f64 = -1.7e12 + 12_345.0;
/// Viewer B's client clock.
pub const B_CLOCK: f64 = -1.7e12 - 777_000.0;

/// A plays from 0; B (configured by `setup` before it joins) joins 5 s later and settles for
/// 10 s. Both see a network whose delays vary by up to 4 ms (a loaded browser's event loop), so
/// their clock estimates wander by a few ms as in the browser.
pub fn world_with(setup: impl FnOnce(&mut World, usize)) -> World {
    let mut w = World::new();
    let a = w.join(A_CLOCK, 15.0, 15.0);
    w.clients[a].jitter_ms = 4.0;
    w.run(1_000.0);
    let now = w.now;
    w.clients[0].player.activated = true;
    w.clients[0].player.play(now);
    w.run(4_000.0);
    let b = w.join(B_CLOCK, 30.0, 30.0);
    w.clients[b].jitter_ms = 4.0;
    setup(&mut w, b);
    w.run(10_000.0);
    w
}

/// Viewer `b` offers only rate 1; its seeks buffer 120–160 ms, as the stand-in's rate-locked
/// variant (`availableRates: [1], bufferMinMs: 120, bufferMaxMs: 160`).
pub fn rate_locked(w: &mut World, b: usize) {
    w.clients[b].player.rates = vec![1.0];
    w.clients[b].player.latency_ms = 120.0;
    w.clients[b].player.latency_jitter_ms = 40.0;
}

/// Corrective seeks plus rate pulses of viewer `i` so far.
pub fn actions(w: &World, i: usize) -> u32 {
    let st = w.clients[i].engine.stats();
    st.corrective_seeks + st.rate_nudges
}

/// |error| statistics of one viewer over a run (s).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Errors {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
    /// Samples taken (every 100 ms while the viewer played).
    pub samples: usize,
}

/// Runs `ms`, sampling |error| of viewer `i` every 100 ms while it plays (a corrective seek's
/// own buffering is a frozen picture, not a position error between playing viewers).
pub fn run_errors(w: &mut World, ms: f64, i: usize) -> Errors {
    let mut errs = Vec::new();
    let end = w.now + ms;
    while w.now < end {
        w.run(100.0);
        if w.clients[i].player.state == PlayerState::Playing {
            errs.push(w.error(i).abs());
        }
    }
    if errs.is_empty() {
        return Errors::default();
    }
    errs.sort_by(f64::total_cmp);
    let q = |p: usize| errs[(errs.len() * p / 100).min(errs.len() - 1)];
    Errors {
        p50: q(50),
        p95: q(95),
        max: errs[errs.len() - 1],
        samples: errs.len(),
    }
}

/// A player variant: its name and how viewer B is configured before it joins.
pub struct Variant {
    /// As in docs/benchmarks.md.
    pub name: &'static str,
    /// Configures viewer B.
    pub setup: fn(&mut World, usize),
}

/// The variants of docs/benchmarks.md, the browser run's plus one combination.
pub fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "well-behaved",
            setup: |_, _| {},
        },
        Variant {
            name: "rate-locked (seeks 120-160 ms)",
            setup: rate_locked,
        },
        Variant {
            name: "late readings (0-40 ms)",
            setup: |w, b| w.clients[b].stale_ms = 40.0,
        },
        Variant {
            name: "reading steps (50 ms)",
            setup: |w, b| w.clients[b].step = 0.05,
        },
        Variant {
            name: "rate-locked + late readings",
            setup: |w, b| {
                rate_locked(w, b);
                w.clients[b].stale_ms = 40.0;
            },
        },
        Variant {
            name: "slow buffering (200-900 ms)",
            setup: |w, b| {
                w.clients[b].player.latency_ms = 200.0;
                w.clients[b].player.latency_jitter_ms = 700.0;
                w.clients[b].player.paused_seek_buffers = true;
            },
        },
    ]
}

/// One row of the figures: a variant in one phase.
#[derive(Clone, Debug)]
pub struct Row {
    /// The variant's name.
    pub variant: &'static str,
    /// What happened meanwhile.
    pub phase: String,
    /// B's |error| against the session while it played.
    pub errors: Errors,
    /// B's corrective seeks per minute.
    pub seeks_per_min: f64,
    /// B's rate pulses per minute.
    pub rates_per_min: f64,
}

/// Measures one phase of `secs` on viewer 1: its errors and corrections per minute.
fn phase(w: &mut World, variant: &'static str, phase: String, secs: f64) -> Row {
    let before = w.clients[1].engine.stats().clone();
    let errors = run_errors(w, secs * 1000.0, 1);
    let after = w.clients[1].engine.stats();
    let per_min = |n: u32| f64::from(n) * 60.0 / secs;
    Row {
        variant,
        phase,
        errors,
        seeks_per_min: per_min(after.corrective_seeks - before.corrective_seeks),
        rates_per_min: per_min(after.rate_nudges - before.rate_nudges),
    }
}

/// The figures per variant: steady play, 1–10 s after A seeks while playing (in the first
/// second B learns of the seek: its error then is the news's delay, not sync), then B's media
/// clock 1 % fast (after 2 s to notice it); steady and fast phases last `secs` each.
pub fn figures(secs: f64) -> Vec<Row> {
    let mut rows = Vec::new();
    for v in variants() {
        let mut w = world_with(v.setup);
        rows.push(phase(&mut w, v.name, format!("steady {secs:.0} s"), secs));
        let now = w.now;
        let to = w.clients[0].player.position + 30.0;
        w.clients[0].player.seek(now, to);
        w.run(1_000.0);
        rows.push(phase(&mut w, v.name, "1-10 s after A seeks".into(), 9.0));
        w.clients[1].player.skew = 1.01;
        w.run(2_000.0);
        rows.push(phase(&mut w, v.name, format!("1 % fast {secs:.0} s"), secs));
    }
    rows
}
