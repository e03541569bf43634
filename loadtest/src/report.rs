//! The result of a run: a serialisable [`Report`] (`--json`) and its human-readable table.

use crate::cli::{Config, Scenario};
use crate::stats::Summary;
use serde::Serialize;
use std::fmt::Write;

/// Per-server figures.
#[derive(Clone, Debug, Serialize)]
pub struct UrlReport {
    /// The server.
    pub url: String,
    /// Viewers connected to it.
    pub connected: usize,
    /// Broadcasts its viewers received.
    pub deliveries: u64,
    /// Broadcasts its viewers never received.
    pub lost: u64,
    /// Per command, the last of its viewers (µs after the send).
    pub last_viewer: Summary,
    /// Every delivery to its viewers (µs after the send).
    pub delivery: Summary,
}

/// Server memory, from `/proc/<pid>/status`.
#[derive(Clone, Debug, Serialize)]
pub struct MemoryReport {
    /// The server process.
    pub pid: u32,
    /// Its URL.
    pub url: String,
    /// Connections it held.
    pub connections: usize,
    /// VmRSS before connecting, KiB.
    pub before_kib: Option<u64>,
    /// VmRSS after connecting and settling (idle), KiB.
    pub after_kib: Option<u64>,
    /// (after − before) / connections, bytes.
    pub per_connection_bytes: Option<f64>,
}

/// CPU time used during the command phase (commands and drain), from `/proc`.
#[derive(Clone, Debug, Serialize)]
pub struct CpuReport {
    /// Length of the phase, s.
    pub window_s: f64,
    /// CPUs of the machine.
    pub cores: usize,
    /// CPU seconds of each `--server-pid`.
    pub servers_s: Vec<Option<f64>>,
    /// CPU seconds of the load generator.
    pub loadtest_s: Option<f64>,
    /// CPU seconds of the whole machine (all processes, all cores).
    pub machine_busy_s: Option<f64>,
    /// Machine minus servers and load generator: other processes competing for the cores.
    pub others_s: Option<f64>,
}

/// Who is here: what the room's list cost the viewers.
#[derive(Clone, Debug, Serialize)]
pub struct RosterReport {
    /// `status` reports sent by all viewers.
    pub statuses_sent: u64,
    /// `roster` messages received by all viewers (joiners' full lists included).
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Most `roster` messages one viewer received.
    pub max_per_viewer: u64,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The load shape.
    pub scenario: Scenario,
    /// The resolved options.
    pub config: Config,
    /// Sessions used.
    pub sessions: usize,
    /// Connections attempted.
    pub viewers: usize,
    /// Connections that got `Hello`.
    pub connected: usize,
    /// Connections that failed.
    pub connect_failed: u64,
    /// The first few connection errors.
    pub connect_errors: Vec<String>,
    /// TCP connect → `Hello`, µs.
    pub connect: Summary,
    /// Time to open all connections, s.
    pub connect_wall_s: f64,
    /// Commands sent.
    pub commands_sent: u64,
    /// Broadcasts received (first receipts).
    pub received: u64,
    /// Fan-out latency per command: the last viewer's receipt − send, µs.
    pub last_viewer: Summary,
    /// Every delivery: receipt − send, µs.
    pub delivery: Summary,
    /// The sender's command → own echo round trip, µs.
    pub echo: Summary,
    /// Ping → Pong round trips, µs.
    pub ping: Summary,
    /// Who is here: health reports sent and `roster` messages received.
    pub roster: RosterReport,
    /// (command, viewer) pairs never delivered.
    pub lost: u64,
    /// Deliveries received twice.
    pub duplicated: u64,
    /// Deliveries of commands never sent, or out of revision order.
    pub unexpected: u64,
    /// Connections dropped before the end.
    pub disconnected: u64,
    /// Why (the first few).
    pub disconnects: Vec<String>,
    /// `Error` messages from the server.
    pub server_errors: u64,
    /// The first few.
    pub server_error_samples: Vec<String>,
    /// Largest delay of a send behind its schedule, µs (the load generator's own lag).
    pub send_lag_max_us: u64,
    /// Per server.
    pub urls: Vec<UrlReport>,
    /// Server memory.
    pub memory: Vec<MemoryReport>,
    /// CPU use during the command phase.
    pub cpu: CpuReport,
    /// Wall time of the run, s.
    pub elapsed_s: f64,
    /// No loss, duplicate, failure or error.
    pub passed: bool,
    /// Why it did not pass.
    pub failures: Vec<String>,
}

/// Microseconds as milliseconds with two decimals (`-`: none).
fn ms(us: Option<u64>) -> String {
    us.map_or_else(|| "-".into(), |u| format!("{:.2}", u as f64 / 1000.0))
}

/// One latency row: name, count, p50, p99 and max in ms.
fn row(out: &mut String, name: &str, s: &Summary) {
    let _ = writeln!(
        out,
        "  {name:<34} {:>9} {:>9} {:>9} {:>9}",
        s.count,
        ms(s.p50_us),
        ms(s.p99_us),
        ms(s.max_us)
    );
}

