//! Server-clock estimation from NTP-style ping/pong samples.
//!
//! A sample is the four timestamps of one exchange: `t0` (client send), `t1` (server receive),
//! `t2` (server send), `t3` (client receive). Its offset estimate
//! `((t1 - t0) + (t2 - t3)) / 2` is wrong by at most half its round trip
//! `(t3 - t0) - (t2 - t1)`, and only when the two directions are asymmetric; so the samples with
//! the lowest round trip are the trustworthy ones. The estimator keeps a window of recent samples
//! and takes the median offset of the few lowest-round-trip ones (median: one unlucky sample
//! cannot move it).

use std::collections::VecDeque;

/// Samples kept (at one ping every few seconds this spans about a minute, short enough to
/// follow the slow drift between the two clocks).
pub const WINDOW: usize = 16;
/// How many of the lowest-round-trip samples the estimate is taken from.
pub const BEST: usize = 3;
/// A round trip this far below zero (ms) is clock rounding, counted as 0; further below, the
/// sample is inconsistent.
pub const RTT_ROUNDING_MS: f64 = 1.0;

/// One ping/pong exchange, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockSample {
    /// Server minus client clock.
    pub offset: f64,
    /// Network round trip, excluding the server's processing time.
    pub rtt: f64,
}

impl ClockSample {
    /// Builds a sample from the four timestamps; `None` for inconsistent input (non-finite,
    /// receive before send, or a negative round trip beyond rounding).
    pub fn from_timestamps(t0: f64, t1: f64, t2: f64, t3: f64) -> Option<Self> {
        if ![t0, t1, t2, t3].iter().all(|t| t.is_finite()) || t3 < t0 || t2 < t1 {
            return None;
        }
        let rtt = (t3 - t0) - (t2 - t1);
        if rtt < -RTT_ROUNDING_MS {
            return None;
        }
        Some(Self {
            offset: ((t1 - t0) + (t2 - t3)) / 2.0,
            rtt: rtt.max(0.0),
        })
    }
}

/// The current estimate of the server clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockEstimate {
    /// Server minus client clock (ms).
    pub offset: f64,
    /// Lowest round trip in the window (ms); bounds the offset error to half of it.
    pub rtt: f64,
}

/// Keeps the recent samples and the estimate derived from them.
#[derive(Clone, Debug, Default)]
pub struct ClockEstimator {
    samples: VecDeque<ClockSample>,
    seed: Option<f64>,
    estimate: Option<ClockEstimate>,
}

impl ClockEstimator {
    /// An estimator without samples.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every sample (a new connection may reach another server instance).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// A coarse first guess from a server timestamp received at client time `client_now`
    /// (off by the one-way delay); used until the first pong arrives.
    pub fn seed(&mut self, server_time: f64, client_now: f64) {
        if server_time.is_finite() && client_now.is_finite() {
            self.seed = Some(server_time - client_now);
        }
    }

    /// Adds one exchange; returns false when the timestamps were inconsistent.
    pub fn add(&mut self, t0: f64, t1: f64, t2: f64, t3: f64) -> bool {
        let Some(sample) = ClockSample::from_timestamps(t0, t1, t2, t3) else {
            return false;
        };
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        self.recompute();
        true
    }

    fn recompute(&mut self) {
        let mut best: Vec<ClockSample> = self.samples.iter().copied().collect();
        // Stable: of equal round trips the older sample comes first (as in `early.js`).
        best.sort_by(|a, b| a.rtt.total_cmp(&b.rtt));
        best.truncate(BEST);
        if best.is_empty() {
            self.estimate = None;
            return;
        }
        let min_rtt = best[0].rtt;
        let mut offsets: Vec<f64> = best.iter().map(|s| s.offset).collect();
        offsets.sort_unstable_by(f64::total_cmp);
        let n = offsets.len();
        let offset = if n % 2 == 1 {
            offsets[n / 2]
        } else {
            (offsets[n / 2 - 1] + offsets[n / 2]) / 2.0
        };
        self.estimate = Some(ClockEstimate {
            offset,
            rtt: min_rtt,
        });
    }

