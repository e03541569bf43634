//! The run: create sessions, open connections at the configured rate, settle, read server
//! memory, run the open-loop command schedule, drain, stop, and account.

use crate::cli::Config;
use crate::conn::{self, Counters, Outcome, Phase, SessionShared, Spec};
use crate::procfs;
use crate::report::{CpuReport, MemoryReport, Report, RosterReport, UrlReport};
use crate::stats::{Fanout, Summary};
use crate::target::{Target, TargetError};
use futures::StreamExt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use watchparty_core::ids::SessionId;

/// Sessions created concurrently.
const CREATE_CONCURRENCY: usize = 16;
/// File descriptors the load generator needs besides its connections.
const SPARE_FDS: u64 = 64;
/// Extra time after the scheduled end of the commands for the last send to happen.
const SEND_SLACK: Duration = Duration::from_secs(2);

/// The run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A server could not be reached or used.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// `--session` is not a session id.
    #[error("--session: not a valid session id")]
    BadSession,
    /// Not enough file descriptors for the connections.
    #[error(
        "{needed} connections need `ulimit -n` of at least {need_fds}, this process has {limit}"
    )]
    FdLimit {
        /// Connections requested.
        needed: usize,
        /// Descriptors needed.
        need_fds: u64,
        /// The soft limit.
        limit: u64,
    },
}

/// Runs the scenario described by `cfg`, printing progress to stderr unless quiet.
pub async fn run(cfg: Config) -> Result<Report, RunError> {
    let t_start = Instant::now();
    crate::clock::base();
    if let Some(limit) = procfs::open_files_limit() {
        let need_fds = cfg.viewers as u64 + SPARE_FDS;
        if limit < need_fds {
            return Err(RunError::FdLimit {
                needed: cfg.viewers,
                need_fds,
                limit,
            });
        }
    }
    let mut targets = Vec::with_capacity(cfg.urls.len());
    for url in &cfg.urls {
        targets.push(Arc::new(Target::resolve(url).await?));
    }

    // Sessions, created through the real server function on the first server.
    let ids: Vec<SessionId> = match &cfg.session {
        Some(s) => vec![SessionId::parse(s).map_err(|_| RunError::BadSession)?],
        None => {
            let first = targets[0].clone();
            let video = cfg.video.clone();
            let created: Vec<Result<SessionId, TargetError>> =
                futures::stream::iter(0..cfg.sessions)
                    .map(|_| {
                        let t = first.clone();
                        let v = video.clone();
                        async move { t.create_session(&v).await }
                    })
                    .buffer_unordered(CREATE_CONCURRENCY)
                    .collect()
                    .await;
            created.into_iter().collect::<Result<_, _>>()?
        }
    };
    let sessions: Vec<Arc<SessionShared>> = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| Arc::new(SessionShared::new(id, i, cfg.commands)))
        .collect();
    let n_sessions = sessions.len();

    let rss_before: Vec<Option<u64>> = cfg
        .server_pids
        .iter()
        .map(|p| procfs::vm_rss_kib(*p))
        .collect();
    let counters = Arc::new(Counters::default());
    let (phase_tx, phase_rx) = watch::channel(Phase::Connect);
    let progress = (!cfg.quiet).then(|| {
        tokio::spawn(progress_loop(
            counters.clone(),
            cfg.viewers,
            phase_rx.clone(),
        ))
    });

    // Connect at a controlled rate. Viewer i joins session i mod S; within a session the
    // viewers alternate over the servers, its first viewer (the sender) on the first server.
    let connect_start = Instant::now();
    let per_conn = Duration::from_secs_f64(1.0 / cfg.connect_rate);
    let mut tasks = Vec::with_capacity(cfg.viewers);
    for i in 0..cfg.viewers {
        let session = sessions[i % n_sessions].clone();
        let rank = i / n_sessions;
        let url = rank % targets.len();
        let spec = Spec {
            index: i,
            url,
            target: targets[url].clone(),
            sender: rank == 0,
            offset: cfg
                .interval
                .mul_f64(session.index as f64 / n_sessions as f64),
            interval: cfg.interval,
            ping: cfg.ping_interval,
            status: cfg.status_interval,
            session,
        };
        tokio::time::sleep_until(connect_start + per_conn * i as u32).await;
        tasks.push(tokio::spawn(conn::run(
            spec,
            phase_rx.clone(),
            counters.clone(),
        )));
    }
    // Wait until every connection has its Hello or has failed.
    let connect_deadline = connect_start + Duration::from_secs(60) + per_conn * cfg.viewers as u32;
    while (counters.connected.load(Relaxed) + counters.failed.load(Relaxed)) < cfg.viewers as u64
        && Instant::now() < connect_deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connect_wall = connect_start.elapsed();

    // Idle: let the server settle, then read its memory.
    tokio::time::sleep(cfg.settle).await;
    let rss_after: Vec<Option<u64>> = cfg
        .server_pids
        .iter()
        .map(|p| procfs::vm_rss_kib(*p))
        .collect();

    // Commands: a fixed schedule from one start instant. CPU use is measured over this phase.
    let cpu_before = CpuSnapshot::take(&cfg.server_pids);
    let start = Instant::now() + Duration::from_millis(100);
    let _ = phase_tx.send(Phase::Commands(start));
    let expected_sends = cfg.commands as u64 * n_sessions as u64;
    let sends_done = start + cfg.interval * cfg.commands + SEND_SLACK;
    while counters.sent.load(Relaxed) < expected_sends && Instant::now() < sends_done {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Drain: until every live viewer has every command, or the drain time is up.
    let drain_end = Instant::now() + cfg.drain;
    loop {
        let expected: u64 = sessions
            .iter()
            .map(|s| s.sent_count() * s.live.load(Relaxed))
            .sum();
        if counters.received.load(Relaxed) >= expected || Instant::now() >= drain_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu = CpuSnapshot::take(&cfg.server_pids).since(&cpu_before);
    let _ = phase_tx.send(Phase::Stop);
    let mut outcomes = Vec::with_capacity(tasks.len());
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(10), t).await {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(e)) => outcomes.push(Outcome {
                connect_error: Some(format!("task failed: {e}")),
                ..Outcome::default()
            }),
            Err(_) => outcomes.push(Outcome {
                connect_error: Some("task did not stop".into()),
                ..Outcome::default()
            }),
        }
    }
    if let Some(p) = progress {
        p.abort();
    }

    let measured = Measured {
        connect_wall,
        rss_before,
        rss_after,
        cpu,
        elapsed: t_start.elapsed(),
    };
    Ok(account(&cfg, &sessions, outcomes, &counters, measured))
}

