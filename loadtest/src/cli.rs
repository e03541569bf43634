//! Command-line options, parsed with `clap` (derive); every flag name and default of the
//! hand-written parser it replaced is kept (scripts use them: `loadtest/smoke.sh`,
//! `loadtest/bench.sh`, `../shared/peers/run.sh`).

use clap::{Parser, ValueEnum};
use std::time::Duration;

/// What `--help` prints after the options.
const AFTER_HELP: &str = "\
Scenarios (--scenario, default one-session):
  one-session     N viewers (default 10000) in one session, one sender
  many-sessions   --sessions S (default 1000) sessions, N viewers in all (default 10000)
  rtt             N viewers (default 100) in one session, each pinging; sender measures echo
  split           like one-session, viewers alternate over the --url servers (needs >= 2);
                  the sender is on the first one

Exit status: 0 pass; 1 lost, duplicated or unexpected broadcasts, failed connections,
disconnects or rejected commands; 2 bad usage or setup error; 3 global timeout.";

/// Which load shape to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// 1 × N.
    OneSession,
    /// S × N/S.
    ManySessions,
    /// 100 viewers, pings and echo round trip.
    Rtt,
    /// 1 × N over several servers sharing one Redis.
    Split,
}

/// A number parser accepting finite values in `lo..=hi`.
fn bounded(lo: f64, hi: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    move |v: &str| match v.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("expected a number from {lo} to {hi}")),
    }
}

/// WebSocket load generator for the watch-party server (real protocol).
#[derive(Debug, Parser)]
#[command(name = "loadtest", after_help = AFTER_HELP)]
struct Args {
    /// Server (http://host:port, loopback only); repeat for split [default http://127.0.0.1:3000]
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// The load shape (see below)
    #[arg(long, value_enum, default_value = "one-session")]
    scenario: Scenario,
    /// Viewers in all (the senders included) [default: rtt 100, else 10000]
    #[arg(long, value_name = "N", value_parser = bounded(1.0, 1e6))]
    viewers: Option<f64>,
    /// Sessions (viewer i joins session i mod S) [default: many-sessions 1000, else 1]
    #[arg(long, value_name = "S", value_parser = bounded(1.0, 1e6))]
    sessions: Option<f64>,
    /// Use this existing session instead of creating one (one session only)
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// New connections per second
    #[arg(long, value_name = "R", default_value = "1000", value_parser = bounded(1.0, 1e6))]
    connect_rate: f64,
    /// One command per session every MS, open loop
    #[arg(long, value_name = "MS", default_value = "500", value_parser = bounded(1.0, 3.6e6))]
    interval_ms: f64,
    /// Seconds of commands
    #[arg(long, value_name = "S", default_value = "30", value_parser = bounded(0.0, 86_400.0))]
    duration: f64,
    /// At most K commands per session (caps --duration)
    #[arg(long, value_name = "K", value_parser = bounded(0.0, 1e6))]
    commands: Option<f64>,
    /// Every viewer sends a Ping every MS (0: off) [rtt: 200, else 0]
    #[arg(long, value_name = "MS", value_parser = bounded(0.0, 3.6e6))]
    ping_interval_ms: Option<f64>,
    /// Every viewer reports a health change (`status`, alternating in sync / buffering) every
    /// MS (0: off); the report counts the `roster` messages and bytes each viewer receives
    #[arg(long, value_name = "MS", default_value = "0", value_parser = bounded(0.0, 3.6e6))]
    status_interval_ms: f64,
    /// Idle seconds after connecting, before memory is read
    #[arg(long, value_name = "S", default_value = "2", value_parser = bounded(0.0, 3600.0))]
    settle: f64,
    /// Seconds to wait for late broadcasts after the last command
    #[arg(long, value_name = "S", default_value = "5", value_parser = bounded(0.0, 3600.0))]
    drain: f64,
    /// Hard limit for the whole run [default: computed]
    #[arg(long, value_name = "S", value_parser = bounded(1.0, 86_400.0))]
    timeout: Option<f64>,
    /// Server process for VmRSS (repeat, in --url order)
    #[arg(long = "server-pid", value_name = "PID", value_parser = bounded(1.0, u32::MAX as f64))]
    server_pids: Vec<f64>,
    /// Video of created sessions
    #[arg(long, value_name = "ID", default_value = "dQw4w9WgXcQ")]
    video: String,
    /// Print the result as JSON on stdout (progress stays on stderr)
    #[arg(long)]
    json: bool,
    /// No progress lines
    #[arg(long)]
    quiet: bool,
    /// Also write the delivery latency distribution as an SVG histogram
    #[arg(long, value_name = "FILE")]
    svg: Option<String>,
}

