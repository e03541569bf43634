//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (once; later calls are no-ops).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// Info lines of one kind logged per second at most; the rest are counted and reported.
const SAMPLED_PER_SEC: u32 = 5;

/// Logs `what` at info level unless more than [`SAMPLED_PER_SEC`] lines of the same `what`
/// were logged this second (a flood of rejected requests must not flood the log). The number
/// of suppressed lines is logged with the next line of that kind.
pub fn sampled_info(what: &'static str) {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Instant;
    /// Per kind of line: (window start, lines logged in it, lines suppressed).
    type Windows = HashMap<&'static str, (Instant, u32, u64)>;
    static WINDOWS: Mutex<Option<Windows>> = Mutex::new(None);
    let mut windows = WINDOWS.lock().unwrap_or_else(|p| p.into_inner());
    let map = windows.get_or_insert_with(HashMap::new);
    let now = Instant::now();
    let (start, count, suppressed) = map.entry(what).or_insert((now, 0, 0));
    if now.duration_since(*start).as_secs_f64() >= 1.0 {
        *start = now;
        *count = 0;
    }
    if *count < SAMPLED_PER_SEC {
        *count += 1;
        let dropped = std::mem::take(suppressed);
        if dropped > 0 {
            tracing::info!(suppressed = dropped, "{what}");
        } else {
            tracing::info!("{what}");
        }
    } else {
        *suppressed += 1;
    }
}
