//! Accounting: turns the connections' [`Outcome`]s and the run's whole-run measurements into
//! the [`Report`] — connection tallies, fan-out per session and per server ([`Fanout`]), the
//! sender's echo, pings, server errors, who-is-here traffic, memory per connection, the list
//! of failures — and writes the `--svg` histogram.

use crate::cli::Config;
use crate::conn::{Counters, Outcome, SessionShared};
use crate::report::{CpuReport, MemoryReport, Report, RosterReport, UrlReport};
use crate::stats::{Fanout, Summary};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// Error and disconnect reasons kept in the report.
const KEEP_SAMPLES: usize = 5;

/// Whole-run measurements taken by the orchestrator.
pub struct Measured {
    /// Time to open all connections.
    pub connect_wall: Duration,
    /// VmRSS of each `--server-pid` before connecting, KiB.
    pub rss_before: Vec<Option<u64>>,
    /// VmRSS of each `--server-pid` after connecting and settling, KiB.
    pub rss_after: Vec<Option<u64>>,
    /// CPU use during the command phase.
    pub cpu: CpuReport,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Turns the outcomes into the report.
pub fn account(
    cfg: &Config,
    sessions: &[Arc<SessionShared>],
    outcomes: Vec<Outcome>,
    counters: &Counters,
    measured: Measured,
) -> Report {
    let Measured {
        connect_wall,
        rss_before,
        rss_after,
        cpu,
        elapsed,
    } = measured;
    let conns = Connections::of(&outcomes);
    let fan = FanoutTally::of(cfg.urls.len(), sessions, &outcomes);
    let pings: Vec<u64> = outcomes
        .iter()
        .flat_map(|o| o.pings_us.iter().copied())
        .collect();
    let messages = Messages::of(&outcomes);
    let roster = roster(&outcomes);
    let urls = url_reports(cfg, fan.per_url, &outcomes);
    let memory = memory_reports(cfg, &urls, &rss_before, &rss_after);
    let expected_commands = cfg.commands as u64 * sessions.len() as u64;
    let failures = failures(&conns, &fan.total, &messages, expected_commands);
    write_svg(cfg, sessions.len(), &fan.total.deliveries_us);
    let total = fan.total;
    Report {
        scenario: cfg.scenario,
        config: cfg.clone(),
        sessions: sessions.len(),
        viewers: cfg.viewers,
        connected: conns.times_us.len(),
        connect_failed: conns.failed,
        connect_errors: conns.errors,
        connect: Summary::of(&conns.times_us),
        connect_wall_s: connect_wall.as_secs_f64(),
        commands_sent: total.commands,
        received: counters.received.load(Relaxed),
        last_viewer: Summary::of(&total.last_viewer_us),
        delivery: Summary::of(&total.deliveries_us),
        echo: Summary::of(&fan.echo_us),
        ping: Summary::of(&pings),
        roster,
        lost: total.lost,
        duplicated: total.duplicated,
        unexpected: total.unexpected,
        disconnected: conns.dropped,
        disconnects: conns.drops,
        server_errors: messages.server_errors,
        server_error_samples: messages.error_samples,
        send_lag_max_us: fan.send_lag_max_us,
        urls,
        memory,
        cpu,
        elapsed_s: elapsed.as_secs_f64(),
        passed: failures.is_empty(),
        failures,
    }
}

/// How the connections went: connected, failed to connect, dropped before the end.
struct Connections {
    /// TCP connect → `Hello` of each connection that got it, µs.
    times_us: Vec<u64>,
    /// Connections that failed before `Hello`.
    failed: u64,
    /// The first few connection errors.
    errors: Vec<String>,
    /// Connections lost before the end.
    dropped: u64,
    /// Why (the first few).
    drops: Vec<String>,
}

impl Connections {
    /// Tallies the outcomes' connects, connection errors and disconnects.
    fn of(outcomes: &[Outcome]) -> Self {
        let times_us: Vec<u64> = outcomes.iter().filter_map(|o| o.connect_us).collect();
        let mut errors: Vec<String> = Vec::new();
        let mut failed = 0u64;
        for o in outcomes {
            if let Some(e) = &o.connect_error {
                failed += 1;
                if errors.len() < KEEP_SAMPLES {
                    errors.push(e.clone());
                }
            }
        }
        let mut drops: Vec<String> = outcomes
            .iter()
            .filter_map(|o| o.disconnect.clone())
            .collect();
        let dropped = drops.len() as u64;
        drops.truncate(KEEP_SAMPLES);
        Self {
            times_us,
            failed,
            errors,
            dropped,
            drops,
        }
    }
}

/// Fan-out over connected viewers only: all sessions together, per server, and the senders'
/// own figures.
struct FanoutTally {
    /// All sessions, all servers.
    total: Fanout,
    /// Per server in `--url` order (commands counted in `total` only).
    per_url: Vec<Fanout>,
    /// The sender's command → own echo round trips, µs.
    echo_us: Vec<u64>,
    /// Largest delay of a send behind its schedule, µs.
    send_lag_max_us: u64,
}

impl FanoutTally {
    /// Accounts each session's send times against its connected viewers' receipts.
    fn of(n_urls: usize, sessions: &[Arc<SessionShared>], outcomes: &[Outcome]) -> Self {
        let mut tally = Self {
            total: Fanout::default(),
            per_url: (0..n_urls).map(|_| Fanout::default()).collect(),
            echo_us: Vec::new(),
            send_lag_max_us: 0,
        };
        for (s, viewers) in sessions.iter().zip(by_session(sessions.len(), outcomes)) {
            tally.add_session(&s.send_times(), &viewers);
        }
        tally
    }