/// Everything a run needs, defaults resolved.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Config {
    /// Servers, `http://host:port`.
    pub urls: Vec<String>,
    /// The load shape.
    pub scenario: Scenario,
    /// Connections in all.
    pub viewers: usize,
    /// Sessions.
    pub sessions: usize,
    /// An existing session to use.
    pub session: Option<String>,
    /// Connections opened per second.
    pub connect_rate: f64,
    /// Time between two commands of one session.
    #[serde(rename = "interval_ms", serialize_with = "ser_ms")]
    pub interval: Duration,
    /// Commands per session.
    pub commands: u32,
    /// Ping period of every viewer (`None`: no pings).
    #[serde(rename = "ping_interval_ms", serialize_with = "ser_opt_ms")]
    pub ping_interval: Option<Duration>,
    /// Health-change period of every viewer (`None`: none).
    #[serde(rename = "status_interval_ms", serialize_with = "ser_opt_ms")]
    pub status_interval: Option<Duration>,
    /// Idle time after connecting.
    #[serde(rename = "settle_ms", serialize_with = "ser_ms")]
    pub settle: Duration,
    /// Wait for late broadcasts.
    #[serde(rename = "drain_ms", serialize_with = "ser_ms")]
    pub drain: Duration,
    /// Hard limit of the run.
    #[serde(rename = "timeout_ms", serialize_with = "ser_ms")]
    pub timeout: Duration,
    /// Server processes, in `urls` order.
    pub server_pids: Vec<u32>,
    /// Video of created sessions.
    pub video: String,
    /// JSON output.
    pub json: bool,
    /// No progress output.
    pub quiet: bool,
    /// Write the delivery latency distribution as an SVG here.
    pub svg: Option<String>,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

fn ser_opt_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_millis() as u64),
        None => s.serialize_none(),
    }
}

/// Why the command line was refused.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Not parsable (or `--help`: clap prints it and exits 0 through [`clap::Error::exit`]).
    #[error(transparent)]
    Clap(#[from] clap::Error),
    /// Options that do not fit together.
    #[error("{0}")]
    Conflict(String),
}

