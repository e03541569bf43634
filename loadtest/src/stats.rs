//! Statistics of a load run: percentiles of latency samples and the per-command accounting of
//! fan-out (who received which command, when, how often).
//!
//! All times are microseconds on one monotonic clock of the load generator process (see
//! [`crate::clock`]), so send and receipt times of different connections are comparable.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency tracked, µs (one hour; longer samples count as one hour).
const MAX_TRACKED_US: u64 = 3_600_000_000;

/// The samples (µs) in an HDR histogram: 3 significant digits (a value is off by at most
/// 0.1 %, exact below 2048 µs), fixed memory however many samples.
pub fn histogram(samples: &[u64]) -> Histogram<u64> {
    // Constant, valid bounds and precision.
    let mut h = Histogram::<u64>::new_with_bounds(1, MAX_TRACKED_US, 3).expect("valid bounds");
    for &v in samples {
        h.saturating_record(v);
    }
    h
}

/// Count, p50, p99 and max of a set of samples (microseconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Median (HDR histogram, 3 significant digits), µs.
    pub p50_us: Option<u64>,
    /// 99th percentile (HDR histogram, 3 significant digits), µs.
    pub p99_us: Option<u64>,
    /// Largest sample (exact), µs.
    pub max_us: Option<u64>,
}

impl Summary {
    /// Summarises `samples`.
    pub fn of(samples: &[u64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let h = histogram(samples);
        Self {
            count: samples.len(),
            p50_us: Some(h.value_at_quantile(0.5)),
            p99_us: Some(h.value_at_quantile(0.99)),
            max_us: samples.iter().max().copied(),
        }
    }
}

/// What happened to one received broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// First receipt of this command.
    First,
    /// The command had already been received: a duplicate.
    Duplicate,
    /// The sequence number is not one the sender can have used.
    Unexpected,
}

/// One viewer's receipts of the designated sender's commands, indexed by the command's `seq`
/// (1-based, as sent).
#[derive(Clone, Debug, Default)]
pub struct Receipts {
    /// `times[seq - 1]`: when the broadcast caused by command `seq` first arrived.
    times: Vec<Option<u64>>,
    /// Broadcasts received more than once.
    pub duplicates: u64,
    /// Broadcasts naming a `seq` outside `1..=capacity`.
    pub unexpected: u64,
    /// Broadcasts whose revision was not above the previous one (order violations).
    pub out_of_order: u64,
    last_revision: u64,
}

impl Receipts {
    /// Room for commands `1..=max_seq`.
    pub fn new(max_seq: u32) -> Self {
        Self {
            times: vec![None; max_seq as usize],
            ..Self::default()
        }
    }

    /// Records the broadcast of command `seq` (state `revision`) received at `at` µs.
    /// Only first receipts are checked for order (a duplicate is counted as a duplicate).
    pub fn record(&mut self, seq: u32, revision: u64, at: u64) -> Recorded {
        let slot = (seq as usize)
            .checked_sub(1)
            .and_then(|i| self.times.get_mut(i));
        match slot {
            None => {
                self.unexpected += 1;
                Recorded::Unexpected
            }
            Some(Some(_)) => {
                self.duplicates += 1;
                Recorded::Duplicate
            }
            Some(slot @ None) => {
                *slot = Some(at);
                if revision <= self.last_revision {
                    self.out_of_order += 1;
                }
                self.last_revision = self.last_revision.max(revision);
                Recorded::First
            }
        }
    }

    /// Notes a revision seen outside the sender's commands (e.g. the `Hello` state), so that
    /// ordering is checked against it.
    pub fn observe_revision(&mut self, revision: u64) {
        self.last_revision = self.last_revision.max(revision);
    }

    /// The highest revision seen so far.
    pub fn last_revision(&self) -> u64 {
        self.last_revision
    }

    /// When command `seq` was first received.
    pub fn get(&self, seq: u32) -> Option<u64> {
        (seq as usize)
            .checked_sub(1)
            .and_then(|i| self.times.get(i))
            .copied()
            .flatten()
    }
}

/// Fan-out accounting of one session: its sender's send times against every viewer's receipts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fanout {
    /// Per command that was sent and received by every viewer: max over viewers of
    /// (receipt − send), µs ("last viewer received").
    pub last_viewer_us: Vec<u64>,
    /// Every single delivery: receipt − send, µs.
    pub deliveries_us: Vec<u64>,
    /// (command, viewer) pairs where the command was sent but never arrived.
    pub lost: u64,
    /// Broadcasts a viewer received more than once.
    pub duplicated: u64,
    /// Broadcasts naming a command that was never sent, or out of revision order.
    pub unexpected: u64,
    /// Commands sent.
    pub commands: u64,
}