    /// Adds one session: its send times and its connected viewers.
    fn add_session(&mut self, sent: &[Option<u64>], viewers: &[&Outcome]) {
        self.total
            .merge(Fanout::account(sent, viewers.iter().map(|o| &o.receipts)));
        for (u, fan) in self.per_url.iter_mut().enumerate() {
            let on_url = viewers.iter().filter(|o| o.url == u).map(|o| &o.receipts);
            let mut f = Fanout::account(sent, on_url);
            // Commands are counted once, in the total.
            f.commands = 0;
            fan.merge(f);
        }
        // The sender's own receipts give the command → echo round trip.
        if let Some(sender) = viewers.iter().find(|o| o.sender) {
            self.send_lag_max_us = self.send_lag_max_us.max(sender.send_lag_max_us);
            for (i, t) in sent.iter().enumerate() {
                if let (Some(t), Some(r)) = (t, sender.receipts.get(i as u32 + 1)) {
                    self.echo_us.push(r.saturating_sub(*t));
                }
            }
        }
    }
}

/// The connected viewers of each of `n_sessions` sessions.
fn by_session(n_sessions: usize, outcomes: &[Outcome]) -> Vec<Vec<&Outcome>> {
    let mut by_session: Vec<Vec<&Outcome>> = vec![Vec::new(); n_sessions];
    for o in outcomes.iter().filter(|o| o.connect_us.is_some()) {
        if let Some(v) = by_session.get_mut(o.session) {
            v.push(o);
        }
    }
    by_session
}

/// What the server said that it should not have, and what was not understood.
struct Messages {
    /// `Error` messages from the server.
    server_errors: u64,
    /// The first few.
    error_samples: Vec<String>,
    /// Messages that were not understood.
    bad_messages: u64,
}

impl Messages {
    /// Sums the outcomes' server errors and bad messages.
    fn of(outcomes: &[Outcome]) -> Self {
        let server_errors: u64 = outcomes.iter().map(|o| o.error_count).sum();
        let mut error_samples: Vec<String> = outcomes
            .iter()
            .flat_map(|o| o.errors.iter().cloned())
            .collect();
        error_samples.truncate(KEEP_SAMPLES);
        let bad_messages: u64 = outcomes.iter().map(|o| o.bad_messages).sum();
        Self {
            server_errors,
            error_samples,
            bad_messages,
        }
    }
}

/// Who is here: the `status` reports sent and the `roster` messages received.
fn roster(outcomes: &[Outcome]) -> RosterReport {
    RosterReport {
        statuses_sent: outcomes.iter().map(|o| o.statuses_sent).sum(),
        messages: outcomes.iter().map(|o| o.roster_msgs).sum(),
        bytes: outcomes.iter().map(|o| o.roster_bytes).sum(),
        max_per_viewer: outcomes.iter().map(|o| o.roster_msgs).max().unwrap_or(0),
    }
}

/// Per-server figures, in `--url` order, from each server's fan-out.
fn url_reports(cfg: &Config, per_url: Vec<Fanout>, outcomes: &[Outcome]) -> Vec<UrlReport> {
    cfg.urls
        .iter()
        .zip(per_url)
        .enumerate()
        .map(|(u, (url, f))| {
            let connections = outcomes
                .iter()
                .filter(|o| o.url == u && o.connect_us.is_some())
                .count();
            UrlReport {
                url: url.clone(),
                connected: connections,
                deliveries: f.deliveries_us.len() as u64,
                lost: f.lost,
                last_viewer: Summary::of(&f.last_viewer_us),
                delivery: Summary::of(&f.deliveries_us),
            }
        })
        .collect()
}

/// Server memory per `--server-pid` (in `--url` order): VmRSS before and after connecting,
/// and the growth per connection it held.
fn memory_reports(
    cfg: &Config,
    urls: &[UrlReport],
    rss_before: &[Option<u64>],
    rss_after: &[Option<u64>],
) -> Vec<MemoryReport> {
    cfg.server_pids
        .iter()
        .enumerate()
        .map(|(i, pid)| {
            let connections = urls.get(i).map_or(0, |u| u.connected);
            let before = rss_before.get(i).copied().flatten();
            let after = rss_after.get(i).copied().flatten();
            let per_connection_bytes = match (before, after) {
                (Some(b), Some(a)) if connections > 0 => {
                    Some((a.saturating_sub(b) * 1024) as f64 / connections as f64)
                }
                _ => None,
            };
            MemoryReport {
                pid: *pid,
                url: cfg.urls.get(i).cloned().unwrap_or_default(),
                connections,
                before_kib: before,
                after_kib: after,
                per_connection_bytes,
            }
        })
        .collect()
}

/// Why the run did not pass (empty: it passed).
fn failures(
    conns: &Connections,
    total: &Fanout,
    messages: &Messages,
    expected_commands: u64,
) -> Vec<String> {
    let mut failures = Vec::new();
    if conns.failed > 0 {
        failures.push(format!("{} connections failed", conns.failed));
    }
    if conns.dropped > 0 {
        failures.push(format!("{} connections dropped", conns.dropped));
    }
    if total.lost > 0 {
        failures.push(format!("{} broadcasts lost", total.lost));
    }
    if total.duplicated > 0 {
        failures.push(format!("{} broadcasts duplicated", total.duplicated));
    }
    if total.unexpected > 0 {
        failures.push(format!(
            "{} unexpected or out-of-order broadcasts",
            total.unexpected
        ));
    }
    if messages.server_errors > 0 {
        failures.push(format!("{} server errors", messages.server_errors));
    }
    if messages.bad_messages > 0 {
        failures.push(format!("{} messages not understood", messages.bad_messages));
    }
    if total.commands < expected_commands {
        failures.push(format!(
            "only {} of {expected_commands} commands were sent",
            total.commands
        ));
    }
    failures
}

/// With `--svg`, writes the delivery latency histogram there (a failure is only reported).
fn write_svg(cfg: &Config, n_sessions: usize, deliveries_us: &[u64]) {
    let Some(path) = &cfg.svg else { return };
    let title = format!(
        "{:?}: {} viewers, {} sessions, {} servers",
        cfg.scenario,
        cfg.viewers,
        n_sessions,
        cfg.urls.len()
    );
    if let Err(e) = std::fs::write(path, crate::svg::latency_svg(deliveries_us, &title)) {
        eprintln!("loadtest: cannot write {path}: {e}");
    }
}

#[cfg(test)]
mod tests;