/// Parses the arguments (with the program name first, as `std::env::args()` gives them).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Config, CliError> {
    let a = Args::try_parse_from(args)?;
    let scenario = a.scenario;
    let mut urls = a.urls;
    if urls.is_empty() {
        urls.push("http://127.0.0.1:3000".into());
    }
    let viewers = a.viewers.map_or(
        match scenario {
            Scenario::Rtt => 100,
            _ => 10_000,
        },
        |v| v as usize,
    );
    let sessions = a.sessions.map_or(
        match scenario {
            Scenario::ManySessions => 1_000,
            _ => 1,
        },
        |s| s as usize,
    );
    if sessions > viewers {
        return Err(CliError::Conflict(format!(
            "{sessions} sessions need at least as many viewers (got {viewers})"
        )));
    }
    if scenario == Scenario::Split && urls.len() < 2 {
        return Err(CliError::Conflict("split needs two --url".into()));
    }
    if a.session.is_some() && sessions != 1 {
        return Err(CliError::Conflict(
            "--session works with one session only".into(),
        ));
    }
    let interval_ms = a.interval_ms as u64;
    let interval = Duration::from_millis(interval_ms);
    let by_duration = (a.duration * 1000.0 / interval_ms as f64).floor() as u32;
    let commands = a
        .commands
        .map_or(by_duration, |c| (c as u32).min(by_duration));
    let ping_ms = a
        .ping_interval_ms
        .map_or(if scenario == Scenario::Rtt { 200 } else { 0 }, |p| {
            p as u64
        });
    let ping_interval = (ping_ms > 0).then(|| Duration::from_millis(ping_ms));
    let status_ms = a.status_interval_ms as u64;
    let connect_time = viewers as f64 / a.connect_rate;
    let commands_time = commands as f64 * interval_ms as f64 / 1000.0;
    let timeout = Duration::from_secs_f64(a.timeout.unwrap_or(
        connect_time * 2.0 + a.settle + commands_time + a.drain + sessions as f64 / 50.0 + 60.0,
    ));
    Ok(Config {
        urls,
        scenario,
        viewers,
        sessions,
        session: a.session,
        connect_rate: a.connect_rate,
        interval,
        commands,
        ping_interval,
        status_interval: (status_ms > 0).then(|| Duration::from_millis(status_ms)),
        settle: Duration::from_secs_f64(a.settle),
        drain: Duration::from_secs_f64(a.drain),
        timeout,
        server_pids: a.server_pids.into_iter().map(|p| p as u32).collect(),
        video: a.video,
        json: a.json,
        quiet: a.quiet,
        svg: a.svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Config, CliError> {
        parse(std::iter::once("loadtest".to_string()).chain(args.iter().map(|s| s.to_string())))
    }

    fn kind(r: Result<Config, CliError>) -> Option<clap::error::ErrorKind> {
        match r {
            Err(CliError::Clap(e)) => Some(e.kind()),
            _ => None,
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_per_scenario() {
        let c = p(&[]).unwrap();
        assert_eq!(c.scenario, Scenario::OneSession);
        assert_eq!((c.viewers, c.sessions, c.commands), (10_000, 1, 60));
        assert_eq!(c.urls, vec!["http://127.0.0.1:3000"]);
        assert_eq!(c.ping_interval, None);
        let m = p(&["--scenario", "many-sessions"]).unwrap();
        assert_eq!((m.viewers, m.sessions), (10_000, 1_000));
        let r = p(&["--scenario=rtt"]).unwrap();
        assert_eq!(r.viewers, 100);
        assert_eq!(r.ping_interval, Some(Duration::from_millis(200)));
        assert_eq!(c.status_interval, None);
        let s = p(&["--status-interval-ms", "2000"]).unwrap();
        assert_eq!(s.status_interval, Some(Duration::from_millis(2000)));
    }

    #[test]
    fn options_and_limits() {
        let c = p(&[
            "--viewers",
            "200",
            "--commands",
            "5",
            "--interval-ms=100",
            "--url",
            "http://127.0.0.1:1",
            "--url",
            "http://127.0.0.1:2",
            "--scenario",
            "split",
            "--server-pid",
            "42",
            "--json",
        ])
        .unwrap();
        assert_eq!((c.viewers, c.commands, c.urls.len()), (200, 5, 2));
        assert_eq!(c.interval, Duration::from_millis(100));
        assert_eq!(c.server_pids, vec![42]);
        assert!(c.json);
        // Every flag the scripts use (peers/run.sh, smoke.sh, bench.sh).
        let c = p(&[
            "--scenario",
            "one-session",
            "--viewers",
            "10000",
            "--connect-rate",
            "1000",
            "--interval-ms",
            "500",
            "--duration",
            "20",
            "--ping-interval-ms",
            "200",
            "--server-pid",
            "7",
            "--json",
            "--quiet",
            "--settle",
            "1",
            "--drain",
            "2",
            "--timeout",
            "100",
            "--svg",
            "x.svg",
            "--session",
            "abc",
            "--video",
            "v",
            "--status-interval-ms",
            "0",
        ])
        .unwrap();
        assert_eq!(
            (c.commands, c.settle, c.timeout),
            (40, Duration::from_secs(1), Duration::from_secs(100))
        );
        // --commands is capped by --duration.
        let c = p(&["--commands", "1000", "--duration", "2"]).unwrap();
        assert_eq!(c.commands, 4);
        use clap::error::ErrorKind;
        assert_eq!(kind(p(&["--help"])), Some(ErrorKind::DisplayHelp));
        assert_eq!(kind(p(&["--bogus"])), Some(ErrorKind::UnknownArgument));
        assert!(kind(p(&["--viewers"])).is_some());
        assert_eq!(
            kind(p(&["--viewers", "0"])),
            Some(ErrorKind::ValueValidation)
        );
        assert_eq!(
            kind(p(&["--connect-rate", "NaN"])),
            Some(ErrorKind::ValueValidation)
        );
        assert_eq!(
            kind(p(&["--scenario", "nope"])),
            Some(ErrorKind::InvalidValue)
        );
        assert!(matches!(
            p(&["--scenario", "split"]),
            Err(CliError::Conflict(_))
        ));
        assert!(matches!(
            p(&["--sessions", "20", "--viewers", "10"]),
            Err(CliError::Conflict(_))
        ));
    }
}
