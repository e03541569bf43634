//! The server clock: milliseconds since the Unix epoch as `f64`, without jumps.
//!
//! The clock reads a monotonic [`Instant`] anchored once to [`SystemTime`] at start, so NTP
//! steps of the host clock never move session time backwards. With Redis, every instance
//! estimates its offset to Redis' `TIME` (NTP-style: several probes, keep the one with the
//! lowest round trip) and adds it, so all instances share Redis' timebase; with the memory
//! store the offset stays 0.
//!
//! After the first estimate the offset is *slewed*: a refresh moves it by at most
//! [`MAX_OFFSET_STEP_MS`], so a step of Redis' clock (or a bad probe) never makes every
//! position jump; a real step is followed gradually (0.1 % of the refresh interval).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Largest change of the offset by one refresh after the first estimate (ms): 0.1 % of the
/// 30 s refresh interval, far above real clock drift, far below anything a viewer notices.
pub const MAX_OFFSET_STEP_MS: f64 = 30.0;

/// A monotonic clock in Unix milliseconds, plus an adjustable offset to a reference clock.
#[derive(Debug)]
pub struct Clock {
    start: Instant,
    start_ms: f64,
    /// `f64` bits of the offset (ms) added to the local reading.
    offset_bits: AtomicU64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock anchored to the system time now, with offset 0.
    pub fn new() -> Self {
        let start_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        Self {
            start: Instant::now(),
            start_ms,
            offset_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// The local reading (ms since the epoch, monotonic, no offset).
    pub fn local_ms(&self) -> f64 {
        self.start_ms + self.start.elapsed().as_secs_f64() * 1000.0
    }

    /// Server time: the local reading plus the offset to the reference clock.
    pub fn now_ms(&self) -> f64 {
        self.local_ms() + self.offset_ms()
    }

    /// The current offset (ms) to the reference clock.
    pub fn offset_ms(&self) -> f64 {
        f64::from_bits(self.offset_bits.load(Ordering::Relaxed))
    }

    /// Sets the offset (ms); ignored unless finite.
    pub fn set_offset_ms(&self, offset: f64) {
        if offset.is_finite() {
            self.offset_bits.store(offset.to_bits(), Ordering::Relaxed);
        }
    }

    /// Moves the offset towards `target` by at most [`MAX_OFFSET_STEP_MS`]; returns the
    /// remaining difference (ms). Ignored unless finite.
    pub fn slew_offset_ms(&self, target: f64) -> f64 {
        if !target.is_finite() {
            return 0.0;
        }
        let current = self.offset_ms();
        let step = (target - current).clamp(-MAX_OFFSET_STEP_MS, MAX_OFFSET_STEP_MS);
        self.set_offset_ms(current + step);
        target - current - step
    }

    /// Milliseconds on the local monotonic clock (no offset, never slewed or stepped): for
    /// rate limiters and timeouts.
    pub fn monotonic_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }
}

/// One clock probe: local send time, the reference clock's reading, local receive time (ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probe {
    /// Local time when the request was sent.
    pub sent: f64,
    /// The reference clock's reading.
    pub remote: f64,
    /// Local time when the answer arrived.
    pub received: f64,
}

impl Probe {
    /// Round-trip time (ms).
    pub fn rtt(&self) -> f64 {
        self.received - self.sent
    }

    /// Estimated offset (ms) of the reference clock relative to the local one, assuming a
    /// symmetric path: `remote - (sent + received) / 2`.
    pub fn offset(&self) -> f64 {
        self.remote - (self.sent + self.received) / 2.0
    }
}

/// The offset from the probe with the lowest round trip (the least queueing noise), with that
/// round trip; `None` without valid probes.
pub fn best_offset(probes: &[Probe]) -> Option<(f64, f64)> {
    probes
        .iter()
        .filter(|p| p.rtt() >= 0.0 && p.rtt().is_finite() && p.remote.is_finite())
        .min_by(|a, b| a.rtt().total_cmp(&b.rtt()))
        .map(|p| (p.offset(), p.rtt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_monotonic_and_near_system_time() {
        let c = Clock::new();
        let a = c.now_ms();
        let b = c.now_ms();
        assert!(b >= a);
        let sys = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            * 1000.0;
        assert!((a - sys).abs() < 1_000.0);
    }

    #[test]
    fn offset_is_added() {
        let c = Clock::new();
        c.set_offset_ms(5_000.0);
        let diff = c.now_ms() - c.local_ms();
        assert!((diff - 5_000.0).abs() < 50.0, "{diff}");
        c.set_offset_ms(f64::NAN);
        assert_eq!(c.offset_ms(), 5_000.0);
    }

    #[test]
    fn slewing_bounds_each_refresh() {
        let c = Clock::new();
        c.set_offset_ms(100.0);
        // Redis' clock stepped by 1 s: each refresh follows by at most the bound.
        let left = c.slew_offset_ms(1_100.0);
        assert_eq!(c.offset_ms(), 100.0 + MAX_OFFSET_STEP_MS);
        assert_eq!(left, 1_000.0 - MAX_OFFSET_STEP_MS);
        // Small corrections are taken whole.
        c.set_offset_ms(0.0);
        assert_eq!(c.slew_offset_ms(-2.5), 0.0);
        assert_eq!(c.offset_ms(), -2.5);
        assert_eq!(c.slew_offset_ms(f64::NAN), 0.0);
        assert_eq!(c.offset_ms(), -2.5);
        let a = c.monotonic_ms();
        assert!(c.monotonic_ms() >= a);
    }

    #[test]
    fn best_offset_takes_lowest_rtt_probe() {
        let probes = [
            Probe {
                sent: 0.0,
                remote: 110.0,
                received: 20.0,
            },
            Probe {
                sent: 100.0,
                remote: 202.0,
                received: 102.0,
            },
            Probe {
                sent: 200.0,
                remote: 0.0,
                received: 190.0,
            },
        ];
        let (offset, rtt) = best_offset(&probes).unwrap();
        assert_eq!(rtt, 2.0);
        assert_eq!(offset, 101.0);
        assert_eq!(best_offset(&[]), None);
    }
}
