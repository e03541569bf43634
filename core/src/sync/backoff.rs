//! Reconnect delays: exponential backoff with jitter, so that a restarted server is not hit by
//! every viewer at the same instant.

/// First retry delay (ms).
pub const BASE_MS: f64 = 500.0;
/// Longest delay between attempts (ms).
pub const CAP_MS: f64 = 15_000.0;

/// Exponential backoff state.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff.
    pub fn new() -> Self {
        Self::default()
    }

    /// Delay (ms) before the next attempt; `jitter` in `[0, 1)` (e.g. `Math.random()`).
    /// The delay is `min(CAP, BASE * 2^attempt)` scaled into its upper half by the jitter
    /// ("equal jitter": never immediate, never synchronised).
    pub fn next_delay(&mut self, jitter: f64) -> f64 {
        let exp = BASE_MS * 2f64.powi(self.attempt.min(16) as i32);
        let ceiling = exp.min(CAP_MS);
        self.attempt = self.attempt.saturating_add(1);
        let j = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.5
        };
        ceiling * (0.5 + 0.5 * j)
    }

    /// Back to the first delay (after a connection was established).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_up_to_the_cap_and_resets() {
        let mut b = Backoff::new();
        let d: Vec<f64> = (0..8).map(|_| b.next_delay(1.0)).collect();
        assert_eq!(&d[..5], &[500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0]);
        assert_eq!(d[5], CAP_MS);
        assert_eq!(d[7], CAP_MS);
        b.reset();
        assert_eq!(b.next_delay(1.0), 500.0);
    }

    #[test]
    fn jitter_spreads_within_the_upper_half() {
        let mut a = Backoff::new();
        let mut b = Backoff::new();
        let (x, y) = (a.next_delay(0.0), b.next_delay(0.99));
        assert_eq!(x, 250.0);
        assert!(y > 490.0 && y <= 500.0);
        assert_eq!(Backoff::new().next_delay(f64::NAN), 375.0);
    }
}