impl Report {
    /// The summary table: what ran, latencies, counts, server memory and CPU, the verdict.
    pub fn table(&self) -> String {
        let mut o = String::new();
        self.write_header(&mut o);
        self.write_latencies(&mut o);
        self.write_counts(&mut o);
        self.write_memory(&mut o);
        self.write_cpu(&mut o);
        self.write_verdict(&mut o);
        o
    }

    /// What ran, and how the connections went.
    fn write_header(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "scenario {:?}: {} viewers in {} session(s) on {} server(s), {} commands/session every {} ms",
            self.scenario,
            self.viewers,
            self.sessions,
            self.urls.len(),
            self.config.commands,
            self.config.interval.as_millis()
        );
        let _ = writeln!(
            o,
            "  connected {}/{} (failed {}) in {:.1} s at {}/s; run took {:.1} s",
            self.connected,
            self.viewers,
            self.connect_failed,
            self.connect_wall_s,
            self.config.connect_rate,
            self.elapsed_s
        );
    }

    /// The latency rows (with the who-is-here line after the echo row, when statuses were
    /// sent), pings when measured, and the last viewer per server when there are several.
    fn write_latencies(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "  {:<34} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "count", "p50", "p99", "max"
        );
        row(o, "connect (tcp -> hello)", &self.connect);
        row(o, "fan-out: last viewer per command", &self.last_viewer);
        row(o, "fan-out: every delivery", &self.delivery);
        row(o, "command -> own echo (sender)", &self.echo);
        if self.roster.statuses_sent > 0 {
            self.write_roster(o);
        }
        if self.ping.count > 0 {
            row(o, "ping -> pong", &self.ping);
        }
        if self.urls.len() > 1 {
            for u in &self.urls {
                row(o, &format!("last viewer on {}", u.url), &u.last_viewer);
            }
        }
    }

    /// Who is here: status reports sent, roster messages and bytes received.
    fn write_roster(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "who is here: {} status reports sent; {} roster messages received ({:.1} per viewer, at most {}), {} bytes ({:.0} per viewer)",
            self.roster.statuses_sent,
            self.roster.messages,
            self.roster.messages as f64 / self.connected.max(1) as f64,
            self.roster.max_per_viewer,
            self.roster.bytes,
            self.roster.bytes as f64 / self.connected.max(1) as f64,
        );
    }

    /// Commands, deliveries and what went wrong; per server when there are several.
    fn write_counts(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "  commands sent {}, deliveries {}, lost {}, duplicated {}, unexpected {}, dropped {}, server errors {}",
            self.commands_sent,
            self.delivery.count,
            self.lost,
            self.duplicated,
            self.unexpected,
            self.disconnected,
            self.server_errors
        );
        if self.urls.len() > 1 {
            for u in &self.urls {
                let _ = writeln!(
                    o,
                    "  {}: {} viewers, {} deliveries, {} lost",
                    u.url, u.connected, u.deliveries, u.lost
                );
            }
        }
    }

    /// Server memory, one line per `--server-pid`.
    fn write_memory(&self, o: &mut String) {
        for m in &self.memory {
            let _ = writeln!(
                o,
                "  server pid {} ({}): VmRSS {} -> {} KiB over {} connections = {} per connection",
                m.pid,
                m.url,
                m.before_kib.map_or("-".into(), |v| v.to_string()),
                m.after_kib.map_or("-".into(), |v| v.to_string()),
                m.connections,
                m.per_connection_bytes
                    .map_or("-".into(), |b| format!("{:.1} KB", b / 1000.0)),
            );
        }
    }

    /// CPU over the command phase, and per delivery when there were deliveries and servers.
    fn write_cpu(&self, o: &mut String) {
        let c = &self.cpu;
        let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        let servers: Vec<String> = c.servers_s.iter().map(|s| f(*s)).collect();
        let _ = writeln!(
            o,
            "  cpu over the {:.1} s command phase ({} cores): server(s) {} s, load generator {} s, \
             other processes {} s",
            c.window_s,
            c.cores,
            if servers.is_empty() { "-".into() } else { servers.join(" + ") },
            f(c.loadtest_s),
            f(c.others_s),
        );
        let deliveries = self.delivery.count as f64;
        let server_total: f64 = c.servers_s.iter().flatten().sum();
        if deliveries > 0.0 && !c.servers_s.is_empty() {
            let _ = writeln!(
                o,
                "  cpu per delivery: server {:.1} us, load generator {} us",
                server_total * 1e6 / deliveries,
                c.loadtest_s
                    .map_or("-".into(), |l| format!("{:.1}", l * 1e6 / deliveries)),
            );
        }
    }

    /// The load generator's own send lag, the first errors, and the result.
    fn write_verdict(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "  load generator send lag max {} ms",
            ms(Some(self.send_lag_max_us))
        );
        for e in self
            .connect_errors
            .iter()
            .chain(&self.disconnects)
            .chain(&self.server_error_samples)
        {
            let _ = writeln!(o, "  ! {e}");
        }
        let _ = writeln!(
            o,
            "RESULT: {}",
            if self.passed {
                "PASS".to_string()
            } else {
                format!("FAIL ({})", self.failures.join("; "))
            }
        );
    }
}