/// Whole-run measurements taken by the orchestrator.
struct Measured {
    connect_wall: Duration,
    rss_before: Vec<Option<u64>>,
    rss_after: Vec<Option<u64>>,
    cpu: CpuReport,
    elapsed: Duration,
}

/// CPU counters at one instant.
struct CpuSnapshot {
    at: Instant,
    servers: Vec<Option<u64>>,
    own: Option<u64>,
    machine: Option<(u64, u64)>,
}

impl CpuSnapshot {
    fn take(pids: &[u32]) -> Self {
        Self {
            at: Instant::now(),
            servers: pids.iter().map(|p| procfs::process_cpu_ticks(*p)).collect(),
            own: procfs::process_cpu_ticks(std::process::id()),
            machine: procfs::machine_cpu_ticks(),
        }
    }

    /// CPU seconds used between `before` and this snapshot.
    fn since(&self, before: &CpuSnapshot) -> CpuReport {
        let secs = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.saturating_sub(b) as f64 / procfs::TICKS_PER_SEC),
            _ => None,
        };
        let servers_s: Vec<Option<f64>> = self
            .servers
            .iter()
            .zip(&before.servers)
            .map(|(a, b)| secs(*a, *b))
            .collect();
        let loadtest_s = secs(self.own, before.own);
        let machine_busy_s = secs(self.machine.map(|m| m.0), before.machine.map(|m| m.0));
        let others_s = machine_busy_s.map(|m| {
            let ours: f64 = servers_s.iter().flatten().sum::<f64>() + loadtest_s.unwrap_or(0.0);
            (m - ours).max(0.0)
        });
        CpuReport {
            window_s: self.at.duration_since(before.at).as_secs_f64(),
            cores: procfs::cpus(),
            servers_s,
            loadtest_s,
            machine_busy_s,
            others_s,
        }
    }
}

/// Prints one progress line per second to stderr.
async fn progress_loop(counters: Arc<Counters>, viewers: usize, phase: watch::Receiver<Phase>) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let name = match *phase.borrow() {
            Phase::Connect => "connect",
            Phase::Commands(_) => "commands",
            Phase::Stop => "stop",
        };
        eprintln!(
            "[{:>6.1}s] {name:<8} connected {}/{viewers} failed {} dropped {} | sent {} received {} pongs {} errors {}",
            start.elapsed().as_secs_f64(),
            counters.connected.load(Relaxed),
            counters.failed.load(Relaxed),
            counters.disconnected.load(Relaxed),
            counters.sent.load(Relaxed),
            counters.received.load(Relaxed),
            counters.pongs.load(Relaxed),
            counters.server_errors.load(Relaxed),
        );
    }
}