impl Fanout {
    /// Accounts one session. `sent[seq - 1]` is the send time of command `seq` (`None`: not
    /// sent); `viewers` are the receipts of every viewer that connected (the sender included).
    pub fn account<'a>(
        sent: &[Option<u64>],
        viewers: impl IntoIterator<Item = &'a Receipts>,
    ) -> Self {
        let viewers: Vec<&Receipts> = viewers.into_iter().collect();
        let mut out = Fanout {
            commands: sent.iter().filter(|s| s.is_some()).count() as u64,
            ..Fanout::default()
        };
        for v in &viewers {
            out.duplicated += v.duplicates;
            out.unexpected += v.unexpected + v.out_of_order;
        }
        for (i, send) in sent.iter().enumerate() {
            let seq = (i + 1) as u32;
            let Some(send) = *send else {
                // Not sent: nobody may have received it.
                out.unexpected += viewers.iter().filter(|v| v.get(seq).is_some()).count() as u64;
                continue;
            };
            let mut last: Option<u64> = None;
            let mut missing = 0u64;
            for v in &viewers {
                match v.get(seq) {
                    Some(at) => {
                        let lat = at.saturating_sub(send);
                        out.deliveries_us.push(lat);
                        last = Some(last.map_or(lat, |l| l.max(lat)));
                    }
                    None => missing += 1,
                }
            }
            out.lost += missing;
            if missing == 0 {
                if let Some(l) = last {
                    out.last_viewer_us.push(l);
                }
            }
        }
        out
    }

    /// Adds another session's accounting to this one.
    pub fn merge(&mut self, other: Fanout) {
        self.last_viewer_us.extend(other.last_viewer_us);
        self.deliveries_us.extend(other.deliveries_us);
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.unexpected += other.unexpected;
        self.commands += other.commands;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let v: Vec<u64> = (1..=100).collect();
        let s = Summary::of(&v);
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_us, Some(50));
        assert_eq!(s.p99_us, Some(99));
        assert_eq!(s.max_us, Some(100));
        // Ten samples: p99 is the largest, p50 the fifth.
        let w: Vec<u64> = (10..20).collect();
        let s = Summary::of(&w);
        assert_eq!((s.p50_us, s.p99_us), (Some(14), Some(19)));
        // Large values keep 3 significant digits; the maximum is exact.
        let big = [1_234_567u64, 10, 20];
        let s = Summary::of(&big);
        assert_eq!(s.max_us, Some(1_234_567));
        let p99 = s.p99_us.unwrap() as f64;
        assert!((p99 / 1_234_567.0 - 1.0).abs() < 0.001, "{p99}");
        assert_eq!(Summary::of(&[]), Summary::default());
    }

    #[test]
    fn receipts_detect_duplicates_unexpected_and_order() {
        let mut r = Receipts::new(3);
        r.observe_revision(1);
        assert_eq!(r.record(1, 2, 100), Recorded::First);
        assert_eq!(r.record(1, 2, 150), Recorded::Duplicate);
        assert_eq!(r.get(1), Some(100), "the first receipt counts");
        assert_eq!(r.record(0, 3, 160), Recorded::Unexpected);
        assert_eq!(r.record(4, 4, 170), Recorded::Unexpected);
        assert_eq!(r.record(3, 6, 200), Recorded::First);
        // Revision 5 after 6: out of order.
        assert_eq!(r.record(2, 5, 210), Recorded::First);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.unexpected, 2);
        assert_eq!(r.out_of_order, 1);
        assert_eq!(r.get(4), None);
    }

    #[test]
    fn fanout_counts_last_viewer_loss_and_duplicates() {
        let sent = vec![Some(1_000), Some(2_000), None];
        let mut a = Receipts::new(3);
        let mut b = Receipts::new(3);
        let mut c = Receipts::new(3);
        a.record(1, 2, 1_100);
        b.record(1, 2, 1_400);
        c.record(1, 2, 1_250);
        a.record(2, 3, 2_050);
        b.record(2, 3, 2_500);
        b.record(2, 3, 2_600); // A duplicate; c never receives command 2: one loss.
        let f = Fanout::account(&sent, [&a, &b, &c]);
        assert_eq!(f.commands, 2);
        assert_eq!(f.last_viewer_us, vec![400], "command 2 is incomplete");
        let mut d = f.deliveries_us.clone();
        d.sort_unstable();
        assert_eq!(d, vec![50, 100, 250, 400, 500]);
        assert_eq!(f.lost, 1);
        assert_eq!(f.duplicated, 1);
        assert_eq!(f.unexpected, 0);
    }

    #[test]
    fn receipt_of_unsent_command_is_unexpected() {
        let sent = vec![Some(10), None];
        let mut a = Receipts::new(2);
        a.record(1, 2, 20);
        a.record(2, 3, 30);
        let f = Fanout::account(&sent, [&a]);
        assert_eq!(f.lost, 0);
        assert_eq!(f.unexpected, 1);
        assert_eq!(f.last_viewer_us, vec![10]);
    }

    #[test]
    fn merge_adds_sessions() {
        let mut a = Receipts::new(1);
        a.record(1, 2, 30);
        let mut total = Fanout::account(&[Some(10)], [&a]);
        let b = Receipts::new(1);
        total.merge(Fanout::account(&[Some(10)], [&b]));
        assert_eq!(total.commands, 2);
        assert_eq!(total.lost, 1);
        assert_eq!(total.last_viewer_us, vec![20]);
    }
}
