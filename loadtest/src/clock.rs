//! One monotonic clock for the whole process: microseconds since the first call.
//! Send and receipt times of different connections are compared on it.

use std::sync::OnceLock;
use std::time::Instant;

static BASE: OnceLock<Instant> = OnceLock::new();

/// The clock's origin (fixed at the first call).
pub fn base() -> Instant {
    *BASE.get_or_init(Instant::now)
}

/// Microseconds since [`base`].
pub fn now_us() -> u64 {
    micros_at(Instant::now())
}

/// `at` as microseconds since [`base`] (0 for instants before it).
pub fn micros_at(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(base()).as_micros()).unwrap_or(u64::MAX)
}
