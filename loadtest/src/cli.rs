//! Command-line options (hand-parsed to keep the load generator lean).

use std::time::Duration;

/// The usage text.
pub const USAGE: &str = "\
loadtest: WebSocket load generator for the watch-party server (real protocol).

USAGE: loadtest [OPTIONS]

Scenarios (--scenario, default one-session):
  one-session     N viewers (default 10000) in one session, one sender
  many-sessions   --sessions S (default 1000) sessions, N viewers in all (default 10000)
  rtt             N viewers (default 100) in one session, each pinging; sender measures echo
  split           like one-session, viewers alternate over the --url servers (needs >= 2);
                  the sender is on the first one

OPTIONS:
  --url URL              server (http://host:port, loopback only); repeat for split
                         [default http://127.0.0.1:3000]
  --scenario NAME        see above
  --viewers N            viewers in all (the senders included)
  --sessions S           sessions (viewer i joins session i mod S)
  --session ID           use this existing session instead of creating one (one session only)
  --connect-rate R       new connections per second [default 1000]
  --interval-ms MS       one command per session every MS, open loop [default 500]
  --duration S           seconds of commands [default 30]
  --commands K           at most K commands per session (caps --duration)
  --ping-interval-ms MS  every viewer sends a Ping every MS (0: off) [rtt: 200, else 0]
  --status-interval-ms MS  every viewer reports a health change (`status`, alternating in
                         sync / buffering) every MS (0: off) [default 0]; the report counts
                         the `roster` messages and bytes each viewer receives
  --settle S             idle seconds after connecting, before memory is read [default 2]
  --drain S              seconds to wait for late broadcasts after the last command [default 5]
  --timeout S            hard limit for the whole run [default: computed]
  --server-pid PID       server process for VmRSS (repeat, in --url order)
  --video ID             video of created sessions [default dQw4w9WgXcQ]
  --json                 print the result as JSON on stdout (progress stays on stderr)
  --quiet                no progress lines
  --svg FILE             also write the delivery latency distribution as an SVG histogram
  -h, --help             this text

Exit status: 0 pass; 1 lost, duplicated or unexpected broadcasts, failed connections,
disconnects or rejected commands; 2 bad usage or setup error; 3 global timeout.
";

/// Which load shape to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
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

impl Scenario {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "one-session" => Self::OneSession,
            "many-sessions" => Self::ManySessions,
            "rtt" => Self::Rtt,
            "split" => Self::Split,
            _ => return None,
        })
    }
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
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum CliError {
    /// `--help`.
    #[error("help requested")]
    Help,
    /// Unknown option.
    #[error("unknown option {0:?}")]
    Unknown(String),
    /// Option without its value.
    #[error("{0} needs a value")]
    Missing(String),
    /// Unparsable or out-of-range value.
    #[error("bad value {1:?} for {0}")]
    Bad(String, String),
    /// Options that do not fit together.
    #[error("{0}")]
    Conflict(String),
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Config, CliError> {
    let mut urls = Vec::new();
    let mut scenario = Scenario::OneSession;
    let mut viewers: Option<usize> = None;
    let mut sessions: Option<usize> = None;
    let mut session = None;
    let mut connect_rate = 1000.0;
    let mut interval_ms = 500u64;
    let mut duration_s = 30.0f64;
    let mut commands: Option<u32> = None;
    let mut ping_ms: Option<u64> = None;
    let mut status_ms = 0u64;
    let mut settle_s = 2.0f64;
    let mut drain_s = 5.0f64;
    let mut timeout_s: Option<f64> = None;
    let mut server_pids = Vec::new();
    let mut video = "dQw4w9WgXcQ".to_string();
    let mut json = false;
    let mut quiet = false;
    let mut svg = None;

    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, CliError> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().ok_or_else(|| CliError::Missing(name.clone())),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Err(CliError::Help),
            "--json" => json = true,
            "--quiet" => quiet = true,
            "--svg" => svg = Some(value()?),
            "--url" => urls.push(value()?),
            "--scenario" => {
                let v = value()?;
                scenario = Scenario::parse(&v).ok_or(CliError::Bad(name.clone(), v))?;
            }
            "--viewers" => viewers = Some(num(&name, value()?, 1.0, 1e6)? as usize),
            "--sessions" => sessions = Some(num(&name, value()?, 1.0, 1e6)? as usize),
            "--session" => session = Some(value()?),
            "--connect-rate" => connect_rate = num(&name, value()?, 1.0, 1e6)?,
            "--interval-ms" => interval_ms = num(&name, value()?, 1.0, 3.6e6)? as u64,
            "--duration" => duration_s = num(&name, value()?, 0.0, 86_400.0)?,
            "--commands" => commands = Some(num(&name, value()?, 0.0, 1e6)? as u32),
            "--ping-interval-ms" => ping_ms = Some(num(&name, value()?, 0.0, 3.6e6)? as u64),
            "--status-interval-ms" => status_ms = num(&name, value()?, 0.0, 3.6e6)? as u64,
            "--settle" => settle_s = num(&name, value()?, 0.0, 3600.0)?,
            "--drain" => drain_s = num(&name, value()?, 0.0, 3600.0)?,
            "--timeout" => timeout_s = Some(num(&name, value()?, 1.0, 86_400.0)?),
            "--server-pid" => server_pids.push(num(&name, value()?, 1.0, u32::MAX as f64)? as u32),
            "--video" => video = value()?,
            _ => return Err(CliError::Unknown(arg)),
        }
    }

    if urls.is_empty() {
        urls.push("http://127.0.0.1:3000".into());
    }
    let default_viewers = match scenario {
        Scenario::Rtt => 100,
        _ => 10_000,
    };
    let viewers = viewers.unwrap_or(default_viewers);
    let sessions = sessions.unwrap_or(match scenario {
        Scenario::ManySessions => 1_000,
        _ => 1,
    });
    if sessions > viewers {
        return Err(CliError::Conflict(format!(
            "{sessions} sessions need at least as many viewers (got {viewers})"
        )));
    }
    if scenario == Scenario::Split && urls.len() < 2 {
        return Err(CliError::Conflict("split needs two --url".into()));
    }
    if session.is_some() && sessions != 1 {
        return Err(CliError::Conflict(
            "--session works with one session only".into(),
        ));
    }
    let interval = Duration::from_millis(interval_ms);
    let by_duration = (duration_s * 1000.0 / interval_ms as f64).floor() as u32;
    let commands = commands.map_or(by_duration, |c| c.min(by_duration));
    let ping_ms = ping_ms.unwrap_or(if scenario == Scenario::Rtt { 200 } else { 0 });
    let ping_interval = (ping_ms > 0).then(|| Duration::from_millis(ping_ms));
    let settle = Duration::from_secs_f64(settle_s);
    let drain = Duration::from_secs_f64(drain_s);
    let connect_time = viewers as f64 / connect_rate;
    let commands_time = commands as f64 * interval_ms as f64 / 1000.0;
    let timeout = Duration::from_secs_f64(timeout_s.unwrap_or(
        connect_time * 2.0 + settle_s + commands_time + drain_s + sessions as f64 / 50.0 + 60.0,
    ));
    Ok(Config {
        urls,
        scenario,
        viewers,
        sessions,
        session,
        connect_rate,
        interval,
        commands,
        ping_interval,
        status_interval: (status_ms > 0).then(|| Duration::from_millis(status_ms)),
        settle,
        drain,
        timeout,
        server_pids,
        video,
        json,
        quiet,
        svg,
    })
}

fn num(name: &str, v: String, lo: f64, hi: f64) -> Result<f64, CliError> {
    match v.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (lo..=hi).contains(&n) => Ok(n),
        _ => Err(CliError::Bad(name.into(), v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Config, CliError> {
        parse(args.iter().map(|s| s.to_string()))
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
        // --commands is capped by --duration.
        let c = p(&["--commands", "1000", "--duration", "2"]).unwrap();
        assert_eq!(c.commands, 4);
        assert_eq!(p(&["--help"]), Err(CliError::Help));
        assert!(matches!(p(&["--bogus"]), Err(CliError::Unknown(_))));
        assert!(matches!(p(&["--viewers"]), Err(CliError::Missing(_))));
        assert!(matches!(p(&["--viewers", "0"]), Err(CliError::Bad(..))));
        assert!(matches!(
            p(&["--connect-rate", "NaN"]),
            Err(CliError::Bad(..))
        ));
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