/// Turns the outcomes into the report.
fn account(
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
    let connect_times: Vec<u64> = outcomes.iter().filter_map(|o| o.connect_us).collect();
    let connected = connect_times.len();
    let mut connect_errors: Vec<String> = Vec::new();
    let mut failed = 0u64;
    for o in &outcomes {
        if let Some(e) = &o.connect_error {
            failed += 1;
            if connect_errors.len() < 5 {
                connect_errors.push(e.clone());
            }
        }
    }
    let mut disconnects: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.disconnect.clone())
        .collect();
    let disconnected = disconnects.len() as u64;
    disconnects.truncate(5);

    // Fan-out, per session, over connected viewers only; and the same per server.
    let mut total = Fanout::default();
    let mut per_url: Vec<Fanout> = (0..cfg.urls.len()).map(|_| Fanout::default()).collect();
    let mut by_session: Vec<Vec<&Outcome>> = vec![Vec::new(); sessions.len()];
    for o in outcomes.iter().filter(|o| o.connect_us.is_some()) {
        if let Some(v) = by_session.get_mut(o.session) {
            v.push(o);
        }
    }
    let mut echo: Vec<u64> = Vec::new();
    let mut send_lag_max_us = 0;
    for (s, viewers) in sessions.iter().zip(&by_session) {
        let sent = s.send_times();
        total.merge(Fanout::account(&sent, viewers.iter().map(|o| &o.receipts)));
        for (u, fan) in per_url.iter_mut().enumerate() {
            let on_url = viewers.iter().filter(|o| o.url == u).map(|o| &o.receipts);
            let mut f = Fanout::account(&sent, on_url);
            // Commands are counted once, in the total.
            f.commands = 0;
            fan.merge(f);
        }
        // The sender's own receipts give the command → echo round trip.
        if let Some(sender) = viewers.iter().find(|o| o.sender) {
            send_lag_max_us = send_lag_max_us.max(sender.send_lag_max_us);
            for (i, t) in sent.iter().enumerate() {
                if let (Some(t), Some(r)) = (t, sender.receipts.get(i as u32 + 1)) {
                    echo.push(r.saturating_sub(*t));
                }
            }
        }
    }
    let pings: Vec<u64> = outcomes
        .iter()
        .flat_map(|o| o.pings_us.iter().copied())
        .collect();
    let server_errors: u64 = outcomes.iter().map(|o| o.error_count).sum();
    let mut error_samples: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.errors.iter().cloned())
        .collect();
    error_samples.truncate(5);
    let bad_messages: u64 = outcomes.iter().map(|o| o.bad_messages).sum();
    let roster = RosterReport {
        statuses_sent: outcomes.iter().map(|o| o.statuses_sent).sum(),
        messages: outcomes.iter().map(|o| o.roster_msgs).sum(),
        bytes: outcomes.iter().map(|o| o.roster_bytes).sum(),
        max_per_viewer: outcomes.iter().map(|o| o.roster_msgs).max().unwrap_or(0),
    };

    let urls = cfg
        .urls
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
        .collect::<Vec<_>>();

    let memory = cfg
        .server_pids
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
        .collect();

    let mut failures = Vec::new();
    if failed > 0 {
        failures.push(format!("{failed} connections failed"));
    }
    if disconnected > 0 {
        failures.push(format!("{disconnected} connections dropped"));
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
    if server_errors > 0 {
        failures.push(format!("{server_errors} server errors"));
    }
    if bad_messages > 0 {
        failures.push(format!("{bad_messages} messages not understood"));
    }
    let expected_commands = cfg.commands as u64 * sessions.len() as u64;
    if total.commands < expected_commands {
        failures.push(format!(
            "only {} of {expected_commands} commands were sent",
            total.commands
        ));
    }

    if let Some(path) = &cfg.svg {
        let title = format!(
            "{:?}: {} viewers, {} sessions, {} servers",
            cfg.scenario,
            cfg.viewers,
            sessions.len(),
            cfg.urls.len()
        );
        if let Err(e) = std::fs::write(path, crate::svg::latency_svg(&total.deliveries_us, &title))
        {
            eprintln!("loadtest: cannot write {path}: {e}");
        }
    }
    Report {
        scenario: cfg.scenario,
        config: cfg.clone(),
        sessions: sessions.len(),
        viewers: cfg.viewers,
        connected,
        connect_failed: failed,
        connect_errors,
        connect: Summary::of(&connect_times),
        connect_wall_s: connect_wall.as_secs_f64(),
        commands_sent: total.commands,
        received: counters.received.load(Relaxed),
        last_viewer: Summary::of(&total.last_viewer_us),
        delivery: Summary::of(&total.deliveries_us),
        echo: Summary::of(&echo),
        ping: Summary::of(&pings),
        roster,
        lost: total.lost,
        duplicated: total.duplicated,
        unexpected: total.unexpected,
        disconnected,
        disconnects,
        server_errors,
        server_error_samples: error_samples,
        send_lag_max_us,
        urls,
        memory,
        cpu,
        elapsed_s: elapsed.as_secs_f64(),
        passed: failures.is_empty(),
        failures,
    }
}