    /// The estimate from samples, if any.
    pub fn estimate(&self) -> Option<ClockEstimate> {
        self.estimate
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Server minus client clock (ms): the estimate, else the seed, else 0.
    pub fn offset(&self) -> f64 {
        self.estimate.map(|e| e.offset).or(self.seed).unwrap_or(0.0)
    }

    /// Whether anything is known of the server clock (a seed or a sample).
    pub fn is_known(&self) -> bool {
        self.estimate.is_some() || self.seed.is_some()
    }

    /// Lowest round trip seen (ms), 0 before any sample.
    pub fn rtt(&self) -> f64 {
        self.estimate.map(|e| e.rtt).unwrap_or(0.0)
    }

    /// The server clock at client time `client_ms`.
    pub fn server_time(&self, client_ms: f64) -> f64 {
        client_ms + self.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One exchange over a path with the given one-way delays, server clock = client + `offset`.
    fn exchange(c: &mut ClockEstimator, send: f64, offset: f64, up: f64, down: f64, proc_ms: f64) {
        let t0 = send;
        let t1 = send + up + offset;
        let t2 = t1 + proc_ms;
        let t3 = t2 - offset + down;
        assert!(c.add(t0, t1, t2, t3));
    }

    #[test]
    fn symmetric_path_gives_exact_offset_and_rtt_without_processing_time() {
        let mut c = ClockEstimator::new();
        exchange(&mut c, 1_000.0, 5_000.0, 20.0, 20.0, 3.0);
        let e = c.estimate().unwrap();
        assert!((e.offset - 5_000.0).abs() < 1e-9);
        assert!((e.rtt - 40.0).abs() < 1e-9);
        assert!((c.server_time(2_000.0) - 7_000.0).abs() < 1e-9);
    }

    #[test]
    fn lowest_rtt_samples_win_over_congested_ones() {
        let mut c = ClockEstimator::new();
        let offset = -123_456.0;
        // Congested, very asymmetric samples would pull the offset by up to 150 ms...
        for i in 0..10 {
            exchange(&mut c, i as f64 * 100.0, offset, 300.0, 5.0, 1.0);
        }
        // ...three quick symmetric ones pin it down.
        for i in 10..13 {
            exchange(
                &mut c,
                i as f64 * 100.0,
                offset,
                4.0,
                4.0 + (i % 2) as f64,
                1.0,
            );
        }
        let e = c.estimate().unwrap();
        assert!((e.offset - offset).abs() <= 0.5, "{e:?}");
        assert!((e.rtt - 8.0).abs() < 1e-9);
    }

    #[test]
    fn one_outlier_among_the_best_cannot_move_the_median() {
        let mut c = ClockEstimator::new();
        exchange(&mut c, 0.0, 100.0, 5.0, 5.0, 0.0);
        exchange(&mut c, 10.0, 100.0, 5.0, 5.0, 0.0);
        // Same total round trip but fully one-sided: offset wrong by 5 ms.
        exchange(&mut c, 20.0, 100.0, 10.0, 0.0, 0.0);
        assert!((c.offset() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn window_forgets_old_samples_so_a_clock_step_is_followed() {
        let mut c = ClockEstimator::new();
        for i in 0..WINDOW {
            exchange(&mut c, i as f64 * 1_000.0, 0.0, 2.0, 2.0, 0.0);
        }
        for i in 0..WINDOW {
            exchange(&mut c, 1e6 + i as f64 * 1_000.0, 50.0, 3.0, 3.0, 0.0);
        }
        assert!((c.offset() - 50.0).abs() < 1e-9);
        assert_eq!(c.len(), WINDOW);
    }

    #[test]
    fn seed_is_used_only_until_the_first_sample() {
        let mut c = ClockEstimator::new();
        assert_eq!(c.offset(), 0.0);
        c.seed(10_500.0, 500.0);
        assert_eq!(c.offset(), 10_000.0);
        exchange(&mut c, 600.0, 9_990.0, 1.0, 1.0, 0.0);
        assert!((c.offset() - 9_990.0).abs() < 1e-9);
        c.reset();
        assert!(c.is_empty());
        assert_eq!(c.offset(), 0.0);
    }

    #[test]
    fn inconsistent_timestamps_are_rejected() {
        let mut c = ClockEstimator::new();
        assert!(!c.add(f64::NAN, 1.0, 2.0, 3.0));
        assert!(!c.add(10.0, 1.0, 2.0, 5.0)); // received before sent
        assert!(!c.add(0.0, 5.0, 4.0, 10.0)); // server sent before it received
        assert!(!c.add(0.0, 0.0, 100.0, 10.0)); // server took longer than the whole trip
        assert!(c.is_empty());
    }
}
