//! Prints the closed-loop simulation's figures per player variant (docs/benchmarks.md, "Sync on
//! hard players"): viewer B configured as the variant, A well-behaved; B's |error| against the
//! session, sampled every 100 ms while B plays, and B's corrections per minute.
//!
//! ```sh
//! cargo run -p watchparty-core --features sim --release --example sim_figures [SECONDS]
//! ```
//!
//! `SECONDS` (default 300) is the length of the steady and of the 1 % fast phase. The assertions
//! on the same scenarios are the `sim_hard` tests.

use watchparty_core::sync::sim_variants::figures;

fn main() {
    let secs = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 10.0)
        .unwrap_or(300.0);
    println!("| variant | phase | p50 | p95 | max | seeks / min | rate changes / min |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for r in figures(secs) {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.variant,
            r.phase,
            r.errors.p50 * 1000.0,
            r.errors.p95 * 1000.0,
            r.errors.max * 1000.0,
            r.seeks_per_min,
            r.rates_per_min
        );
    }
}
